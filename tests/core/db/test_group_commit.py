"""Group commit: concurrent submissions share transactions, and each gets its own answer."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import Actor, AuditEntry, acting_as, current_actor, record_many
from core.audit.models import AuditEvent
from core.audit.verify import verify_tenant
from core.db.engine import Database
from core.db.group_commit import GroupCommit
from core.plugins.host import PluginHost
from core.tenancy.context import TenantContext
from tests.conftest import make_tenant


@pytest.fixture
async def tenant(db: Database, host: PluginHost) -> TenantContext:
    return await make_tenant(db, host, "gc-shoji")


class Recorder:
    """A handler that audits one event per item, in its group's transaction."""

    def __init__(self, poison: int | None = None, refuse: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.actors: list[Actor] = []
        self.poison, self.refuse = poison, refuse

    async def __call__(
        self, session: AsyncSession, ctx: TenantContext, items: list[int]
    ) -> list[int | Exception]:
        self.groups.append(list(items))
        self.actors.append(current_actor())
        if self.poison in items:
            raise RuntimeError("this transaction fails")
        kept = [i for i in items if i != self.refuse]
        await record_many(session, [AuditEntry("test.item", object_id=i) for i in kept])
        return [ValueError("refused") if i == self.refuse else i * 10 for i in items]


async def _items(db: Database, ctx: TenantContext) -> list[str]:
    async with db.session(ctx) as session:
        rows = await session.exec(
            select(AuditEvent.object_id)
            .where(AuditEvent.action == "test.item")
            .order_by(col(AuditEvent.seq))
        )
        return list(rows.all())


async def test_concurrent_items_commit_in_groups_and_each_gets_its_own_answer(
    db: Database, tenant: TenantContext
) -> None:
    handler = Recorder()
    group: GroupCommit[int, Any] = GroupCommit(db.for_groups(), handler, name="test")
    answers = await asyncio.gather(*(group.submit(tenant, i) for i in range(40)))
    assert answers == [i * 10 for i in range(40)]
    assert sorted(i for g in handler.groups for i in g) == list(range(40))
    assert len(handler.groups) < 40  # submissions that arrived together shared a transaction
    assert sorted(map(int, await _items(db, tenant))) == list(range(40))
    assert (await verify_tenant(db, tenant.id)).report.ok


async def test_an_item_answered_with_an_error_fails_alone(
    db: Database, tenant: TenantContext
) -> None:
    group: GroupCommit[int, Any] = GroupCommit(db.for_groups(), Recorder(refuse=3), name="test")
    results = await asyncio.gather(
        *(group.submit(tenant, i) for i in range(6)), return_exceptions=True
    )
    assert isinstance(results[3], ValueError)
    assert [r for n, r in enumerate(results) if n != 3] == [0, 10, 20, 40, 50]
    assert sorted(map(int, await _items(db, tenant))) == [0, 1, 2, 4, 5]


async def test_a_failing_transaction_is_tried_again_item_by_item(
    db: Database, tenant: TenantContext
) -> None:
    handler = Recorder(poison=2)
    group: GroupCommit[int, Any] = GroupCommit(db.for_groups(), handler, name="test")
    results = await asyncio.gather(
        *(group.submit(tenant, i) for i in range(5)), return_exceptions=True
    )
    assert isinstance(results[2], RuntimeError)
    assert [r for n, r in enumerate(results) if n != 2] == [0, 10, 30, 40]
    assert sorted(map(int, await _items(db, tenant))) == [0, 1, 3, 4]
    assert (await verify_tenant(db, tenant.id)).report.ok  # the failed group left no trace


async def test_the_writer_does_not_take_the_first_callers_actor(
    db: Database, tenant: TenantContext
) -> None:
    handler = Recorder()
    group: GroupCommit[int, Any] = GroupCommit(db.for_groups(), handler, name="test")
    with acting_as(Actor(user_id=42, roles=("operator",), via="api")):
        assert await group.submit(tenant, 1) == 10
    assert handler.actors[0].user_id is None  # each item carries its actor explicitly


@pytest.mark.parametrize("engine_kind", ["postgres"])
async def test_a_group_whose_connection_died_is_committed_on_fresh_ones(
    engine_kind: str, db: Database, tenant: TenantContext
) -> None:
    """The writers' pool skips the pre-ping; after the database dropped its connections (a
    restart, a failover) the group fails once and its items are tried again, each on a
    fresh connection, so none is lost."""
    import sqlalchemy as sa
    import structlog

    handler = Recorder()
    group: GroupCommit[int, Any] = GroupCommit(db.for_groups(), handler, name="test")
    assert await asyncio.gather(*(group.submit(tenant, i) for i in range(3))) == [0, 10, 20]
    async with db.engine.connect() as admin:
        killed = await admin.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        assert killed.scalar_one() >= 1
    with structlog.testing.capture_logs() as logs:
        answers = await asyncio.gather(*(group.submit(tenant, i) for i in range(3, 9)))
    assert answers == [i * 10 for i in range(3, 9)]
    assert [e["event"] for e in logs if e["event"].startswith("group_commit")] == [
        "group_commit_reconnected"
    ]
    async with db.engine.connect() as admin:  # and a lone request on an idle desk
        await admin.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert await group.submit(tenant, 9) == 90
    assert sorted(map(int, await _items(db, tenant))) == list(range(10))
    assert (await verify_tenant(db, tenant.id)).report.ok


@pytest.mark.parametrize("engine_kind", ["sqlite"])
async def test_a_writer_waiting_for_another_writer_leaves_the_loop_running(
    engine_kind: str, db: Database, tenant: TenantContext
) -> None:
    """SQLite group writers run their statements on the loop's thread; when another kind of
    writer holds the database, the group waits off the loop: other requests go on being
    served meanwhile, and the group commits once the lock is free."""
    from core.db.group_commit import take_write_lock

    group: GroupCommit[int, Any] = GroupCommit(db.for_groups(), Recorder(), name="test")
    assert await group.submit(tenant, 1) == 10  # connected, so the wait below is the lock's
    loop = asyncio.get_running_loop()
    async with db.session(tenant) as other:
        await take_write_lock(other)
        pending = asyncio.ensure_future(group.submit(tenant, 2))
        started = loop.time()
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert loop.time() - started < 1.0  # the loop was not held in a busy handler
        assert not pending.done()  # still waiting for the other writer's commit
    assert await asyncio.wait_for(pending, 10) == 20
    assert sorted(map(int, await _items(db, tenant))) == [1, 2]
    assert (await verify_tenant(db, tenant.id)).report.ok


async def test_a_busy_writer_gathers_its_clients_and_an_idle_one_does_not_wait(
    db: Database, tenant: TenantContext
) -> None:
    """Clients that submit again soon after their answer (a busy desk) come back spread out:
    the writer waits for most of those it answered instead of committing the first one back
    on its own. A lone request is never held back."""

    async def clients(group: GroupCommit[int, Any], count: int, rounds: int) -> None:
        async def client(n: int) -> None:
            for r in range(rounds):
                assert await group.submit(tenant, n * 100 + r) == (n * 100 + r) * 10
                await asyncio.sleep(0.0005 * n)  # answers reach the clients one after another

        await asyncio.gather(*(client(n) for n in range(count)))

    for gather in (0.5, 0.0):
        handler = Recorder()
        await clients(GroupCommit(db.for_groups(), handler, name="test", gather=gather), 12, 6)
        sizes = [len(g) for g in handler.groups]
        assert sum(sizes) == 72 and sizes[0] == 12
        # each group holds at least three quarters of the clients the one before answered
        # (in the first half: towards the end, clients that are done do not come back)
        first = sizes[: len(sizes) // 2 + 1]
        gathered = all(b >= a * 3 // 4 for a, b in itertools.pairwise(first))
        assert gathered is (gather > 0), sizes

    lone = GroupCommit(db.for_groups(), Recorder(), name="test", gather=30.0)
    for n in range(3):  # each alone: committed at once, not after 30 s
        assert await asyncio.wait_for(lone.submit(tenant, n), 10) == n * 10
