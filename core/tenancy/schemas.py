"""API shapes for tenants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

__all__ = ["PluginState", "TenantRead", "TenantWriteResult"]


class PluginState(BaseModel):
    id: str
    enabled: bool
    settings: dict[str, Any]


class TenantRead(BaseModel):
    slug: str
    display_name: str
    display_name_en: str
    color: str
    status: str
    retention_days: int
    working_hours: str
    roles: dict[str, list[str]]
    security: dict[str, int]
    plugins: list[PluginState]
    created_at: datetime
    updated_at: datetime


class TenantWriteResult(BaseModel):
    tenant: TenantRead
    changes: list[str]
