"""Per-tenant plugin enabling: one row per (tenant, plugin), as saleor keeps it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field

from core.db.base import JSONType, TenantScoped, TZDateTime, utcnow

__all__ = ["TenantPlugin"]


class TenantPlugin(TenantScoped, table=True):
    __tablename__ = "tenant_plugin"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "plugin_id"),)

    id: int | None = Field(default=None, primary_key=True)
    plugin_id: str = Field(max_length=63)
    enabled: bool = Field(default=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
