"""Every write of tenant configuration moves the tenant's config_version on, by any path.

A process keeps configuration rows (the active data key, a writer's queues) under the
``config_version`` it read them at; a write that does not move the version on leaves those
copies in use for good.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.base import utcnow
from core.db.engine import Database
from core.db.statements import TENANT, TenantStatement, defer, run, run_deferred
from core.db.upsert import insert_ignore
from core.pii.models import TenantKey
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant

INSERT = TenantStatement.insert(TenantKey)
DEACTIVATE = TenantStatement(
    sa.update(TenantKey).where(col(TenantKey.tenant_id) == TENANT).values(active=False)
)
DELETE = TenantStatement(sa.delete(TenantKey).where(col(TenantKey.tenant_id) == TENANT))


def key_row(tenant_id: int, version: int) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "version": version,
        "active": True,
        "wrapped": f"test-wrapped-{version}",
        "created_at": utcnow(),
        "rewrapped_at": None,
        "destroyed_at": None,
    }


async def orm_flush(session: AsyncSession, ctx: TenantContext) -> None:
    session.add(TenantKey(tenant_id=ctx.id, version=7, wrapped="test-wrapped-7"))
    await session.flush()
    session.add(TenantKey(tenant_id=ctx.id, version=8, wrapped="test-wrapped-8"))


async def orm_update(session: AsyncSession, ctx: TenantContext) -> None:
    await session.exec(sa.update(TenantKey).values(active=False))  # type: ignore[call-overload]


async def statement_insert(session: AsyncSession, ctx: TenantContext) -> None:
    await run(session, INSERT, [key_row(ctx.id, 7)])


async def statement_update(session: AsyncSession, ctx: TenantContext) -> None:
    await run(session, DEACTIVATE)


async def statement_delete(session: AsyncSession, ctx: TenantContext) -> None:
    await run(session, DELETE)


async def deferred_insert(session: AsyncSession, ctx: TenantContext) -> None:
    defer(session, INSERT, [key_row(ctx.id, 7), key_row(ctx.id, 8)])
    await run_deferred(session)


async def deferred_update(session: AsyncSession, ctx: TenantContext) -> None:
    defer(session, DEACTIVATE)
    await run_deferred(session)


async def upsert(session: AsyncSession, ctx: TenantContext) -> None:
    values = key_row(ctx.id, 7)
    await insert_ignore(session, TenantKey, values, ["tenant_id", "version"])


WRITES: dict[str, Callable[[AsyncSession, TenantContext], Awaitable[None]]] = {
    "orm_flush": orm_flush,
    "orm_update": orm_update,
    "statement_insert": statement_insert,
    "statement_update": statement_update,
    "statement_delete": statement_delete,
    "deferred_insert": deferred_insert,
    "deferred_update": deferred_update,
    "insert_ignore": upsert,
}


async def config_version(db: Database, ctx: TenantContext) -> int:
    async with db.session() as session:
        return (await session.exec(select(Tenant.config_version).where(Tenant.id == ctx.id))).one()


@pytest.mark.parametrize("path", sorted(WRITES))
async def test_a_configuration_write_moves_the_version_on_once_when_it_commits(
    path: str, db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    async with db.session(a) as session:  # a data key to change (the first one)
        await insert_ignore(session, TenantKey, key_row(a.id, 1), ["tenant_id", "version"])
    before, other = await config_version(db, a), await config_version(db, b)

    with pytest.raises(RuntimeError):  # rolled back: the configuration did not change
        async with db.session(a) as session:
            await WRITES[path](session, a)
            raise RuntimeError("rolled back")
    assert await config_version(db, a) == before

    async with db.session(a) as session:
        await WRITES[path](session, a)
    assert await config_version(db, a) == before + 1
    assert await config_version(db, b) == other  # another tenant's copies stay good


async def test_reads_and_other_writes_leave_the_version_alone(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, _ = two_tenants
    before = await config_version(db, a)
    async with db.session(a) as session:
        (await session.exec(select(TenantKey))).all()
        await run(
            session,
            TenantStatement(sa.select(col(TenantKey.id)).where(col(TenantKey.tenant_id) == TENANT)),
        )
    assert await config_version(db, a) == before
