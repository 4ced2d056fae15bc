"""Hotline routes."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency

from core import TenantContext


@get("/api/v1/t/{tenant:str}/hotline", opt={"permission": "hotline:read"}, tags=["hotline"])
async def hotline_status(
    ctx: NamedDependency[TenantContext], plugin_settings: NamedDependency[dict[str, Any]]
) -> dict[str, Any]:
    """The hotline's numbers, purpose and script for the tenant."""
    return {
        "tenant": ctx.slug,
        "incident_name": plugin_settings["incident_name"],
        "numbers": plugin_settings["numbers"],
        "script": plugin_settings["script"],
        "abandon_target_percent": plugin_settings["abandon_target_percent"],
    }
