"""Inbound e-mail addresses: each with one tenant only, checked when the settings are saved.

A tenant's ``inbound_addresses`` setting is mirrored, in the transaction that saves it, into
``intake_inbound_address``, whose address is unique across tenants: an address another client
holds is refused (naming the field) instead of one client's customer mail landing in
another's. Of two tenants saving one address at the same moment, the unique key lets one win.
The SMTP listener routes by these rows. A tenant that disables intake releases its addresses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import SettingsError, TenantContext
from plugins.intake.models import InboundAddress
from plugins.intake.normalize import InputError, normalise_email

__all__ = ["check_addresses", "claim_inbound_addresses", "tenant_addresses"]


def _one_address(value: str, field: str) -> str:
    try:
        address = normalise_email(value, field)
    except InputError:
        address = None
    if address is None:
        shown = value[:100].encode("unicode_escape").decode()  # a line break shows as \n
        raise SettingsError(field, f"{shown!r} is not one e-mail address")
    return address


def check_addresses(settings: dict[str, Any]) -> list[str]:
    """The inbound addresses, each exactly one address (lower-case, no duplicates); the
    sender address of replies too. Raises SettingsError naming the setting."""
    _one_address(settings["reply_from"], "reply_from")
    wanted = [_one_address(a, "inbound_addresses") for a in settings["inbound_addresses"]]
    return list(dict.fromkeys(wanted))


async def tenant_addresses(session: AsyncSession) -> list[str]:
    """The session tenant's inbound addresses, as the listener routes by them."""
    return list((await session.exec(select(InboundAddress.address))).all())


async def claim_inbound_addresses(
    session: AsyncSession, ctx: TenantContext, addresses: Iterable[str]
) -> None:
    """Make the tenant hold exactly ``addresses`` (normalised). An address another tenant
    holds raises SettingsError; the caller's transaction is then to be rolled back."""
    wanted = list(dict.fromkeys(addresses))
    held = {row.address: row for row in (await session.exec(select(InboundAddress))).all()}
    for address, row in held.items():
        if address not in wanted:
            await session.delete(row)
    await session.flush()
    for address in wanted:
        if address in held:
            continue
        session.add(InboundAddress(tenant_id=ctx.id, address=address))
        try:
            # one at a time, so the refusal can name the address; another transaction holding
            # it uncommitted makes this wait for its outcome (PostgreSQL), then win or fail
            await session.flush()
        except IntegrityError:
            raise SettingsError(
                "inbound_addresses", f"{address} is already the inbound address of another client"
            ) from None
