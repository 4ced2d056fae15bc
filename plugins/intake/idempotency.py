"""``Idempotency-Key`` for inquiry creation.

The record and the inquiry are written in one transaction, so a crash leaves neither and a
retry starts afresh; an acknowledged inquiry exists exactly once. A repeat of a finished key
with the same body replays the stored response; with another body it is refused (422). A
repeat while the first request is still running is refused (409): in one process the writer
knows its keys in flight; across processes, on PostgreSQL a transaction-scoped advisory lock
per key tells; SQLite runs one writer at a time, so the repeat waits and then replays.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from core import ApiError

__all__ = ["MAX_KEY", "Replay", "advisory_lock_id", "held_elsewhere", "request_hash", "settle"]

MAX_KEY = 200
IN_FLIGHT = "A request with this Idempotency-Key is still being processed."
_TRY_LOCKS = sa.text(
    "SELECT k, pg_try_advisory_xact_lock(k) FROM unnest(CAST(:ids AS bigint[])) AS k"
)


class Replay:
    """A finished key's stored answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def advisory_lock_id(tenant_id: int, key: str) -> int:
    """The PostgreSQL advisory lock that marks a key as being processed."""
    return int(hashlib.sha256(f"{tenant_id}|{key}".encode()).hexdigest()[:15], 16)


async def held_elsewhere(session: AsyncSession, tenant_id: int, keys: list[str]) -> set[str]:
    """On PostgreSQL, the keys another transaction is processing right now; this transaction
    takes the locks of the others until it commits. On SQLite: none."""
    if session.sync_session.get_bind().dialect.name != "postgresql":
        return set()
    ids = {advisory_lock_id(tenant_id, key): key for key in keys}
    connection = await session.connection()  # no table: nothing for the tenant filter
    got = await connection.execute(_TRY_LOCKS, {"ids": list(ids)})
    return {ids[k] for k, ok in got.all() if not ok}


def settle(key: str, digest: str, held: set[str], record: Any) -> Replay | ApiError | None:
    """What a keyed request gets before anything is written: None to go ahead. ``record`` is
    the key's stored row (request_hash, response_status, response_body), or None."""
    if key in held:
        return ApiError(409, IN_FLIGHT)
    if record is None:
        return None
    if record.request_hash != digest:
        return ApiError(
            422, "This Idempotency-Key was used with a different body.", field="Idempotency-Key"
        )
    return Replay(record.response_status or 201, record.response_body or {})
