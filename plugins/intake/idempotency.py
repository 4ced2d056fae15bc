"""``Idempotency-Key`` for inquiry creation.

The record and the inquiry are written in one transaction, so a crash leaves neither and a
retry starts afresh; an acknowledged inquiry exists exactly once. A repeat of a finished key
with the same body replays the stored response; with another body it is refused (422). A
repeat while the first request is still running is refused (409): on PostgreSQL a
transaction-scoped advisory lock tells; SQLite runs one writer at a time, so the repeat waits
and then replays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from plugins.intake.models import IdempotencyRecord

__all__ = ["Claim", "claim_key", "request_hash", "store_response"]

MAX_KEY = 200


@dataclass
class Claim:
    replay: IdempotencyRecord | None = None
    conflict: str | None = None  # "in_flight" or "different_body"


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


async def claim_key(session: AsyncSession, tenant_id: int, key: str, digest: str) -> Claim:
    dialect = session.sync_session.get_bind().dialect.name
    if dialect == "postgresql":
        lock = int(hashlib.sha256(f"{tenant_id}|{key}".encode()).hexdigest()[:15], 16)
        got = (await session.exec(sa.select(sa.func.pg_try_advisory_xact_lock(lock)))).one()  # type: ignore[call-overload]
        if not got[0]:
            return Claim(conflict="in_flight")
    else:
        # take SQLite's write lock now, so that a concurrent repeat waits for this one
        await session.exec(sa.text("UPDATE intake_idempotency SET key = key WHERE 0"))  # type: ignore[call-overload]
    existing = (
        await session.exec(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
    ).first()
    if existing is None:
        return Claim()
    if existing.request_hash != digest:
        return Claim(conflict="different_body")
    return Claim(replay=existing)


async def store_response(
    session: AsyncSession, tenant_id: int, key: str, digest: str, status: int, body: dict[str, Any]
) -> None:
    session.add(
        IdempotencyRecord(
            tenant_id=tenant_id,
            key=key,
            request_hash=digest,
            state="done",
            response_status=status,
            response_body=body,
        )
    )
    await session.flush()
