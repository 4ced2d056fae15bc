"""Security alerts, four-eyes export requests and the counts behind the hourly limits."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from core.db.base import TenantScoped, TZDateTime, tenant_id_field, utcnow

__all__ = ["AccessCount", "ExportRequest", "SecurityAlert"]


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


class AccessCount(TenantScoped, table=True):
    """A user's accesses of one kind in one clock hour, and the hour its once-an-hour alert
    was last raised. Limits and alerts are conditional updates of this row (see
    :mod:`core.security.guard`), so requests arriving together cannot all pass one count."""

    __tablename__ = "access_count"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "user_id", "kind"),)
    tenant_id: int = tenant_id_field(index=False)  # the unique key leads with it

    id: int | None = Field(default=None, primary_key=True)
    user_id: int  # 0: no signed-in user (the CLI, a job)
    kind: str = Field(max_length=32)  # pii.read, pii.reveal, off_hours
    hour: int = Field(default=0)  # hours since 1970-01-01 UTC (Japan's hours start with them)
    count: int = Field(default=0)  # accesses in ``hour``
    alerted_hour: int | None = Field(default=None)  # the soft-limit or off-hours alert
