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
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col

from core import TENANT, ApiError, Read, TenantStatement
from plugins.intake.models import IdempotencyRecord

__all__ = [
    "MAX_KEY",
    "Replay",
    "advisory_lock_id",
    "keys_from_rows",
    "keys_read",
    "request_hash",
    "settle",
]

MAX_KEY = 200
IN_FLIGHT = "A request with this Idempotency-Key is still being processed."
_RECORD = (
    col(IdempotencyRecord.request_hash),
    col(IdempotencyRecord.response_status),
    col(IdempotencyRecord.response_body),
)
# built once, run with a group's keys
_STORED = TenantStatement(
    sa.select(col(IdempotencyRecord.key), *_RECORD).where(
        col(IdempotencyRecord.tenant_id) == TENANT,
        col(IdempotencyRecord.key).in_(sa.bindparam("keys", expanding=True)),
    )
)
# PostgreSQL: each key with its advisory lock tried and its record, if any
_KEYS = (
    sa.func.unnest(
        sa.cast(sa.bindparam("keys"), ARRAY(sa.Text)),
        sa.cast(sa.bindparam("locks"), ARRAY(sa.BigInteger)),
    )
    .table_valued(sa.column("key", sa.Text), sa.column("lock", sa.BigInteger))
    .render_derived(name="wanted")
)
_LOCKED_AND_STORED = TenantStatement(
    sa.select(
        _KEYS.c.key,
        sa.func.pg_try_advisory_xact_lock(_KEYS.c.lock, type_=sa.Boolean).label("free"),
        *_RECORD,
    ).select_from(
        _KEYS.outerjoin(
            IdempotencyRecord,
            sa.and_(
                col(IdempotencyRecord.tenant_id) == TENANT,
                col(IdempotencyRecord.key) == _KEYS.c.key,
            ),
        )
    )
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


def keys_read(dialect: str, tenant_id: int, keys: list[str]) -> Read:
    """The read of a group's keys, for a caller that sends it with others (the group's
    recheck): on PostgreSQL each key's advisory lock tried (this transaction holds the free
    ones until it commits) and its stored record; SQLite runs one writer at a time, so its
    keys are never held elsewhere and only the records are read."""
    if dialect != "postgresql":
        return Read(_STORED, {"keys": keys})
    locks = [advisory_lock_id(tenant_id, key) for key in keys]
    return Read(_LOCKED_AND_STORED, {"keys": keys, "locks": locks})


def keys_from_rows(rows: list[Any]) -> tuple[set[str], dict[str, Any]]:
    """(the keys held by another transaction, the stored record of each finished key)."""
    held = {row.key for row in rows if getattr(row, "free", True) is False}
    return held, {row.key: row for row in rows if row.request_hash is not None}


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
