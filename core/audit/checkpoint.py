"""Signed checkpoints of the audit chains: reading them, and checking the chains against them.

A checkpoint signs one chain's head (the seq and hash of its last event) with the key kept
outside the data directory (:mod:`core.audit.signing`); :mod:`core.audit.signer` takes them.
They are rows (``audit_checkpoint``, one
tenant's chain each, and ``platform_audit_checkpoint``), append-only for the app role, so that
every node serves them and each client downloads its own chain's.

Whoever rewrites a chain, recomputing every hash, cannot make the event at a checkpointed seq
match its signed hash. Whoever also deletes the stored checkpoints is caught by the copies held
outside the system (clients' downloads, the operator's exports): ``audit verify --checkpoints``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.chain import ChainReport
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
)
from core.audit.signing import (
    check_key_location,
    key_id,
    load_signing_key,
    public_key_pem,
    signature_holds,
    signed_at_text,
)
from core.audit.verify import verify_platform, verify_tenant
from core.db.engine import Database
from core.settings import Settings
from core.tenancy.models import Tenant

__all__ = [
    "REVIEW",
    "ChainRef",
    "VerifyResult",
    "chain_checkpoints",
    "checkpoint_document",
    "document_of",
    "verify_all",
]

REVIEW = "audit-review"  # the cross-tenant reason the audit tables declare


@dataclass(frozen=True)
class ChainRef:
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
    model = ChainRef(tenant_id).checkpoint
    statement = select(model).order_by(col(model.seq).desc()).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return [_signed(row) for row in (await session.exec(statement)).all()]


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
) -> list[ChainRef]:
    if tenant_id is not None:
        return [ChainRef(tenant_id)]
    async with db.session(cross_tenant=REVIEW) as session:
        ids = set((await session.exec(select(Tenant.id))).all())
        ids |= set((await session.exec(select(AuditHead.tenant_id))).all())
        ids |= set((await session.exec(select(AuditCheckpoint.tenant_id).distinct())).all())
    ids |= {i for i in map(chain_tenant_id, held) if i is not None}
    chains = [ChainRef(i) for i in sorted(i for i in ids if i is not None)]
    return [*chains, ChainRef(None)] if include_platform else chains


async def _verify_chain(
    db: Database, chain: ChainRef, checkpoints: list[SignedHead], forged: list[int]
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
    for chain in [*(ChainRef(i) for i in ids), ChainRef(None)]:
        async with db.session(chain.tenant_id) as session:
            heads = await chain_checkpoints(session, chain.tenant_id, limit=per_chain)
        if heads:
            tenant = slugs.get(chain.tenant_id) if chain.tenant_id is not None else None
            groups.append(ChainCheckpoints(chain.name, heads, tenant))
    return document_of(key.public_key(), groups)


def document_of(public: Ed25519PublicKey, groups: list[ChainCheckpoints]) -> CheckpointDocument:
    return CheckpointDocument(FORMAT, public_key_pem(public), groups, key_id(public))
