"""Intake services: channels, queues and routing, inquiries and their SLA, take-next.

Every function takes a session bound to the tenant and the core's personal-data accessor; the
caller commits (a route's session, a job's session) and sends the hooks after commit.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import Customer, PersonalData, TenantContext, audit, utcnow
from plugins.intake.models import Inquiry, InquiryMessage, InquiryStatus, Queue

__all__ = [
    "KNOWN_CHANNELS",
    "NewInquiry",
    "channel_summary",
    "check_channels",
    "create_inquiry",
    "ensure_default_queue",
    "take_next",
]

log = structlog.get_logger("madoguchi.intake")
KNOWN_CHANNELS = ("web", "email", "chat", "phone")
RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


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


async def ensure_default_queue(session: AsyncSession, ctx: TenantContext) -> Queue:
    existing = (await session.exec(select(Queue).order_by(col(Queue.position)))).first()
    if existing is not None:
        return existing
    queue = Queue(tenant_id=ctx.id, slug="general", name="一般窓口", position=1000)
    session.add(queue)
    await session.flush()
    return queue


def new_receipt_no() -> str:
    body = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"{body[:4]}-{body[4:]}"


@dataclass
class NewInquiry:
    channel: str
    subject: str | None
    body: str | None
    category: str = ""
    priority: int = 3
    name: str | None = None
    name_kana: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    message_id: str | None = None
    tags: Sequence[str] = ()


def _route(queues: list[Queue], channel: str, text: str, chosen: str | None) -> Queue | None:
    by_slug = {q.slug: q for q in queues}
    if chosen and chosen in by_slug:
        return by_slug[chosen]
    ordered = sorted(queues, key=lambda q: q.position)
    for queue in ordered:
        if queue.keywords and any(k and k in text for k in queue.keywords):
            return queue
    for queue in ordered:
        if channel in (queue.channels or []):
            return queue
    return ordered[-1] if ordered else None


async def find_or_create_customer(pd: PersonalData, data: NewInquiry) -> Customer | None:
    if not (data.phone or data.email or data.name):
        return None
    for lookup in ({"phone": data.phone}, {"email": data.email}):
        value = next(iter(lookup.values()))
        if value:
            found = await pd.find(**lookup)  # type: ignore[arg-type]
            if found:
                return found[0]
    return await pd.create_customer(
        {
            "name": data.name,
            "name_kana": data.name_kana,
            "phone": data.phone,
            "email": data.email,
            "address": data.address,
        }
    )


async def create_inquiry(
    session: AsyncSession,
    pd: PersonalData,
    ctx: TenantContext,
    settings: dict[str, Any],
    data: NewInquiry,
    relay: Any,
) -> Inquiry:
    """Register an inquiry: its customer (found by blind index or created), its queue, its
    SLA due times, its first message; audited. Hooks are the caller's, after commit."""
    queues = list((await session.exec(select(Queue))).all()) or [
        await ensure_default_queue(session, ctx)
    ]
    text = "\n".join(t for t in (data.subject, data.body) if t)
    chosen = relay.resolve_queue(ctx=ctx, channel=data.channel, category=data.category, text=text)
    queue = _route(queues, data.channel, text, chosen)
    customer = await find_or_create_customer(pd, data)
    now = utcnow()
    inquiry = Inquiry(
        tenant_id=ctx.id,
        uid=str(uuid.uuid4()),
        receipt_no=new_receipt_no(),
        channel=data.channel,
        priority=max(1, min(data.priority, 5)),
        queue_id=queue.id if queue else None,
        category=data.category[:64],
        tags=list(data.tags),
        customer_id=customer.id if customer else None,
        first_response_due=now + timedelta(minutes=settings["first_response_minutes"]),
        resolution_due=now + timedelta(hours=settings["resolution_hours"]),
        created_at=now,
        updated_at=now,
    )
    inquiry.subject = await pd.seal_text("intake_inquiry", "subject", inquiry.uid, data.subject)
    session.add(inquiry)
    await session.flush()
    message = InquiryMessage(
        tenant_id=ctx.id,
        uid=str(uuid.uuid4()),
        inquiry_id=inquiry.id,  # type: ignore[arg-type]
        kind="inbound",
        channel=data.channel,
        message_id=data.message_id,
    )
    message.body = await pd.seal_text("intake_message", "body", message.uid, data.body)
    session.add(message)
    await session.flush()
    await audit(
        session,
        "inquiry.create",
        object_type="inquiry",
        object_id=inquiry.uid,
        fields=[data.channel],
    )
    return inquiry


async def take_next(
    session: AsyncSession, user_id: int, queue_ids: Sequence[int]
) -> Inquiry | None:
    """Assign the most urgent unassigned inquiry of the queues to ``user_id``; two operators
    never get the same one (a conditional UPDATE; PostgreSQL also skips locked rows)."""
    if not queue_ids:
        return None
    candidates = (
        select(Inquiry.id)
        .where(
            col(Inquiry.queue_id).in_(queue_ids),
            col(Inquiry.assignee_id).is_(None),
            col(Inquiry.status).in_(InquiryStatus.ACTIVE),
        )
        .order_by(col(Inquiry.priority), col(Inquiry.first_response_due), col(Inquiry.id))
        .limit(5)
    )
    dialect = session.sync_session.get_bind().dialect.name
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    for inquiry_id in (await session.exec(candidates)).all():
        taken = await session.exec(  # type: ignore[call-overload]
            sa.update(Inquiry)
            .where(col(Inquiry.id) == inquiry_id, col(Inquiry.assignee_id).is_(None))
            .values(assignee_id=user_id, status=InquiryStatus.OPEN, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            inquiry = (
                await session.exec(
                    select(Inquiry)
                    .where(Inquiry.id == inquiry_id)
                    .execution_options(populate_existing=True)
                )
            ).one()
            await audit(session, "inquiry.take", object_type="inquiry", object_id=inquiry.uid)
            return inquiry
    return None
