"""Hook implementations of the intake plugin; each delegates to a service."""

from __future__ import annotations

from typing import Any

from core import TenantContext, hookimpl
from plugins.intake import cli, contact, routes, services


@hookimpl
def register_routes() -> list[Any]:
    return [routes.IntakeChannelsController, routes.InquiryController, routes.CallController]


@hookimpl
def register_pages() -> list[Any]:
    return [contact.contact_form, contact.contact_submit]


@hookimpl
def on_plugin_enabled(ctx: TenantContext, plugin_id: str, settings: dict[str, Any]) -> None:
    if plugin_id == "intake":
        services.check_channels(ctx, settings)


@hookimpl
def register_cli_commands() -> list[Any]:
    return [cli.intake]
