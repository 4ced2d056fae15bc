"""Recomputing the chains from the database: ``madoguchi audit verify``.

Rows are streamed in batches, so a chain of millions of events is checked in bounded memory.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

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
from core.db.migrate import sync_url

__all__ = ["verify_platform", "verify_tenant"]

_BATCH = 20_000


def _stream_sync(url: str, table: str, tenant_id: int | None, verifier: ChainVerifier) -> None:
    """Read the chain with the plain driver in a worker thread: over millions of rows the
    async driver's per-batch hops cost more than the hashing. The tenant predicate is
    written out here, and on PostgreSQL the app role's row-level security applies as well."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            mark = "%s" if postgres else "?"
            where = f"WHERE tenant_id = {mark}" if tenant_id is not None else ""
            # jsonb as text: msgspec decodes it faster than the driver's json.loads
            # and the time as integer microseconds (exact: extract() is numeric since PG 14)
            columns = [
                f"{c}::text" if postgres and c in ("actor_roles", "fields") else c
                for c in (*HASHED_COLUMNS, "hash")
            ]
            if postgres:
                columns[1] = "(extract(epoch FROM at) * 1000000)::bigint"
            sql = f"SELECT {', '.join(columns)} FROM {table} {where} ORDER BY seq"
            params = (tenant_id,) if tenant_id is not None else ()
            raw = connection.connection.dbapi_connection
            assert raw is not None
            if postgres:
                connection.exec_driver_sql(
                    "SELECT set_config('app.tenant_id', %s, false)", (str(tenant_id or ""),)
                )
                cursor = raw.cursor(name="audit_verify")  # server-side: bounded memory
                cursor.itersize = _BATCH  # type: ignore[attr-defined]
            else:
                cursor = raw.cursor()
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(_BATCH):
                if not verifier.feed(batch):
                    break
            cursor.close()
            connection.rollback()
    finally:
        engine.dispose()


async def _verify(db: Database, model: Any, tenant_id: int | None, verifier: ChainVerifier) -> None:
    await asyncio.to_thread(_stream_sync, db.url, model.__tablename__, tenant_id, verifier)


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
