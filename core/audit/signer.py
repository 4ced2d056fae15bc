"""Taking checkpoints: signing the head of every chain that grew, once it is checked to
extend the chain's last checkpoint. Serving processes call :func:`take_checkpoints` every
minute and when they stop (:mod:`core.audit.checkpointer`); ``madoguchi audit checkpoint``
calls it at once.
"""

from __future__ import annotations

import base64
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
from core.audit.checkpoint import REVIEW, ChainRef
from core.audit.checkpoint_file import SignedHead
from core.audit.models import AuditCheckpoint, AuditHead, PlatformAuditCheckpoint, PlatformAuditHead
from core.audit.signing import checkpoint_message, signature_holds, signed_at_text
from core.db.base import utcnow
from core.db.engine import Database
from core.db.upsert import insert_ignore

__all__ = ["EVERY", "CheckpointRun", "take_checkpoints"]

EVERY = timedelta(minutes=1)
_BATCH = 5_000
log = structlog.get_logger("madoguchi.audit")


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


async def _moved_chains(db: Database) -> list[tuple[ChainRef, tuple[int, str]]]:
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
        moved = [(ChainRef(tid), (seq, digest)) for tid, seq, digest in heads]
        platform = await session.get(PlatformAuditHead, 1)
        platform_last = (
            await session.exec(select(func.coalesce(func.max(PlatformAuditCheckpoint.seq), 0)))
        ).one()
    if platform is not None and platform.seq != platform_last:
        moved.append((ChainRef(None), (platform.seq, platform.hash)))
    return moved


async def _sign_head(
    db: Database,
    key: Ed25519PrivateKey,
    chain: ChainRef,
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
    chain: ChainRef,
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
