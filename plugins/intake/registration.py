"""Registering inquiries: one, or a group committed together, the same way for every channel.

A group pays for its statements once: one read of the queues and of the data key, one lookup
and one insert of customers, one insert each of inquiries and first messages, one audit head
update. Personal text is sealed per row; routing, due times and receipt numbers are per
inquiry. The caller's session is bound to the tenant; the caller commits and sends the hooks.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import (
    TENANT,
    Actor,
    AuditEntry,
    PersonalData,
    TenantContext,
    TenantStatement,
    audit_many,
    defer,
    enqueue_in,
    insert_ignore,
    new_uid,
    run_statement,
    utcnow,
)
from plugins.intake.models import Inquiry, InquiryMessage, InquiryStatus, Queue

__all__ = [
    "NewInquiry",
    "Registered",
    "ensure_default_queue",
    "read_queues",
    "register_inquiries",
]

# built once, run in the tenant's session
ALL_QUEUES = TenantStatement(
    sa.select(
        col(Queue.id),
        col(Queue.slug),
        col(Queue.position),
        col(Queue.channels),
        col(Queue.keywords),
        col(Queue.categories),
    ).where(col(Queue.tenant_id) == TENANT)
)
NEW_INQUIRIES = TenantStatement.insert(Inquiry, col(Inquiry.uid), col(Inquiry.id))
NEW_MESSAGES = TenantStatement.insert(InquiryMessage)
RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


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
    chosen_queue: str | None = None  # what a plugin's resolve_queue answered
    actor: Actor | None = None  # who registers it, when not the current actor

    @property
    def text(self) -> str:
        return "\n".join(t for t in (self.subject, self.body) if t)


@dataclass(frozen=True)
class Registered:
    """A stored inquiry, as the API shows it."""

    id: int
    uid: str
    receipt_no: str
    channel: str
    priority: int
    queue: str | None
    category: str
    customer_uid: str | None
    first_response_due: datetime
    resolution_due: datetime
    created_at: datetime
    status: str = InquiryStatus.NEW
    assignee_id: int | None = None


async def ensure_default_queue(session: AsyncSession, ctx: TenantContext) -> Queue:
    """The tenant's first queue, created once even when first inquiries arrive together."""
    existing = (await session.exec(select(Queue).order_by(col(Queue.position)))).first()
    if existing is not None:
        return existing
    await insert_ignore(
        session,
        Queue,
        {
            "tenant_id": ctx.id,
            "slug": "general",
            "name": "一般窓口",
            "position": 1000,
            "channels": [],
            "keywords": [],
        },
        ["tenant_id", "slug"],
    )
    return (await session.exec(select(Queue).where(Queue.slug == "general"))).one()


async def read_queues(session: AsyncSession) -> list[Any]:
    """The tenant's queues (id, slug, position, channels, keywords) for :func:`route`."""
    return list((await run_statement(session, ALL_QUEUES)).all())


def new_receipt_no() -> str:
    # 32 letters: a random byte modulo 32 is uniform; one read of the OS's randomness
    body = "".join(RECEIPT_ALPHABET[b % 32] for b in secrets.token_bytes(8))
    return f"{body[:4]}-{body[4:]}"


def route(
    queues: list[Any], channel: str, text: str, chosen: str | None, category: str = ""
) -> Any:
    """A plugin's choice; else the first queue (by position) that takes the inquiry's
    category; else the first whose keywords occur in the text; else the first that takes its
    channel; else the last queue (the catch-all). ``queues``: Queue rows or objects (id, slug,
    position, channels, keywords, categories)."""
    by_slug = {q.slug: q for q in queues}
    if chosen and chosen in by_slug:
        return by_slug[chosen]
    ordered = sorted(queues, key=lambda q: q.position)
    if category:
        for queue in ordered:
            if category in (queue.categories or []):
                return queue
    for queue in ordered:
        if queue.keywords and any(k and k in text for k in queue.keywords):
            return queue
    for queue in ordered:
        if channel in (queue.channels or []):
            return queue
    return ordered[-1] if ordered else None


