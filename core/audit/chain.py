"""Hashing and verifying audit chains.

Each event's hash is SHA-256 over the previous hash and a canonical encoding of the event
(its chain, sequence number, time in microseconds and every recorded field). Verification
walks a chain in order and names the first event whose sequence, link or hash does not fit,
then compares the end of the chain with its head row, so deletion, insertion, reordering,
editing and truncation are all caught. A rewrite of the whole chain is caught against a
signed checkpoint (:mod:`core.audit.checkpoint`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from core.audit.models import GENESIS

__all__ = ["HASHED_COLUMNS", "ChainReport", "ChainVerifier", "event_hash", "verify_rows"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode

# The columns that enter the hash, in order (after the chain name).
HASHED_COLUMNS = (
    "seq",
    "at",
    "actor_user_id",
    "actor_roles",
    "action",
    "object_type",
    "object_id",
    "fields",
    "purpose",
    "outcome",
    "request_id",
    "client_addr",
    "prev_hash",
)


def _micros(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - _EPOCH) // _MICRO


def event_hash(chain: str, values: Sequence[Any]) -> str:
    """The hash of one event; ``values`` follow :data:`HASHED_COLUMNS`."""
    payload = [chain, values[0], _micros(values[1]), *values[2:]]
    return hashlib.sha256(_encode(payload)).hexdigest()


@dataclass
class ChainReport:
    chain: str
    events: int = 0
    ok: bool = True
    first_bad_seq: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS
    checkpoints: int = 0  # how many signed checkpoints the chain was compared with

    def fail(self, seq: int | None, reason: str) -> ChainReport:
        self.ok, self.first_bad_seq, self.reason = False, seq, reason
        return self


class ChainVerifier:
    """Feed rows of (*HASHED_COLUMNS, hash) in seq order, batch by batch; then ``finish``.

    ``after`` (seq, hash) checks only the events after one already known good (a signed
    checkpoint): the first row fed must be the next event, linked to that hash."""

    def __init__(
        self,
        chain: str,
        keep_hashes_at: set[int] | None = None,
        *,
        after: tuple[int, str] = (0, GENESIS),
    ) -> None:
        self.report = ChainReport(
            chain=chain, events=after[0], head_seq=after[0], head_hash=after[1]
        )
        self._expected, self._prev = after[0] + 1, after[1]
        self._keep = keep_hashes_at or set()
        self.hashes_at: dict[int, str] = {}

    def feed(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Check a batch of rows in seq order; False once the chain is known to be bad.

        Rows may come straight from a database driver: the time as a datetime, ISO text or
        integer microseconds, the two list columns as lists or JSON text. They are normalised
        inline, since this loop runs once per event over chains of millions."""
        report = self.report
        if not report.ok:
            return False
        chain, expected, prev, keep = report.chain, self._expected, self._prev, self._keep
        sha256, encode, decode, fromiso = hashlib.sha256, _encode, _decode, datetime.fromisoformat
        for row in rows:
            (
                seq,
                at,
                actor,
                roles,
                action,
                otype,
                oid,
                fields,
                purpose,
                outcome,
                rid,
                addr,
                link,
                stored,
            ) = row
            if seq != expected:
                what = "missing" if seq > expected else "duplicated or out of order"
                report.fail(
                    expected if seq > expected else seq, f"event {expected} {what} (found {seq})"
                )
                return False
            if link != prev:
                report.fail(seq, "link to the previous event is broken")
                return False
            if isinstance(at, int):  # microseconds already (PostgreSQL)
                micros = at
            else:
                if isinstance(at, str):
                    at = fromiso(at)
                if at.tzinfo is None:
                    at = at.replace(tzinfo=UTC)
                micros = (at - _EPOCH) // _MICRO
            digest = sha256(
                encode(
                    [
                        chain,
                        seq,
                        micros,
                        actor,
                        decode(roles) if isinstance(roles, str | bytes) else roles,
                        action,
                        otype,
                        oid,
                        decode(fields) if isinstance(fields, str | bytes) else fields,
                        purpose,
                        outcome,
                        rid,
                        addr,
                        link,
                    ]
                )
            ).hexdigest()
            if digest != stored:
                report.fail(seq, "event content does not match its hash")
                return False
            if seq in keep:
                self.hashes_at[seq] = digest
            prev = digest
            expected += 1
        report.events = expected - 1
        self._expected, self._prev = expected, prev
        return True

    def finish(self, head: tuple[int, str] | None) -> ChainReport:
        report = self.report
        if not report.ok:
            return report
        report.head_seq, report.head_hash = report.events, self._prev
        if head is not None and (head[0], head[1]) != (report.events, self._prev):
            if head[0] > report.events:
                return report.fail(
                    report.events + 1, f"chain truncated: head says {head[0]} events"
                )
            return report.fail(head[0] or 1, "chain head does not match the last event")
        return report


def verify_rows(
    chain: str, rows: Iterable[Sequence[Any]], head: tuple[int, str] | None
) -> ChainReport:
    """Check rows of (*HASHED_COLUMNS, hash), ordered by seq, against each other and the head."""
    verifier = ChainVerifier(chain)
    verifier.feed(rows)
    return verifier.finish(head)
