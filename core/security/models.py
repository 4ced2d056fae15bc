"""Security alerts and four-eyes export requests."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlmodel import Field

from core.db.base import TenantScoped, TZDateTime, utcnow

__all__ = ["ExportRequest", "SecurityAlert"]


class SecurityAlert(TenantScoped, table=True):
    """Something a security officer should look at. ``detail`` never holds a personal value."""

    __tablename__ = "security_alert"
    # security officers review alerts of every tenant
    __cross_tenant__: ClassVar[str | None] = "security-review"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    kind: str = Field(max_length=32)  # canary, soft_limit, hard_limit, off_hours, export
    severity: str = Field(default="medium", max_length=16)
    user_id: int | None = Field(default=None)
    detail: str = Field(default="", max_length=500)
    acknowledged_by: int | None = Field(default=None)
    acknowledged_at: datetime | None = Field(default=None, sa_type=TZDateTime)


class ExportRequest(TenantScoped, table=True):
    """A bulk export that a second person must approve before it can be downloaded."""

    __tablename__ = "export_request"
    __cross_tenant__: ClassVar[str | None] = "security-review"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # customers
    reason: str = Field(max_length=500)
    status: str = Field(default="pending", max_length=16)  # pending approved rejected downloaded
    requested_by: int
    requested_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    decided_by: int | None = Field(default=None)
    decided_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    downloaded_at: datetime | None = Field(default=None, sa_type=TZDateTime)