async def register_inquiries(
    session: AsyncSession,
    pd: PersonalData,
    ctx: TenantContext,
    settings: dict[str, Any],
    items: Sequence[NewInquiry],
    audit_into: list[AuditEntry] | None = None,
    watch_sla: bool = True,
    queues: list[Any] | None = None,
    deferred: bool = False,
) -> list[Registered]:
    """Store a group of inquiries with their customers (found by blind index or created) and
    first messages, routed and given SLA due times; each audited (``inquiry.create``), or its
    audit entries appended to ``audit_into`` for the caller to record before commit. Makes
    sure the tenant's SLA watch job is queued unless ``watch_sla`` is False (a caller that
    checked recently). ``queues``: the tenant's queues if the caller read them (:func:`read_queues`).
    With ``deferred`` the first messages are left for the caller's ``run_deferred``."""
    if not items:
        return []
    entries: list[AuditEntry] = [] if audit_into is None else audit_into
    if not queues:
        queues = await read_queues(session) or [await ensure_default_queue(session, ctx)]
    customers = await pd.create_customers(
        [
            {
                "name": i.name,
                "name_kana": i.name_kana,
                "phone": i.phone,
                "email": i.email,
                "address": i.address,
            }
            for i in items
        ],
        [i.actor for i in items],
        entries,
    )
    now = utcnow()
    first_due = now + timedelta(minutes=settings["first_response_minutes"])
    resolution_due = now + timedelta(hours=settings["resolution_hours"])
    registered: list[Registered] = []
    rows: list[dict[str, Any]] = []
    for item, customer in zip(items, customers, strict=True):
        queue = route(queues, item.channel, item.text, item.chosen_queue, item.category)
        uid = new_uid()
        registered.append(
            Registered(
                id=0,  # known after the insert
                uid=uid,
                receipt_no=new_receipt_no(),
                channel=item.channel,
                priority=max(1, min(item.priority, 5)),
                queue=queue.slug if queue else None,
                category=item.category[:64],
                customer_uid=customer.uid if customer else None,
                first_response_due=first_due,
                resolution_due=resolution_due,
                created_at=now,
            )
        )
        rows.append(
            {
                "tenant_id": ctx.id,
                "uid": uid,
                "receipt_no": registered[-1].receipt_no,
                "channel": item.channel,
                "status": registered[-1].status,
                "priority": registered[-1].priority,
                "queue_id": queue.id if queue else None,
                "category": registered[-1].category,
                "tags": list(item.tags),
                "subject": await pd.seal_text("intake_inquiry", "subject", uid, item.subject),
                "customer_id": customer.id if customer else None,
                "first_response_due": first_due,
                "resolution_due": resolution_due,
                "created_at": now,
                "updated_at": now,
            }
        )
    ids = dict((await run_statement(session, NEW_INQUIRIES, rows)).all())
    registered = [replace(r, id=ids[r.uid]) for r in registered]
    messages = []
    for item, done in zip(items, registered, strict=True):
        message_uid = new_uid()
        messages.append(
            {
                "tenant_id": ctx.id,
                "uid": message_uid,
                "inquiry_id": done.id,
                "kind": "inbound",
                "channel": item.channel,
                "body": await pd.seal_text("intake_message", "body", message_uid, item.body),
                "author_user_id": None,
                "message_id": item.message_id,
                "created_at": now,
            }
        )
    if deferred:
        defer(session, NEW_MESSAGES, messages)
    else:
        await run_statement(session, NEW_MESSAGES, messages)
    entries.extend(
        AuditEntry(
            "inquiry.create",
            object_type="inquiry",
            object_id=done.uid,
            fields=[item.channel],
            actor=item.actor,
        )
        for item, done in zip(items, registered, strict=True)
    )
    from plugins.intake.sla import SLA_CHECK  # the watch starts with a tenant's first inquiry

    if watch_sla:
        await enqueue_in(session, SLA_CHECK, {"repeat": True}, max_attempts=3, once=True)
    if audit_into is None:
        await audit_many(session, entries)
    return registered
