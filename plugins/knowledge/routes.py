"""Knowledge routes."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency


@get(
    "/api/v1/t/{tenant:str}/knowledge/settings",
    opt={"permission": "knowledge:read"},
    tags=["knowledge"],
)
async def knowledge_settings(plugin_settings: NamedDependency[dict[str, Any]]) -> dict[str, Any]:
    """Whether the tenant publishes a public FAQ, and the OCR languages."""
    return dict(plugin_settings)
