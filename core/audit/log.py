"""Writing audit events, in the same transaction as the action they record.

The actor (user, roles, request id, client address) comes from a context variable the access
gate sets for each request; CLI commands and jobs set their own. The chain is chosen by the
session: a tenant-bound session appends to that tenant's chain, a platform session to the
platform chain. Appending takes the chain's head row first (an UPDATE), which serialises
concurrent writers on both engines; :func:`record_many` appends a group under one update.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.chain import HASHED_COLUMNS, event_hash
from core.audit.models import GENESIS, AuditEvent, AuditHead, PlatformAuditEvent, PlatformAuditHead
from core.db.base import utcnow
from core.db.session import session_tenant_id
from core.db.statements import TENANT, TenantStatement, defer
from core.db.statements import run as run_statement
from core.db.upsert import insert_ignore

__all__ = [
    "Actor",
    "AuditEntry",
    "acting_as",
    "current_actor",
    "hold_chain",
    "record",
    "record_many",
    "set_actor",
    "tenant_chain",
]


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    roles: tuple[str, ...] = ()
    request_id: str = ""
    client_addr: str = ""
    via: str = "api"  # api, cli, job, system


_SYSTEM = Actor(via="system")
_actor: ContextVar[Actor | None] = ContextVar("madoguchi_audit_actor", default=None)


def current_actor() -> Actor:
    return _actor.get() or _SYSTEM


def set_actor(actor: Actor) -> None:
    """Set the actor for the rest of the current task (the access gate, per request)."""
    _actor.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def tenant_chain(tenant_id: int) -> str:
    return f"t:{tenant_id}"


async def _insert_head(
    session: AsyncSession, model: Any, key: dict[str, int], conflict: list[str]
) -> None:
    """Create a chain's head unless a concurrent transaction did (it waits, then yields)."""
    await insert_ignore(session, model, {**key, "seq": 0, "hash": GENESIS}, conflict)


@dataclass(frozen=True)
class _Chain:
    """A chain's statements, built once: reserve ``count`` numbers at its head (returning the
    new last one and the hash before them), append events, store the new last ``hash``."""

    head: Any
    reserve: TenantStatement
    append: TenantStatement
    settle: TenantStatement

    @classmethod
    def of(cls, head: Any, event: Any, where: Any) -> _Chain:
        return cls(
            head,
            TenantStatement(
                sa.update(head)
                .where(where)
                .values(seq=col(head.seq) + sa.bindparam("count", type_=sa.Integer))
                .returning(col(head.seq), col(head.hash))
            ),
            TenantStatement.insert(event),
            TenantStatement(
                sa.update(head).where(where).values(hash=sa.bindparam("new_hash", type_=sa.String))
            ),
        )


_TENANT_CHAIN = _Chain.of(AuditHead, AuditEvent, col(AuditHead.tenant_id) == TENANT)
_PLATFORM_CHAIN = _Chain.of(PlatformAuditHead, PlatformAuditEvent, col(PlatformAuditHead.id) == 1)


async def _advance_head(
    session: AsyncSession, chain: _Chain, key: dict[str, int], count: int
) -> tuple[int, str]:
    """Reserve ``count`` sequence numbers of the chain whose head row is ``key``:
    (the first, the hash before it). Holds the head until commit."""
    params = {"count": count}
    row = (await run_statement(session, chain.reserve, params)).first()
    if row is None:  # the chain's first event; another request may be creating it too
        await _insert_head(session, chain.head, key, list(key))
        row = (await run_statement(session, chain.reserve, params)).first()
        assert row is not None
    return int(row[0]) - count + 1, str(row[1])


async def hold_chain(session: AsyncSession) -> None:
    """Take the session's chain head now; like an append, it is held until the transaction
    ends. For a caller about to lock rows of its own before it appends (the hourly access
    counts): every audited transaction then takes the head before such rows, and two cannot
    deadlock by taking the head and one of those rows in opposite orders (PostgreSQL)."""
    tenant_id = session_tenant_id(session.sync_session)
    if tenant_id is not None:
        await _advance_head(session, _TENANT_CHAIN, {"tenant_id": tenant_id}, 0)
    else:
        await _advance_head(session, _PLATFORM_CHAIN, {"id": 1}, 0)


@dataclass(frozen=True)
class AuditEntry:
    """One event to append with :func:`record_many`; never holds personal values."""

    action: str
    object_type: str = ""
    object_id: str | int = ""
    fields: Iterable[str] = ()
    purpose: str = ""
    outcome: str = "ok"
    actor: Actor | None = None  # None: the current actor


async def record(
    session: AsyncSession,
    action: str,
    *,
    object_type: str = "",
    object_id: str | int = "",
    fields: Iterable[str] = (),
    purpose: str = "",
    outcome: str = "ok",
    actor: Actor | None = None,
) -> str:
    """Append one event to the session's chain; returns its hash. Never pass personal values."""
    event = AuditEntry(action, object_type, object_id, tuple(fields), purpose, outcome, actor)
    return (await record_many(session, [event]))[0]


async def record_many(
    session: AsyncSession, events: Sequence[AuditEntry], *, deferred: bool = False
) -> list[str]:
    """Append events to the session's chain in order, taking the chain's head once (a group
    of requests committed together pays for one head update, not one per event). With
    ``deferred`` the head is taken now and the events and the head's new hash are left for
    the caller's :func:`core.db.statements.run_deferred` (sent with its other last writes)."""
    if not events:
        return []
    tenant_id = session_tenant_id(session.sync_session)
    if tenant_id is not None:
        chain, statements, key = tenant_chain(tenant_id), _TENANT_CHAIN, {"tenant_id": tenant_id}
    else:
        chain, statements, key = "platform", _PLATFORM_CHAIN, {"id": 1}
    seq, prev = await _advance_head(session, statements, key, len(events))
    fallback = current_actor()
    now = utcnow()
    rows: list[dict[str, Any]] = []
    hashes: list[str] = []
    for offset, event in enumerate(events):
        actor = event.actor or fallback
        values = [
            seq + offset,
            now,
            actor.user_id,
            sorted(actor.roles),
            event.action,
            event.object_type,
            str(event.object_id),
            sorted(event.fields),
            event.purpose[:500],
            event.outcome,
            actor.request_id,
            actor.client_addr,
            prev,
        ]
        prev = event_hash(chain, values)
        row = dict(zip(HASHED_COLUMNS, values, strict=True))
        row["hash"] = prev
        if tenant_id is not None:
            row["tenant_id"] = tenant_id
        rows.append(row)
        hashes.append(prev)
    if deferred:
        defer(session, statements.append, rows)
        defer(session, statements.settle, {"new_hash": prev})
    else:
        await run_statement(session, statements.append, rows)
        await run_statement(session, statements.settle, {"new_hash": prev})
    return hashes
