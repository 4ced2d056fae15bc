"""Intake routes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency

from plugins.intake.services import channel_summary


class IntakeChannelsController(Controller):
    path = "/api/v1/t/{tenant:str}/intake"
    tags = ("intake",)

    @get("/channels", opt={"permission": "intake:configure"})
    async def channels(self, plugin_settings: NamedDependency[dict[str, Any]]) -> dict[str, Any]:
        """The tenant's intake channels and SLA targets."""
        return channel_summary(plugin_settings)
