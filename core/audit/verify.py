"""Recomputing the chains from the database: ``madoguchi audit verify``.

Rows are streamed in batches, so a chain of millions of events is checked in bounded memory.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from core.audit.chain import HASHED_COLUMNS, ChainVerifier
from core.audit.log import tenant_chain
from core.audit.models import (
    GENESIS,
    AuditEvent,
    AuditHead,
    PlatformAuditEvent,
    PlatformAuditHead,
)
from core.db.engine import Database

__all__ = ["verify_platform", "verify_tenant"]

_BATCH = 20_000


async def _verify(db: Database, model: Any, tenant_id: int | None, verifier: ChainVerifier) -> None:
    columns = [getattr(model, name) for name in (*HASHED_COLUMNS, "hash")]
    statement = select(*columns).order_by(col(model.seq)).execution_options(yield_per=_BATCH)
    async with db.session(tenant_id) as session:
        result = await session.stream(statement)
        async for partition in result.partitions(_BATCH):
            if not verifier.feed(partition):
                break
        await result.close()


async def verify_tenant(
    db: Database, tenant_id: int, *, keep_hashes_at: set[int] | None = None
) -> ChainVerifier:
    """Verify one tenant's chain (``verifier.report``), keeping the recomputed hashes at the
    given sequence numbers (``verifier.hashes_at``) for comparison with a checkpoint."""
    verifier = ChainVerifier(tenant_chain(tenant_id), keep_hashes_at)
    await _verify(db, AuditEvent, tenant_id, verifier)
    async with db.session(tenant_id) as session:
        head = (await session.exec(select(AuditHead))).first()
    verifier.finish((head.seq, head.hash) if head else (0, GENESIS))
    return verifier


async def verify_platform(db: Database, *, keep_hashes_at: set[int] | None = None) -> ChainVerifier:
    verifier = ChainVerifier("platform", keep_hashes_at)
    await _verify(db, PlatformAuditEvent, None, verifier)
    async with db.session() as session:
        head = await session.get(PlatformAuditHead, 1)
    verifier.finish((head.seq, head.hash) if head else (0, GENESIS))
    return verifier
