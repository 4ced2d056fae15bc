"""Intake services: channels, queues and routing, inquiries and their SLA, take-next.

Every function takes a session bound to the tenant and the core's personal-data accessor; the
caller commits (a route's session, a job's session) and sends the hooks after commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import (
    PersonalData,
    TenantContext,
    audit,
    new_uid,
    utcnow,
)
from plugins.intake.models import Inquiry, InquiryMessage, InquiryStatus, Queue
from plugins.intake.registration import NewInquiry, ensure_default_queue, register_inquiries
from plugins.intake.schemas import CHANNELS
from plugins.intake.vocabulary import VocabularyError, check_inquiry_labels, read_vocabulary

__all__ = [
    "KNOWN_CHANNELS",
    "QUEUE_SLUG",
    "ROUTING",
    "ChangeError",
    "NewInquiry",
    "add_inbound",
    "add_message",
    "channel_summary",
    "check_channels",
    "create_inquiry",
    "delete_queue",
    "ensure_default_queue",
    "queue_stats",
    "save_queue",
    "take_next",
    "update_inquiry",
]

log = structlog.get_logger("madoguchi.intake")
KNOWN_CHANNELS = CHANNELS


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


async def create_inquiry(
    session: AsyncSession,
    pd: PersonalData,
    ctx: TenantContext,
    settings: dict[str, Any],
    data: NewInquiry,
    relay: Any,
) -> Inquiry:
    """Register one inquiry (a group of one): its customer, queue (``resolve_queue`` first),
    SLA due times and first message; audited. Hooks are the caller's, after commit."""
    data.chosen_queue = relay.resolve_queue(
        ctx=ctx, channel=data.channel, category=data.category, text=data.text
    )
    (registered,) = await register_inquiries(session, pd, ctx, settings, [data])
    inquiry = await session.get(Inquiry, registered.id)
    assert inquiry is not None
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
        taken = await session.exec(
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


class ChangeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


async def update_inquiry(
    session: AsyncSession,
    inquiry: Inquiry,
    *,
    status: str | None = None,
    priority: int | None = None,
    category: str | None = None,
    tags: list[str] | None = None,
    queue_slug: str | None = None,
    assignee_id: int | None = None,
    unassign: bool = False,
) -> list[str]:
    """Apply the given changes; returns what changed (audited), raises ChangeError."""
    changes = []
    if status is not None and status != inquiry.status:
        if status not in InquiryStatus.ALL:
            raise ChangeError("status", f"one of {', '.join(InquiryStatus.ALL)}")
        inquiry.status = status
        if status == InquiryStatus.RESOLVED:
            inquiry.resolved_at = utcnow()
        changes.append("status")
    if priority is not None and priority != inquiry.priority:
        if not 1 <= priority <= 5:
            raise ChangeError("priority", "1 to 5")
        inquiry.priority = priority
        changes.append("priority")
    if category is not None or tags is not None:
        cleaned = sorted({t.strip() for t in tags or [] if t.strip()})
        try:
            check_inquiry_labels(await read_vocabulary(session), category or "", cleaned)
        except VocabularyError as exc:
            raise ChangeError(exc.field, exc.message) from None
    if category is not None and category != inquiry.category:
        inquiry.category = category
        changes.append("category")
    if tags is not None and cleaned != sorted(inquiry.tags or []):
        inquiry.tags = cleaned
        changes.append("tags")
    if queue_slug is not None:
        queue = (await session.exec(select(Queue).where(Queue.slug == queue_slug))).first()
        if queue is None:
            raise ChangeError("queue", "no such queue")
        if queue.id != inquiry.queue_id:
            inquiry.queue_id = queue.id
            changes.append("queue")
    if unassign or (assignee_id is not None and assignee_id != inquiry.assignee_id):
        inquiry.assignee_id = None if unassign else assignee_id
        changes.append("assignee")
    if changes:
        inquiry.updated_at = utcnow()
        await audit(
            session, "inquiry.update", object_type="inquiry", object_id=inquiry.uid, fields=changes
        )
    return changes


async def add_message(
    session: AsyncSession,
    pd: PersonalData,
    ctx: TenantContext,
    inquiry: Inquiry,
    kind: str,
    body: str,
    user_id: int,
) -> InquiryMessage:
    """A reply to the customer or an internal note, bound to this inquiry; audited."""
    if kind not in ("reply", "note"):
        raise ChangeError("kind", "reply or note")
    message = InquiryMessage(
        tenant_id=ctx.id,
        uid=new_uid(),
        inquiry_id=inquiry.id,  # type: ignore[arg-type]
        kind=kind,
        channel=inquiry.channel,
        author_user_id=user_id,
    )
    message.body = await pd.seal_text("intake_message", "body", message.uid, body)
    if kind == "reply" and inquiry.channel in ("email", "web"):
        from plugins.intake.outbox import SEND_REPLY, queue_mail

        # the operator must see a reply that will not go out, not assume it did
        queued = await queue_mail(session, SEND_REPLY, {"message": message.uid})
        message.delivery = "queued" if queued else "failed"
        message.delivery_error = None if queued else "no_relay"
    session.add(message)
    if kind == "reply":
        if inquiry.first_responded_at is None:
            inquiry.first_responded_at = utcnow()
        if inquiry.status == InquiryStatus.NEW:
            inquiry.status = InquiryStatus.OPEN
    inquiry.updated_at = utcnow()
    await session.flush()
    await audit(session, f"inquiry.{kind}", object_type="inquiry", object_id=inquiry.uid)
    return message


def breached(inquiry: Inquiry, now: datetime) -> bool:
    return inquiry.first_response_due is not None and inquiry.first_response_due < now


def at_risk(inquiry: Inquiry, now: datetime) -> bool:
    """Not breached yet, but less than a quarter of the first-response window is left."""
    due = inquiry.first_response_due
    return due is not None and now <= due and (due - now) < (due - inquiry.created_at) / 4


async def queue_stats(session: AsyncSession) -> list[dict[str, Any]]:
    """Per queue: depth, unassigned, oldest waiting, breached, at risk, load per operator."""
    now = utcnow()
    queues = (await session.exec(select(Queue).order_by(col(Queue.position)))).all()
    result = []
    for queue in queues:
        rows = (
            await session.exec(
                select(Inquiry).where(
                    Inquiry.queue_id == queue.id, col(Inquiry.status).in_(InquiryStatus.ACTIVE)
                )
            )
        ).all()
        unanswered = [r for r in rows if r.first_responded_at is None]
        load: dict[str, int] = {}
        for r in rows:
            if r.assignee_id is not None:
                load[str(r.assignee_id)] = load.get(str(r.assignee_id), 0) + 1
        result.append(
            {
                "queue": queue.slug,
                "name": queue.name,
                "position": queue.position,
                "channels": list(queue.channels or []),
                "categories": list(queue.categories or []),
                "keywords": list(queue.keywords or []),
                "depth": len(rows),
                "unassigned": sum(1 for r in rows if r.assignee_id is None),
                "oldest_waiting": min((r.created_at for r in unanswered), default=None),
                "first_response_breached": sum(1 for r in unanswered if breached(r, now)),
                "at_risk": sum(1 for r in unanswered if at_risk(r, now)),
                "load": load,
            }
        )
    return result


QUEUE_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ROUTING = ("name", "position", "channels", "categories", "keywords")


async def save_queue(
    session: AsyncSession, ctx: TenantContext, slug: str, config: dict[str, Any]
) -> tuple[Queue, bool]:
    """Create the tenant's queue ``slug`` or change its name and routing; (queue, created).
    Audited (``queue.configure``, naming what changed); the next group of inquiries routes
    by it (queues are tenant configuration)."""
    if not QUEUE_SLUG.fullmatch(slug):
        raise ChangeError("slug", "lower-case letters, digits and hyphens, at most 63")
    unknown = [c for c in config["channels"] if c not in KNOWN_CHANNELS]
    if unknown:
        raise ChangeError("channels", f"{unknown[0]} is not one of {', '.join(KNOWN_CHANNELS)}")
    categories = (await read_vocabulary(session)).categories
    unknown = [c for c in config["categories"] if c not in categories]
    if unknown:  # routing by a label no inquiry can carry would route nothing
        shown = ", ".join(c[:40] for c in unknown[:5])
        raise ChangeError("categories", f"not categories of this desk's vocabulary: {shown}")
    queue = (await session.exec(select(Queue).where(Queue.slug == slug))).first()
    created = queue is None
    if queue is None:
        queue = Queue(tenant_id=ctx.id, slug=slug, name=config["name"])
        session.add(queue)
    changed = [f for f in ROUTING if created or getattr(queue, f) != config[f]]
    for name in ROUTING:
        setattr(queue, name, config[name])
    if changed:
        await session.flush()
        await audit(session, "queue.configure", object_type="queue", object_id=slug, fields=changed)
    return queue, created


async def delete_queue(session: AsyncSession, slug: str) -> None:
    """Remove a queue no inquiry was ever routed to (one that holds inquiries stays: change its
    routing instead). Audited (``queue.delete``)."""
    queue = (await session.exec(select(Queue).where(Queue.slug == slug))).first()
    if queue is None:
        raise LookupError(slug)
    used = (await session.exec(select(Inquiry.id).where(Inquiry.queue_id == queue.id))).first()
    if used is not None:
        raise ChangeError("queue", "it holds inquiries: change its routing instead")
    await session.delete(queue)
    await session.flush()
    await audit(session, "queue.delete", object_type="queue", object_id=slug)


async def add_inbound(
    session: AsyncSession,
    pd: PersonalData,
    ctx: TenantContext,
    inquiry: Inquiry,
    channel: str,
    body: str | None,
    message_id: str | None = None,
) -> InquiryMessage:
    """The customer wrote again (a mail reply, a chat line, another call): the message joins
    the inquiry, which reopens if it was waiting or resolved; audited."""
    message = InquiryMessage(
        tenant_id=ctx.id,
        uid=new_uid(),
        inquiry_id=inquiry.id,  # type: ignore[arg-type]
        kind="inbound",
        channel=channel,
        message_id=message_id,
    )
    message.body = await pd.seal_text("intake_message", "body", message.uid, body)
    session.add(message)
    if inquiry.status in (InquiryStatus.WAITING, InquiryStatus.RESOLVED):
        inquiry.status = InquiryStatus.OPEN
    inquiry.updated_at = utcnow()
    await session.flush()
    await audit(
        session, "inquiry.inbound", object_type="inquiry", object_id=inquiry.uid, fields=[channel]
    )
    return message
