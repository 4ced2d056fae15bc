"""Writing audit events, in the same transaction as the action they record.

The actor (user, roles, request id, client address) comes from a context variable the access
gate sets for each request; CLI commands and jobs set their own. The chain is chosen by the
session: a tenant-bound session appends to that tenant's chain, a platform session to the
platform chain. Appending takes the chain's head row first (an UPDATE), which serialises
concurrent writers on both engines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
from core.db.upsert import insert_ignore

__all__ = ["Actor", "acting_as", "current_actor", "record", "set_actor", "tenant_chain"]


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


async def _advance_tenant_head(session: AsyncSession, tenant_id: int) -> tuple[int, str]:
    bump = (
        sa.update(AuditHead)
        .where(col(AuditHead.tenant_id) == tenant_id)
        .values(seq=col(AuditHead.seq) + 1)
        .returning(col(AuditHead.seq), col(AuditHead.hash))
    )
    row = (await session.exec(bump)).first()
    if row is None:  # the tenant's first event; another request may be creating it too
        await _insert_head(session, AuditHead, {"tenant_id": tenant_id}, ["tenant_id"])
        row = (await session.exec(bump)).first()
        assert row is not None
    return int(row[0]), str(row[1])


async def _advance_platform_head(session: AsyncSession) -> tuple[int, str]:
    bump = (
        sa.update(PlatformAuditHead)
        .where(col(PlatformAuditHead.id) == 1)
        .values(seq=col(PlatformAuditHead.seq) + 1)
        .returning(col(PlatformAuditHead.seq), col(PlatformAuditHead.hash))
    )
    row = (await session.exec(bump)).first()
    if row is None:
        await _insert_head(session, PlatformAuditHead, {"id": 1}, ["id"])
        row = (await session.exec(bump)).first()
        assert row is not None
    return int(row[0]), str(row[1])


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
    actor = actor or current_actor()
    tenant_id = session_tenant_id(session.sync_session)
    if tenant_id is not None:
        seq, prev = await _advance_tenant_head(session, tenant_id)
        chain = tenant_chain(tenant_id)
    else:
        seq, prev = await _advance_platform_head(session)
        chain = "platform"
    values = [
        seq,
        utcnow(),
        actor.user_id,
        sorted(actor.roles),
        action,
        object_type,
        str(object_id),
        sorted(fields),
        purpose[:500],
        outcome,
        actor.request_id,
        actor.client_addr,
        prev,
    ]
    digest = event_hash(chain, values)
    columns: dict[str, Any] = dict(zip(HASHED_COLUMNS, values, strict=True))
    if tenant_id is not None:
        session.add(AuditEvent(tenant_id=tenant_id, hash=digest, **columns))
        await session.exec(
            sa.update(AuditHead).where(col(AuditHead.tenant_id) == tenant_id).values(hash=digest)
        )
    else:
        session.add(PlatformAuditEvent(hash=digest, **columns))
        await session.exec(
            sa.update(PlatformAuditHead).where(col(PlatformAuditHead.id) == 1).values(hash=digest)
        )
    await session.flush()
    return digest
