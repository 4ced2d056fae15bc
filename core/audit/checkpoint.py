"""Signed checkpoints of the audit chains: taking them, and checking the chains against them.

A checkpoint signs one chain's head (the seq and hash of its last event) with the key kept
outside the data directory (:mod:`core.audit.signing`). Serving processes take them every
minute while events arrive and when they stop (:mod:`core.audit.checkpointer`);
``madoguchi audit checkpoint`` takes them at once. They are rows (``audit_checkpoint``, one
tenant's chain each, and ``platform_audit_checkpoint``), append-only for the app role, so that
every node serves them and each client downloads its own chain's.

Whoever rewrites a chain, recomputing every hash, cannot make the event at a checkpointed seq
match its signed hash. Whoever also deletes the stored checkpoints is caught by the copies held
outside the system (clients' downloads, the operator's exports): ``audit verify --checkpoints``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.chain import HASHED_COLUMNS, ChainReport, ChainVerifier
from core.audit.checkpoint_file import (
    FORMAT,
    ChainCheckpoints,
    CheckpointDocument,
    SignedHead,
    chain_tenant_id,
)
from core.audit.log import tenant_chain
from core.audit.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditHead,
    PlatformAuditCheckpoint,
    PlatformAuditEvent,
    PlatformAuditHead,
)
from core.audit.signing import (
    check_key_location,
    checkpoint_message,
    key_id,
    load_signing_key,
    public_key_pem,
    signature_holds,
    signed_at_text,
)
from core.audit.verify import verify_platform, verify_tenant
from core.db.base import utcnow
from core.db.engine import Database
from core.db.upsert import insert_ignore
from core.settings import Settings
from core.tenancy.models import Tenant

__all__ = [
    "EVERY",
    "CheckpointRun",
    "VerifyResult",
    "chain_checkpoints",
    "checkpoint_document",
    "document_of",
    "take_checkpoints",
    "verify_all",
]

REVIEW = "audit-review"
EVERY = timedelta(minutes=1)
_BATCH = 5_000
log = structlog.get_logger("madoguchi.audit")


@dataclass(frozen=True)
class _Chain:
    """One chain and its tables: a tenant's (``tenant_id``) or the platform's (None)."""

    tenant_id: int | None

    @property
    def name(self) -> str:
        return "platform" if self.tenant_id is None else tenant_chain(self.tenant_id)

    @property
    def event(self) -> Any:
        return PlatformAuditEvent if self.tenant_id is None else AuditEvent

    @property
    def checkpoint(self) -> Any:
        return PlatformAuditCheckpoint if self.tenant_id is None else AuditCheckpoint


def _signed(row: Any) -> SignedHead:
    return SignedHead(row.seq, row.hash, signed_at_text(row.signed_at), row.signature)


async def chain_checkpoints(
    session: AsyncSession, tenant_id: int | None, *, limit: int | None = None, offset: int = 0
) -> list[SignedHead]:
    """The stored checkpoints of the session's chain (``tenant_id``'s, or the platform's
    with None), newest first. The session must be bound to that tenant."""
    model = _Chain(tenant_id).checkpoint
    statement = select(model).order_by(col(model.seq).desc()).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return [_signed(row) for row in (await session.exec(statement)).all()]


# -- taking checkpoints ----------------------------------------------------------------------


@dataclass
class CheckpointRun:
    signed: list[tuple[str, int]] = field(default_factory=list)  # (chain, seq)
    refused: list[ChainReport] = field(default_factory=list)


async def take_checkpoints(
    db: Database,
    key: Ed25519PrivateKey,
    *,
    every: timedelta = EVERY,
    now: datetime | None = None,
) -> CheckpointRun:
    """Sign the head of every chain that grew since its last checkpoint, unless that one is
    younger than ``every`` (each serving process calls this every minute: the first to come
    signs, the others find it done). ``every=timedelta(0)`` signs every grown chain now.

    A head is signed only once the events since the last checkpoint are checked to extend it;
    a chain that does not (rewritten, truncated, a forged checkpoint) is left unsigned and
    logged as ``audit_checkpoint_refused``. Two processes signing the same head store one row.
    """
    now = now or utcnow()
    run = CheckpointRun()
    for chain, head in await _moved_chains(db):
        outcome = await _sign_head(db, key, chain, head, now, every)
        if isinstance(outcome, ChainReport):
            run.refused.append(outcome)
            log.error(
                "audit_checkpoint_refused",
                chain=chain.name,
                seq=outcome.first_bad_seq,
                reason=outcome.reason,
            )
        elif outcome is not None:
            run.signed.append((chain.name, outcome.seq))
    return run


async def _moved_chains(db: Database) -> list[tuple[_Chain, tuple[int, str]]]:
    """The chains whose head is not their last checkpoint, with their head (seq, hash)."""
    signed = aliased(AuditCheckpoint)
    last = (
        select(func.coalesce(func.max(signed.seq), 0))
        .where(signed.tenant_id == AuditHead.tenant_id)
        .correlate(AuditHead)
        .scalar_subquery()
    )
    async with db.session(cross_tenant=REVIEW) as session:
        heads = (
            await session.exec(
                select(AuditHead.tenant_id, AuditHead.seq, AuditHead.hash)
                .where(col(AuditHead.seq) != last)
                .order_by(col(AuditHead.tenant_id))
            )
        ).all()
        moved = [(_Chain(tid), (seq, digest)) for tid, seq, digest in heads]
        platform = await session.get(PlatformAuditHead, 1)
        platform_last = (
            await session.exec(select(func.coalesce(func.max(PlatformAuditCheckpoint.seq), 0)))
        ).one()
    if platform is not None and platform.seq != platform_last:
        moved.append((_Chain(None), (platform.seq, platform.hash)))
    return moved


async def _sign_head(
    db: Database,
    key: Ed25519PrivateKey,
    chain: _Chain,
    head: tuple[int, str],
    now: datetime,
    every: timedelta,
) -> SignedHead | ChainReport | None:
    async with db.session(chain.tenant_id) as session:
        model = chain.checkpoint
        base = (await session.exec(select(model).order_by(col(model.seq).desc()).limit(1))).first()
        if base is not None and every and now - base.signed_at < every:
            return None
        report = await _extends(session, key.public_key(), chain, base, head)
        if not report.ok:
            return report
        at = signed_at_text(now)
        signature = base64.b64encode(
            key.sign(checkpoint_message(chain.name, head[0], report.head_hash, at))
        ).decode()
        values: dict[str, Any] = {
            "seq": head[0],
            "hash": report.head_hash,
            "signed_at": now,
            "signature": signature,
        }
        conflict = ["seq"]
        if chain.tenant_id is not None:
            values["tenant_id"] = chain.tenant_id
            conflict = ["tenant_id", "seq"]
        await insert_ignore(session, model, values, conflict)
        return SignedHead(head[0], report.head_hash, at, signature)


async def _extends(
    session: AsyncSession,
    public: Ed25519PublicKey,
    chain: _Chain,
    base: Any,
    head: tuple[int, str],
) -> ChainReport:
    """Check the events after the last checkpoint ``base`` (all, without one) up to ``head``:
    each links to the one before, the first to the signed hash, the last is the head."""
    if base is None:
        verifier = ChainVerifier(chain.name)
    else:
        verifier = ChainVerifier(chain.name, after=(base.seq, base.hash))
        if not signature_holds(
            public, chain.name, base.seq, base.hash, signed_at_text(base.signed_at), base.signature
        ):
            return verifier.report.fail(base.seq, "its last checkpoint's signature does not hold")
        if head[0] < base.seq:
            return verifier.report.fail(
                head[0] + 1, f"chain ends before its checkpoint's event {base.seq}"
            )
    event = chain.event
    columns = [getattr(event, name) for name in (*HASHED_COLUMNS, "hash")]
    done = verifier.report.events
    while done < head[0]:
        rows = (
            await session.exec(
                select(*columns)
                .where(col(event.seq) > done, col(event.seq) <= head[0])
                .order_by(col(event.seq))
                .limit(_BATCH)
            )
        ).all()
        if not rows or not verifier.feed(rows):
            break
        done = rows[-1][0]
    return verifier.finish(head)


# -- checking the chains against checkpoints ---------------------------------------------------


@dataclass
class VerifyResult:
    reports: list[ChainReport]
    checkpoint: str | None  # when the newest stored checkpoint was signed

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)


async def verify_all(
    db: Database,
    settings: Settings,
    tenant_id: int | None = None,
    *,
    include_platform: bool = True,
    outside: Sequence[CheckpointDocument] = (),
) -> VerifyResult:
    """Verify the chains (one tenant's, or every chain that exists or that a checkpoint names)
    and compare each with every checkpoint of it: the stored ones (signatures checked with this
    installation's key) and those ``outside`` the system (checked with each file's own key). A
    checkpoint beyond the end of its chain, or of a chain that is gone, fails the chain.
    Raises :class:`core.audit.signing.SigningKeyError` for a key kept in the data directory."""
    check_key_location(settings)
    held = _outside_checkpoints(outside)
    chains = await _chains_to_verify(db, tenant_id, include_platform, held)
    public: Ed25519PublicKey | None = None
    newest: str | None = None
    reports: list[ChainReport] = []
    for chain in chains:
        async with db.session(chain.tenant_id) as session:
            stored = await chain_checkpoints(session, chain.tenant_id)
        outside_heads = held.get(chain.name, _Held())
        forged = list(outside_heads.forged)
        if stored:
            if public is None:
                public = load_signing_key(settings, create=False).public_key()
            newest = max(newest or "", stored[0].signed_at)
            forged += [
                c.seq
                for c in stored
                if not signature_holds(public, chain.name, c.seq, c.hash, c.signed_at, c.signature)
            ]
        checkpoints = [*stored, *outside_heads.heads]
        reports.append(await _verify_chain(db, chain, checkpoints, sorted(forged)))
    return VerifyResult(reports, newest)


@dataclass
class _Held:
    """One chain's checkpoints from files, and the seqs of those whose signature fails."""

    heads: list[SignedHead] = field(default_factory=list)
    forged: list[int] = field(default_factory=list)


def _outside_checkpoints(documents: Sequence[CheckpointDocument]) -> dict[str, _Held]:
    held: dict[str, _Held] = {}
    for document in documents:
        forged = set(document.forged())
        for group in document.chains:
            entry = held.setdefault(group.chain, _Held())
            entry.heads += group.checkpoints
            entry.forged += [c.seq for c in group.checkpoints if (group.chain, c.seq) in forged]
    return held


async def _chains_to_verify(
    db: Database, tenant_id: int | None, include_platform: bool, held: dict[str, _Held]
) -> list[_Chain]:
    if tenant_id is not None:
        return [_Chain(tenant_id)]
    async with db.session(cross_tenant=REVIEW) as session:
        ids = set((await session.exec(select(Tenant.id))).all())
        ids |= set((await session.exec(select(AuditHead.tenant_id))).all())
        ids |= set((await session.exec(select(AuditCheckpoint.tenant_id).distinct())).all())
    ids |= {i for i in map(chain_tenant_id, held) if i is not None}
    chains = [_Chain(i) for i in sorted(i for i in ids if i is not None)]
    return [*chains, _Chain(None)] if include_platform else chains


async def _verify_chain(
    db: Database, chain: _Chain, checkpoints: list[SignedHead], forged: list[int]
) -> ChainReport:
    wanted = {c.seq for c in checkpoints}
    if chain.tenant_id is None:
        verifier = await verify_platform(db, keep_hashes_at=wanted)
    else:
        verifier = await verify_tenant(db, chain.tenant_id, keep_hashes_at=wanted)
    report = verifier.report
    report.checkpoints = len(checkpoints)
    if not report.ok:
        return report
    if forged:
        return report.fail(forged[0], f"checkpoint of event {forged[0]}: signature does not hold")
    for signed in sorted(checkpoints, key=lambda c: c.seq):
        if signed.seq <= 0:
            continue
        if report.events == 0:
            return report.fail(
                1,
                f"chain is missing, but a checkpoint ({signed.signed_at}) names its event "
                f"{signed.seq}",
            )
        if report.events < signed.seq:
            return report.fail(
                report.events + 1,
                f"chain ends before the checkpoint's event {signed.seq} ({signed.signed_at})",
            )
        if verifier.hashes_at.get(signed.seq) != signed.hash:
            return report.fail(
                signed.seq, f"chain was rewritten since the checkpoint of {signed.signed_at}"
            )
    return report


# -- documents: a client's download, the operator's copy ------------------------------------------


async def checkpoint_document(
    db: Database, key: Ed25519PrivateKey, *, per_chain: int = 1
) -> CheckpointDocument:
    """Every chain's newest ``per_chain`` checkpoints, for the operator to keep outside."""
    async with db.session(cross_tenant=REVIEW) as session:
        ids = sorted(set((await session.exec(select(AuditCheckpoint.tenant_id).distinct())).all()))
        slugs = dict((await session.exec(select(Tenant.id, Tenant.slug))).all())
    groups: list[ChainCheckpoints] = []
    for chain in [*(_Chain(i) for i in ids), _Chain(None)]:
        async with db.session(chain.tenant_id) as session:
            heads = await chain_checkpoints(session, chain.tenant_id, limit=per_chain)
        if heads:
            tenant = slugs.get(chain.tenant_id) if chain.tenant_id is not None else None
            groups.append(ChainCheckpoints(chain.name, heads, tenant))
    return document_of(key.public_key(), groups)


def document_of(public: Ed25519PublicKey, groups: list[ChainCheckpoints]) -> CheckpointDocument:
    return CheckpointDocument(FORMAT, public_key_pem(public), groups, key_id(public))
