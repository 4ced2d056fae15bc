"""Hook implementations of the intake plugin; each delegates to a service."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from core import JobHandler, MenuItem, SettingsError, TenantContext, hookimpl
from plugins.intake import (
    chat,
    cli,
    contact,
    hookspecs,
    outbox,
    pages,
    routes,
    services,
    sla,
    verification,
    vocabulary_pages,
)
from plugins.intake.addresses import check_addresses, claim_inbound_addresses
from plugins.intake.vocabulary import VocabularyError, add_terms, seed_vocabulary


@hookimpl
def register_hookspecs() -> list[ModuleType | type]:
    """``resolve_queue`` and the inquiry notifications, for other plugins to implement."""
    return [hookspecs]


@hookimpl
def register_routes() -> list[Any]:
    return [
        routes.IntakeChannelsController,
        routes.InquiryController,
        routes.CallController,
        chat.ChatController,
        verification.VerificationController,
    ]


@hookimpl
def register_pages() -> list[Any]:
    return [
        contact.contact_form,
        contact.contact_submit,
        *pages.INTAKE_PAGES,
        *verification.VERIFICATION_PAGES,
        *vocabulary_pages.VOCABULARY_PAGES,
    ]


@hookimpl
def register_menu_items() -> list[MenuItem]:
    return [
        MenuItem(
            path="/inquiries", label="問い合わせ", label_en="Inquiries", permission="inquiry:read"
        ),
        MenuItem(
            path="/supervise",
            label="SVビュー",
            label_en="Supervisor view",
            permission="queue:supervise",
        ),
        MenuItem(
            path="/vocabulary",
            label="分類・タグ",
            label_en="Categories and tags",
            permission="vocabulary:configure",
        ),
    ]


@hookimpl
def on_plugin_enabled(ctx: TenantContext, plugin_id: str, settings: dict[str, Any]) -> None:
    if plugin_id == "intake":
        services.check_channels(ctx, settings)


@hookimpl
async def check_plugin_settings(
    ctx: TenantContext, session: AsyncSession, enabled: bool, settings: dict[str, Any]
) -> None:
    """The inbound addresses are the tenant's alone (released when intake is disabled); the
    tenant has a vocabulary, holding the kinds of inquiry its web form offers."""
    if settings["identity_verification"] and not settings["verification_fields"]:
        raise SettingsError("verification_fields", "name what the customer must enter")
    addresses = check_addresses(settings)
    await claim_inbound_addresses(session, ctx, addresses if enabled else [])
    if enabled:
        await seed_vocabulary(session, ctx)
        try:
            await add_terms(session, ctx, "category", settings["contact_categories"])
        except VocabularyError as exc:
            raise SettingsError("contact_categories", exc.message) from None


@hookimpl
def register_cli_commands() -> list[Any]:
    return [cli.intake]


@hookimpl
def register_jobs() -> list[JobHandler]:
    return [
        JobHandler(kind=outbox.SEND_REPLY, run=outbox.send_reply, max_attempts=8),
        JobHandler(kind=outbox.RECEIPT, run=outbox.send_receipt, max_attempts=8),
        JobHandler(kind=sla.SLA_CHECK, run=sla.check_sla, max_attempts=3),
    ]
