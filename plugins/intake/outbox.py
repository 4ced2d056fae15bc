"""Outgoing mail: replies to e-mail inquiries and receipts of web inquiries, sent by jobs that
retry with backoff.

The relay is ``MADOGUCHI_SMTP_RELAY`` (``host:port``); without it nothing is queued (the
reply is still stored, marked as failed: ``no_relay``). Each reply shows where it stands
(``InquiryMessage.delivery``: queued, retrying, sent or failed with a reason code), so the
operator sees one that did not go out. A reply gets its own Message-ID, stored on the message, and the
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

from core import Customer, JobContext, PersonalData, audit, enqueue_in
from plugins.intake.models import Inquiry, InquiryMessage
from plugins.intake.normalize import InputError, normalise_email

__all__ = [
    "RECEIPT",
    "SEND_REPLY",
    "NotSent",
    "queue_mail",
    "relay_address",
    "send_receipt",
    "send_reply",
]

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


MAIL_ATTEMPTS = 8


class NotSent(Exception):
    """A reply that cannot go out; ``reason`` is a code shown to the operator, ``retry``
    whether trying again later may help."""

    def __init__(self, reason: str, retry: bool) -> None:
        super().__init__(reason)
        self.reason, self.retry = reason, retry


def _deliver(message: EmailMessage) -> None:
    address = relay_address()
    if address is None:
        raise NotSent("no_relay", retry=False)
    try:
        with smtplib.SMTP(address[0], address[1], timeout=30) as client:
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused, for good or not
        codes = [code for code, _ in exc.recipients.values()]
        raise NotSent("relay_refused", retry=all(400 <= c < 500 for c in codes)) from None
    except smtplib.SMTPResponseException as exc:
        raise NotSent("relay_refused", retry=400 <= exc.smtp_code < 500) from None
    except (OSError, smtplib.SMTPException):
        raise NotSent("relay_unreachable", retry=True) from None


def _header_text(text: str) -> str:
    """A value for a mail header on one line (a line break would start another header)."""
    return " ".join(text.splitlines())


async def _recipient(session: AsyncSession, pd: PersonalData, inquiry: Inquiry) -> str:
    """The customer's one address; NotSent when there is none or it is not one address
    (a list stored before addresses were checked must not turn a reply into a relay)."""
    customer = await session.get(Customer, inquiry.customer_id) if inquiry.customer_id else None
    to = None if customer is None else await pd.field(customer, "email")
    if to is None:
        raise NotSent("no_address", retry=False)
    try:
        address = normalise_email(to)
    except InputError:
        address = None
    if address is None:
        raise NotSent("invalid_address", retry=False)
    return address


def _mail(
    job: JobContext, settings: dict[str, Any], to: str, subject: str, body: str
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr((_header_text(job.tenant.display_name), settings["reply_from"]))
    mail["To"] = to
    mail["Subject"] = _header_text(subject)
    mail.set_content(body)
    return mail


async def send_reply(job: JobContext, payload: dict[str, Any]) -> None:
    """Send one reply by e-mail and record where it stands on the message (sent, retrying or
    failed, with the reason); a failure that may pass raises, so the job retries with
    backoff, and the last attempt's failure stays on the message for the operator."""
    retry: NotSent | None = None
    async with job.session() as session:
        message = (
            await session.exec(
                select(InquiryMessage).where(InquiryMessage.uid == payload["message"])
            )
        ).one()
        try:
            await _send_reply(job, session, message)
            message.delivery, message.delivery_error = "sent", None
        except NotSent as exc:
            final = not exc.retry or job.attempt >= MAIL_ATTEMPTS
            message.delivery = "failed" if final else "retrying"
            message.delivery_error = exc.reason
            retry = None if final else exc
            inquiry = await session.get(Inquiry, message.inquiry_id)
            await audit(
                session,
                "mail.fail",
                object_type="inquiry",
                object_id=inquiry.uid if inquiry else "",
                fields=[exc.reason],
                outcome=message.delivery,
            )
    if retry is not None:  # after the state was committed: the job runs again later
        raise retry


async def _send_reply(job: JobContext, session: AsyncSession, message: InquiryMessage) -> None:
    pd = job.personal_data(session)
    inquiry = await session.get(Inquiry, message.inquiry_id)
    assert inquiry is not None
    to = await _recipient(session, pd, inquiry)
    await audit(
        session,
        "pii.read",
        object_type="inquiry",
        object_id=inquiry.uid,
        fields=["email"],
        purpose="reply by e-mail",
    )
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
        await job.settings(session, "intake"),
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
    await audit(session, "mail.send", object_type="inquiry", object_id=inquiry.uid)


async def send_receipt(job: JobContext, payload: dict[str, Any]) -> None:
    """The receipt of a web inquiry, to the address the customer gave."""
    async with job.session() as session:
        pd = job.personal_data(session)
        inquiry = (
            await session.exec(select(Inquiry).where(Inquiry.uid == payload["inquiry"]))
        ).one()
        try:
            to = await _recipient(session, pd, inquiry)
        except NotSent:
            return  # nobody to write to, or no one address: a receipt is not worth a relay
        mail = _mail(
            job,
            await job.settings(session, "intake"),
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
