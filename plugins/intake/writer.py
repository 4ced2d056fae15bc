"""Inquiries from the API, committed in groups (:class:`core.GroupCommit`).

The request does what needs no database: validation, normalisation, the body's hash, a
plugin's queue choice. Its submission then joins the tenant's next group. Before its turn the
group checks access again (the gate took the caller from a short cache; a revoke is seen from
then on, milliseconds before the write), reads the Idempotency-Keys and the queues; in its
turn it finds the customers, registers the inquiries and stores their answers with the keys.
A key or queue that changed in between fails the insert (unique and foreign keys) and the
item is tried again alone. Each request is answered after the commit, so an acknowledged
inquiry is stored.

A key still being processed in this process gets 409 at once; across processes and nodes
:mod:`plugins.intake.idempotency` tells.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from sqlmodel.ext.asyncio.session import AsyncSession

from core import (
    AccessClaim,
    ApiError,
    AuditEntry,
    CommitCache,
    GroupCommit,
    PersonalData,
    Rechecked,
    TenantContext,
    TenantStatement,
    audit_many,
    defer,
    recheck_access,
    run_deferred,
)
from plugins.intake.idempotency import (
    IN_FLIGHT,
    Replay,
    body_hasher,
    hash_version,
    keys_from_rows,
    keys_read,
    settle,
)
from plugins.intake.models import IdempotencyRecord
from plugins.intake.registration import NewInquiry, Registered, read_queues, register_inquiries
from plugins.intake.schemas import InquiryRead
from plugins.intake.vocabulary import (
    Vocabulary,
    VocabularyError,
    check_inquiry_labels,
    read_vocabulary,
)

__all__ = ["Outcome", "Submission", "writer_of"]

STORE_KEYS = TenantStatement.insert(IdempotencyRecord)  # built once
SLA_RECHECK = 60.0  # seconds; the watch renews itself every minute, this only restarts it


@dataclass
class Submission:
    claim: AccessClaim
    key: str | None
    body: bytes  # the canonical request body, hashed (keyed) for the Idempotency-Key
    inquiry: NewInquiry


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def response_body(registered: Registered) -> dict[str, Any]:
    return InquiryRead.model_validate(registered, from_attributes=True).model_dump(mode="json")


def _unknown_labels(vocabulary: Vocabulary, inquiry: NewInquiry) -> ApiError | None:
    """422 naming a category or tag the tenant's vocabulary lacks; None if all are known."""
    try:
        check_inquiry_labels(vocabulary, inquiry.category, list(inquiry.tags))
    except VocabularyError as exc:
        return ApiError(422, exc.message, field=exc.field)
    return None


@dataclass(frozen=True)
class _Read:
    """What a group read before its turn."""

    rechecked: Rechecked
    answers: list[Outcome | Exception | None]  # None: to register
    entries: list[AuditEntry]  # the denials' audit entries, recorded with the group's
    queues: list[Any]


