"""VOC routes."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency


@get("/api/v1/t/{tenant:str}/voc/schedule", opt={"permission": "report:read"}, tags=["voc"])
async def report_schedule(plugin_settings: NamedDependency[dict[str, Any]]) -> dict[str, Any]:
    """How often the tenant's report is made and how many recipients it has."""
    return {
        "schedule": plugin_settings["report_schedule"],
        "recipients": len(plugin_settings["report_recipients"]),
    }
