"""API shapes for tenants.

A tenant written through the API is a manifest (:mod:`core.tenancy.manifest`) as JSON: these
bodies state its shape, with the manifest's own patterns and ranges, so the document says what
the manifest accepts; what depends on the plugins (their settings) or on other tenants is
checked by the manifest afterwards (422 naming the field).
"""

# The optional fields below default to None without being typed ``| None``: left out, a field
# is None (not changed), but a JSON null is refused, as the document (which does not call them
# nullable) says.
# mypy: disable-error-code="assignment,arg-type"

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.strict_body import StrictBody
from core.tenancy.manifest import (
    COLOR_RE,
    HOURS_RE,
    LIMIT_MAX,
    SECURITY_RANGES,
    SLUG_RE,
    TenantStatusName,
)

__all__ = [
    "PluginChoiceIn",
    "PluginState",
    "TenantChanges",
    "TenantIn",
    "TenantRead",
    "TenantWriteResult",
]

_LIMIT = Field(default=None, ge=0, le=LIMIT_MAX, description="per user and hour; 0: none")
_PERMISSIONS = Field(default=None, max_length=100, description="permissions, object:action")


class PluginChoiceIn(StrictBody):
    enabled: bool = True
    settings: dict[str, Any] = Field(
        default_factory=dict, description="the plugin's settings (its manifest names them)"
    )


class RolesIn(StrictBody):
    """What each tenant role may do here, besides the plugins' proposals."""

    supervisor: list[str] = _PERMISSIONS
    operator: list[str] = _PERMISSIONS
    client_admin: list[str] = _PERMISSIONS
    client_viewer: list[str] = _PERMISSIONS


class SecurityIn(StrictBody):
    """Hourly limits (a soft limit warns, a hard one refuses; soft never above hard), the
    four-eyes window and how long an approved export can be fetched."""

    reveal_soft_limit: int = _LIMIT
    reveal_hard_limit: int = _LIMIT
    read_soft_limit: int = _LIMIT
    read_hard_limit: int = _LIMIT
    sod_window_days: int = Field(
        default=None,
        ge=SECURITY_RANGES["sod_window_days"][0],
        le=SECURITY_RANGES["sod_window_days"][1],
    )
    export_valid_hours: int = Field(
        default=None,
        ge=SECURITY_RANGES["export_valid_hours"][0],
        le=SECURITY_RANGES["export_valid_hours"][1],
    )


class TenantChanges(StrictBody):
    """The fields to change; the rest stay. ``plugins``, ``roles`` and ``security`` are
    merged into the tenant's (a plugin's settings too)."""

    slug: str = Field(default=None, pattern=SLUG_RE.pattern, description="cannot change")
    display_name: str = Field(default=None, min_length=1, max_length=200)
    display_name_en: str = Field(default=None, max_length=200)
    color: str = Field(default=None, pattern=COLOR_RE.pattern, description="like #1f6feb")
    retention_days: int = Field(default=None, ge=1, le=36500)
    working_hours: str = Field(
        default=None, pattern=f"^(?:{HOURS_RE.pattern[1:-1]})?$", description="like 09:00-18:00"
    )
    status: TenantStatusName = Field(default=None)
    plugins: dict[str, PluginChoiceIn] = Field(default=None, description="by plugin id")
    roles: RolesIn = Field(default=None)
    security: SecurityIn = Field(default=None)


class TenantIn(TenantChanges):
    """A new tenant: its manifest as JSON."""

    slug: str = Field(pattern=SLUG_RE.pattern, description="lower-case letters, digits and -")
    display_name: str = Field(min_length=1, max_length=200)


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