@dataclass
class InquiryWriter:
    core: Any
    group: GroupCommit[Submission, Outcome] = field(init=False)
    in_flight: set[tuple[int, str]] = field(default_factory=set)
    # tenant id -> when this process last made sure the SLA watch job is queued (kept
    # once that group committed, as everything a transaction reads or makes)
    sla_checked: CommitCache[int, float] = field(default_factory=CommitCache)
    # tenant id -> (config_version, its queues): queues are tenant configuration, whose
    # every write moves the version on (``__tenant_config__``), which each group reads
    queues: CommitCache[int, tuple[int, list[Any]]] = field(default_factory=CommitCache)
    # tenant id -> (config_version, its vocabulary), kept the same way as the queues
    vocabularies: CommitCache[int, tuple[int, Vocabulary]] = field(default_factory=CommitCache)

    def __post_init__(self) -> None:
        self.group = GroupCommit(
            self.core.db.for_groups(), self._write, name="intake.inquiries", prepare=self._read
        )

    async def submit(self, ctx: TenantContext, submission: Submission) -> Outcome:
        """Register the inquiry in the tenant's next group; raises ApiError for a refusal."""
        mark = (ctx.id, submission.key) if submission.key else None
        if mark is not None:
            if mark in self.in_flight:
                raise ApiError(409, IN_FLIGHT)
            self.in_flight.add(mark)
        try:
            return await self.group.submit(ctx, submission)
        finally:
            if mark is not None:
                self.in_flight.discard(mark)

    async def _read(
        self, session: AsyncSession, ctx: TenantContext, group: list[Submission]
    ) -> _Read:
        """Before the group's turn: access again, the Idempotency-Keys, the queues."""
        entries: list[AuditEntry] = []  # recorded last: the chain's head is held until commit
        keys = sorted({s.key for s in group if s.key})
        also = [keys_read(self.core.db.dialect, ctx.id, keys)] if keys else []
        # the keys go with the recheck, in one round trip: a denied item's key is read too,
        # and its answer stays the denial
        rechecked = await recheck_access(
            session, self.core, ctx, [s.claim for s in group], audit_into=entries, also=also
        )
        answers: list[Outcome | Exception | None] = list(rechecked.answers)
        if keys:
            held, stored = keys_from_rows(rechecked.also[0])
            data_keys = await self._hash_keys(session, ctx, stored.values())
            for n, submission in enumerate(group):
                if submission.key and answers[n] is None:
                    settled = settle(
                        submission.key,
                        submission.body,
                        held,
                        stored.get(submission.key),
                        data_keys,
                    )
                    answers[n] = (
                        Outcome(settled.status, settled.body, replayed=True)
                        if isinstance(settled, Replay)
                        else settled
                    )
        queues = await self._queues(session, ctx, rechecked) if None in answers else []
        labelled = [n for n, s in enumerate(group) if s.inquiry.category or s.inquiry.tags]
        if any(answers[n] is None for n in labelled):  # a desk that labels nothing reads none
            vocabulary = await self._vocabulary(session, ctx, rechecked)
            for n in labelled:
                if answers[n] is None:
                    answers[n] = _unknown_labels(vocabulary, group[n].inquiry)
        return _Read(rechecked, answers, entries, queues)

    async def _hash_keys(
        self, session: AsyncSession, ctx: TenantContext, records: Iterable[Any]
    ) -> dict[int, bytes | None]:
        """The data keys the stored records' hashes were made under (None: destroyed since).
        Only a repeat of a key reads one: a first request has no record."""
        found: dict[int, bytes | None] = {}
        for version in {hash_version(r.request_hash) for r in records} - {None}:
            assert version is not None
            try:
                found[version] = await self.core.keyring.key_version(session, ctx.id, version)
            except ValueError:  # no such version any more, or shredded
                found[version] = None
        return found

    async def _vocabulary(
        self, session: AsyncSession, ctx: TenantContext, read: Rechecked
    ) -> Vocabulary:
        """The tenant's vocabulary: as read before under the same config_version, else
        afresh (tenant configuration, like the queues)."""
        known = self.vocabularies.get(session, ctx.id)
        if known is not None and known[0] == read.config_version:
            return known[1]
        vocabulary = await read_vocabulary(session)
        if read.config_version is not None:
            self.vocabularies.put(session, ctx.id, (read.config_version, vocabulary))
        return vocabulary

    async def _queues(
        self, session: AsyncSession, ctx: TenantContext, read: Rechecked
    ) -> list[Any]:
        """The tenant's queues: as read before under the same config_version, else afresh."""
        known = self.queues.get(session, ctx.id)
        if known is not None and known[0] == read.config_version:
            return known[1]
        queues = await read_queues(session)
        if queues and read.config_version is not None:  # none yet: the first group makes one
            self.queues.put(session, ctx.id, (read.config_version, queues))
        return queues

    async def _write(
        self, session: AsyncSession, ctx: TenantContext, group: list[Submission], read: _Read
    ) -> list[Outcome | Exception]:
        rechecked, answers, entries = read.rechecked, list(read.answers), list(read.entries)
        todo = [n for n, answer in enumerate(answers) if answer is None]
        if todo:
            _, stored_settings = rechecked.plugins.get("intake", (False, {}))
            settings = self.core.host.manifest("intake").validate_settings(stored_settings)
            pd = PersonalData(
                self.core.db, session, self.core.keyring, ctx, rechecked.config_version
            )
            now = time.monotonic()
            last = self.sla_checked.get(session, ctx.id)
            watch = last is None or now - last >= SLA_RECHECK
            registered = await register_inquiries(
                session,
                pd,
                ctx,
                settings,
                [group[n].inquiry for n in todo],
                audit_into=entries,
                watch_sla=watch,
                queues=read.queues,
                deferred=True,
            )
            if watch:
                self.sla_checked.put(session, ctx.id, now)
            records = []
            if any(group[n].key for n in todo):  # the key PersonalData just used, kept
                digest = body_hasher(
                    *await self.core.keyring.active_key(session, ctx.id, rechecked.config_version)
                )
            for n, done in zip(todo, registered, strict=True):
                body = response_body(done)
                answers[n] = Outcome(201, body)
                key = group[n].key
                if key:
                    records.append(
                        {
                            "tenant_id": ctx.id,
                            "key": key,
                            "request_hash": digest(group[n].body),
                            "state": "done",
                            "response_status": 201,
                            "response_body": body,
                            "created_at": done.created_at,
                        }
                    )
            if records:
                defer(session, STORE_KEYS, records)
        await audit_many(session, entries, deferred=True)
        await run_deferred(session)  # the messages, keys and audit events: one statement
        return [a if a is not None else RuntimeError("unanswered") for a in answers]


def writer_of(request: Request[Any, Any, Any]) -> InquiryWriter:
    """The app's writer (one per app instance, made on first use)."""
    state = request.app.state
    writer: InquiryWriter | None = state.get("intake_writer")
    if writer is None:
        writer = InquiryWriter(state.core)
        state["intake_writer"] = writer
    return writer
