"""The tenant: one client company of the BPO vendor. A platform table, not tenant-scoped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Column, Field, SQLModel

from core.db.base import JSONType, TZDateTime, utcnow

__all__ = ["Tenant", "TenantStatus"]


class TenantStatus:
    ACTIVE = "active"
    SUSPENDED = "suspended"
    OFFBOARDED = "offboarded"
    ALL = (ACTIVE, SUSPENDED, OFFBOARDED)


class Tenant(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=63, unique=True, index=True)
    display_name: str = Field(max_length=200)
    display_name_en: str = Field(default="", max_length=200)
    color: str = Field(default="#1f6feb", max_length=7)
    status: str = Field(default=TenantStatus.ACTIVE, max_length=16)
    retention_days: int = Field(default=1095)
    working_hours: str = Field(default="", max_length=32)
    # exfiltration guard: per user per hour; 0 means no limit
    reveal_soft_limit: int = Field(default=20)
    reveal_hard_limit: int = Field(default=50)
    read_soft_limit: int = Field(default=500)
    read_hard_limit: int = Field(default=2000)
    # four-eyes export: requester and approver must not have made each other's account or
    # granted each other's role within this many days
    sod_window_days: int = Field(default=30)
    export_valid_hours: int = Field(default=24)  # an approved export can be fetched this long
    # the one client_admin made without a second person's approval, at onboarding
    onboarding_admin_id: int | None = Field(default=None, foreign_key="user_account.id")
    role_templates: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType))
    # bumped on every change of plugins or roles, so caches on every node notice it
    config_version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
