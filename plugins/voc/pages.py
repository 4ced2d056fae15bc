"""VOC pages: the report schedule now; the reports themselves arrive with the VOC issue."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from core import TenantContext, page


@get("/t/{tenant:str}/voc", opt={"permission": "report:read"}, include_in_schema=False)
async def voc_page(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[TenantContext],
    plugin_settings: NamedDependency[dict[str, Any]],
) -> Template:
    return await page(request, "voc/page.html", title="VOC", settings=plugin_settings)


async def portal_section(
    ctx: TenantContext, session: Any, settings: dict[str, Any]
) -> dict[str, Any]:
    return {
        "schedule": settings["report_schedule"],
        "recipients": len(settings["report_recipients"]),
    }
