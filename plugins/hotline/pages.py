"""Hotline pages: the operator's script and numbers; the client's status section."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from core import TenantContext, page


@get("/t/{tenant:str}/hotline", opt={"permission": "hotline:read"}, include_in_schema=False)
async def hotline_page(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[TenantContext],
    plugin_settings: NamedDependency[dict[str, Any]],
) -> Template:
    return await page(
        request,
        "hotline/page.html",
        title=plugin_settings["incident_name"] or "Hotline",
        settings=plugin_settings,
    )


async def portal_section(
    ctx: TenantContext, session: Any, settings: dict[str, Any]
) -> dict[str, Any]:
    return {"incident": settings["incident_name"], "numbers": settings["numbers"]}
