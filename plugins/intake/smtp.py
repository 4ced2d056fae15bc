"""The SMTP listener: ``madoguchi intake smtp``.

Accepts mail only for the inbound addresses that tenants configured (intake enabled with the
``email`` channel); anything else is refused at RCPT (550). A message is acknowledged (250)
only after its inquiry is committed; an unreadable one is refused (554) and changes nothing.
Replies thread onto the existing inquiry by Message-ID / In-Reply-To / References.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import structlog
from sqlmodel import col, select

from core import (
    Actor,
    Customer,
    PersonalData,
    PluginProcess,
    TenantContext,
    acting_as,
    new_uid,
)
from plugins.intake.addresses import tenant_addresses
from plugins.intake.mail import MailError, ParsedMail, parse_mail
from plugins.intake.models import Attachment, Inquiry, InquiryMessage
from plugins.intake.services import NewInquiry, add_inbound, create_inquiry

__all__ = ["IntakeSMTPHandler"]

log = structlog.get_logger("madoguchi.intake.smtp")
REFRESH_SECONDS = 30


class IntakeSMTPHandler:
    """An aiosmtpd handler on the intake plugin's :class:`core.PluginProcess` (made inside
    the loop that serves SMTP)."""

    def __init__(self, process: PluginProcess) -> None:
        self.process = process
        self._addresses: dict[str, tuple[TenantContext, dict[str, Any]]] = {}
        self._loaded = 0.0

    async def addresses(self) -> dict[str, tuple[TenantContext, dict[str, Any]]]:
        if time.monotonic() - self._loaded < REFRESH_SECONDS:
            return self._addresses
        found: dict[str, tuple[TenantContext, dict[str, Any]]] = {}
        for ctx, settings in await self.process.tenants():
            if "email" in settings["channels"]:
                # the rows, unique across tenants, not the settings: no address has two tenants
                async with self.process.session(ctx) as session:
                    for address in await tenant_addresses(session):
                        found[address] = (ctx, settings)
        self._addresses, self._loaded = found, time.monotonic()
        return found

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.strip().lower() not in await self.addresses():
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            mail = parse_mail(envelope.original_content or envelope.content)
        except MailError as exc:
            log.warning("mail_refused", reason=str(exc))
            return "554 5.6.0 Message could not be read"
        peer = session.peer[0] if session.peer else ""
        receipts = []
        known = await self.addresses()
        wanted = dict.fromkeys(a.strip().lower() for a in envelope.rcpt_tos)
        if any(a not in known for a in wanted):  # released since RCPT: nothing stored yet
            return "451 4.3.0 Mailbox moved, try again later"
        for ctx, settings in (known[a] for a in wanted):
            with acting_as(Actor(via="smtp", client_addr=peer)):
                receipts.append(await self._store(ctx, settings, mail))
        return f"250 2.0.0 Accepted {' '.join(receipts)}"

    async def _store(self, ctx: TenantContext, settings: dict[str, Any], mail: ParsedMail) -> str:
        relay = self.process.hooks(ctx, await self.process.enabled(ctx))
        async with self.process.session(ctx) as session:
            pd = self.process.personal_data(session, ctx)
            inquiry = await self._thread(session, pd, mail)
            created = inquiry is None
            if inquiry is None:
                inquiry = await create_inquiry(
                    session,
                    pd,
                    ctx,
                    settings,
                    NewInquiry(
                        channel="email",
                        subject=mail.subject or None,
                        body=mail.body,
                        name=mail.sender_name or None,
                        email=mail.sender,
                        message_id=mail.message_id,
                    ),
                    relay,
                )
                message = (
                    await session.exec(
                        select(InquiryMessage).where(InquiryMessage.inquiry_id == inquiry.id)
                    )
                ).one()
            else:
                message = await add_inbound(
                    session, pd, ctx, inquiry, "email", mail.body, mail.message_id
                )
            for item in mail.attachments:
                attachment = Attachment(
                    tenant_id=ctx.id,
                    uid=new_uid(),
                    message_id=message.id,  # type: ignore[arg-type]
                    content_type=item.content_type[:120],
                    size=len(item.data),
                )
                attachment.filename = await pd.seal_text(
                    "intake_attachment", "filename", attachment.uid, item.filename
                )
                attachment.content = await pd.seal_text(
                    "intake_attachment",
                    "content",
                    attachment.uid,
                    base64.b64encode(item.data).decode(),
                )
                session.add(attachment)
            receipt, uid = inquiry.receipt_no, inquiry.uid
        if created:
            await self.process.notify(ctx, "on_inquiry_created", inquiry_uid=uid, channel="email")
        else:
            await self.process.notify(
                ctx, "on_inquiry_updated", inquiry_uid=uid, changes=["inbound"]
            )
        return receipt

    async def _thread(self, session: Any, pd: PersonalData, mail: ParsedMail) -> Inquiry | None:
        """The inquiry a reply belongs to: one its References / In-Reply-To name, whose
        customer is the sender (compared through the e-mail blind index). Anyone else who
        quotes a Message-ID starts an inquiry of their own."""
        if not mail.references:
            return None
        named = (
            await session.exec(
                select(InquiryMessage.inquiry_id)
                .where(col(InquiryMessage.message_id).in_(mail.references[:50]))
                .order_by(col(InquiryMessage.id).desc())
            )
        ).all()
        if not named:
            return None
        senders = {c.id for c in await pd.find(email=mail.sender)}
        for inquiry_id in dict.fromkeys(named):
            inquiry: Inquiry | None = await session.get(Inquiry, inquiry_id)
            customer_id = inquiry.customer_id if inquiry is not None else None
            customer = await session.get(Customer, customer_id) if customer_id else None
            while customer is not None and customer.merged_into_id is not None:
                customer = await session.get(Customer, customer.merged_into_id)
            if customer is not None and customer.id in senders:
                return inquiry
        return None
