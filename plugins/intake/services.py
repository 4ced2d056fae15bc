"""Intake services. Channel set-up for now; inquiries and queues arrive with the intake issue."""

from __future__ import annotations

from typing import Any

import structlog

from core import TenantContext

__all__ = ["KNOWN_CHANNELS", "channel_summary", "check_channels"]

log = structlog.get_logger("madoguchi.intake")
KNOWN_CHANNELS = ("web", "email", "chat", "phone")


def channel_summary(settings: dict[str, Any]) -> dict[str, Any]:
    channels = [c for c in settings["channels"] if c in KNOWN_CHANNELS]
    return {
        "channels": channels,
        "unknown_channels": [c for c in settings["channels"] if c not in KNOWN_CHANNELS],
        "inbound_addresses": list(settings["inbound_addresses"]) if "email" in channels else [],
        "sla": {
            "first_response_minutes": settings["first_response_minutes"],
            "resolution_hours": settings["resolution_hours"],
        },
        "identity_verification": settings["identity_verification"],
    }


def check_channels(ctx: TenantContext, settings: dict[str, Any]) -> None:
    summary = channel_summary(settings)
    if summary["unknown_channels"]:
        log.warning(
            "intake_unknown_channels", tenant=ctx.slug, channels=summary["unknown_channels"]
        )
    if "email" in summary["channels"] and not summary["inbound_addresses"]:
        log.warning("intake_email_without_address", tenant=ctx.slug)
