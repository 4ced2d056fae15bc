"""``Idempotency-Key`` for inquiry creation.

The record and the inquiry are written in one transaction, so a crash leaves neither and a
retry starts afresh; an acknowledged inquiry exists exactly once. A repeat of a finished key
with the same body replays the stored response; with another body it is refused (422). A
repeat while the first request is still running is refused (409): in one process the writer
knows its keys in flight; across processes, on PostgreSQL a transaction-scoped advisory lock
per key tells; SQLite runs one writer at a time, so the repeat waits and then replays.

The body's hash is keyed per tenant (an HMAC under a key derived from the tenant's data key,
as the blind indexes are): the body holds a name, a phone number and an address, and a plain
SHA-256 of it would be a fingerprint anyone could test guesses against. It is stored as
``k<key version>:<base64url>``. Records stored before hold a plain SHA-256 (64 hex digits)
and still replay; a record whose data key version was destroyed since (key rotation) can no
longer be compared and is refused with 409, never taken for another body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col

from core import TENANT, ApiError, Read, TenantStatement
from plugins.intake.models import IdempotencyRecord

__all__ = [
    "MAX_KEY",
    "Replay",
    "advisory_lock_id",
    "body_hasher",
    "canonical_body",
    "hash_version",
    "keys_from_rows",
    "keys_read",
    "request_hash",
    "settle",
]

MAX_KEY = 200
IN_FLIGHT = "A request with this Idempotency-Key is still being processed."
NOT_COMPARABLE = (
    "This Idempotency-Key was used before the client's data key was replaced; its request "
    "can no longer be compared. Check the first request's answer before sending it again."
)
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


def canonical_body(body: Any) -> bytes:
    """The bytes a request body is hashed over (the same for the same fields, in any order)."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False).encode()


def _hash_key(data_key: bytes) -> bytes:
    # derived per group, not cached: a shredded data key must leave nothing derived behind
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"madoguchi-intake-idempotency"
    ).derive(data_key)


def body_hasher(version: int, data_key: bytes) -> Callable[[bytes], str]:
    """Keyed hashes of canonical bodies under one data key, as stored:
    ``k<version>:<base64url HMAC>`` (the key is derived once, for a whole group)."""
    key = _hash_key(data_key)

    def digest(body: bytes) -> str:
        mac = hmac.digest(key, body, "sha256")
        return f"k{version}:{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    return digest


def request_hash(version: int, data_key: bytes, body: bytes) -> str:
    """The keyed hash of one canonical body (see :func:`body_hasher`)."""
    return body_hasher(version, data_key)(body)


def hash_version(stored: str) -> int | None:
    """The data key version a stored hash was made under; None for an unkeyed one."""
    head, sep, _ = stored.partition(":")
    return int(head[1:]) if sep and head[:1] == "k" and head[1:].isdigit() else None


def _same_body(stored: str, body: bytes, keys: dict[int, bytes | None]) -> bool | None:
    """Whether ``body`` is the one ``stored`` was made of; None when that cannot be told."""
    version = hash_version(stored)
    if version is None:  # stored before hashes were keyed
        return hmac.compare_digest(stored, hashlib.sha256(body).hexdigest())
    key = keys.get(version)
    if key is None:
        return None
    return hmac.compare_digest(stored, request_hash(version, key, body))


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


def settle(
    key: str, body: bytes, held: set[str], record: Any, keys: dict[int, bytes | None]
) -> Replay | ApiError | None:
    """What a keyed request gets before anything is written: None to go ahead. ``record`` is
    the key's stored row (request_hash, response_status, response_body), or None; ``keys``
    the tenant's data keys by version for the stored hashes (None: destroyed)."""
    if key in held:
        return ApiError(409, IN_FLIGHT)
    if record is None:
        return None
    same = _same_body(record.request_hash, body, keys)
    if same is None:
        return ApiError(409, NOT_COMPARABLE, field="Idempotency-Key")
    if not same:
        return ApiError(
            422, "This Idempotency-Key was used with a different body.", field="Idempotency-Key"
        )
    return Replay(record.response_status or 201, record.response_body or {})
