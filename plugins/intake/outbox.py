"""Outgoing mail: replies to e-mail inquiries and receipts of web inquiries, sent by jobs that
retry with backoff.

The relay is ``MADOGUCHI_SMTP_RELAY`` (``host:port``); without it nothing is queued (the
reply is still stored). A reply gets its own Message-ID, stored on the message, and the
In-Reply-To/References of the customer's last mail, so the customer's answer threads back.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import Customer, JobContext, PersonalData, audit, enqueue_in, plugin_settings
from plugins.intake import MANIFEST
from plugins.intake.models import Inquiry, InquiryMessage

__all__ = ["RECEIPT", "SEND_REPLY", "queue_mail", "relay_address", "send_receipt", "send_reply"]

SEND_REPLY = "intake.send_reply"
RECEIPT = "intake.send_receipt"


def relay_address() -> tuple[str, int] | None:
    value = os.environ.get("MADOGUCHI_SMTP_RELAY", "").strip()
    if not value:
        return None
    host, _, port = value.rpartition(":")
    return (host or "127.0.0.1", int(port or 25))


async def queue_mail(session: AsyncSession, kind: str, payload: dict[str, str]) -> bool:
    """Queue a mail job in the caller's transaction if a relay is configured; payloads hold
    uids only."""
    if relay_address() is None:
        return False
    await enqueue_in(session, kind, payload, max_attempts=8)
    return True


def _deliver(message: EmailMessage) -> None:
    address = relay_address()
    if address is None:
        raise RuntimeError("MADOGUCHI_SMTP_RELAY is not set")
    with smtplib.SMTP(address[0], address[1], timeout=30) as client:
        client.send_message(message)


async def _recipient(session: AsyncSession, pd: PersonalData, inquiry: Inquiry) -> str | None:
    if inquiry.customer_id is None:
        return None
    customer = await session.get(Customer, inquiry.customer_id)
    return None if customer is None else await pd.field(customer, "email")


def _mail(
    job: JobContext, settings: dict[str, Any], to: str, subject: str, body: str
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr((job.tenant.display_name, settings["reply_from"]))
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(body)
    return mail


async def send_reply(job: JobContext, payload: dict[str, Any]) -> None:
    """Send one reply by e-mail; an exception makes the job retry with backoff."""
    async with job.session() as session:
        pd = PersonalData(job.db, session, job.keyring, job.tenant)
        message = (
            await session.exec(
                select(InquiryMessage).where(InquiryMessage.uid == payload["message"])
            )
        ).one()
        inquiry = await session.get(Inquiry, message.inquiry_id)
        assert inquiry is not None
        to = await _recipient(session, pd, inquiry)
        if to is None:
            return  # nobody to write to: nothing to retry
        last_inbound = (
            await session.exec(
                select(InquiryMessage)
                .where(
                    InquiryMessage.inquiry_id == inquiry.id,
                    InquiryMessage.kind == "inbound",
                    col(InquiryMessage.message_id).is_not(None),
                )
                .order_by(col(InquiryMessage.id).desc())
            )
        ).first()
        subject = await pd.open_text("intake_inquiry", "subject", inquiry.uid, inquiry.subject)
        body = await pd.open_text("intake_message", "body", message.uid, message.body) or ""
        mail = _mail(
            job,
            await plugin_settings(session, MANIFEST),
            to,
            f"Re: {subject or inquiry.receipt_no}",
            f"{body}\n\n受付番号: {inquiry.receipt_no}\n{job.tenant.display_name}\n",
        )
        message.message_id = message.message_id or make_msgid(domain="madoguchi.invalid")
        mail["Message-ID"] = message.message_id
        if last_inbound is not None and last_inbound.message_id:
            mail["In-Reply-To"] = last_inbound.message_id
            mail["References"] = last_inbound.message_id
        await asyncio.to_thread(_deliver, mail)
        await audit(
            session,
            "pii.read",
            object_type="inquiry",
            object_id=inquiry.uid,
            fields=["email"],
            purpose="reply by e-mail",
        )
        await audit(session, "mail.send", object_type="inquiry", object_id=inquiry.uid)


async def send_receipt(job: JobContext, payload: dict[str, Any]) -> None:
    """The receipt of a web inquiry, to the address the customer gave."""
    async with job.session() as session:
        pd = PersonalData(job.db, session, job.keyring, job.tenant)
        inquiry = (
            await session.exec(select(Inquiry).where(Inquiry.uid == payload["inquiry"]))
        ).one()
        to = await _recipient(session, pd, inquiry)
        if to is None:
            return
        mail = _mail(
            job,
            await plugin_settings(session, MANIFEST),
            to,
            f"お問い合わせを受け付けました【{inquiry.receipt_no}】",
            f"お問い合わせありがとうございます。\n受付番号: {inquiry.receipt_no}\n"
            f"担当者より順次ご連絡いたします。\n{job.tenant.display_name}\n",
        )
        mail["Message-ID"] = make_msgid(domain="madoguchi.invalid")
        await asyncio.to_thread(_deliver, mail)
        await audit(
            session, "mail.send", object_type="inquiry", object_id=inquiry.uid, fields=["receipt"]
        )
