"""Checkpoints come once a minute while events arrive, once per head however many processes
sign, never for a chain that does not extend its last one; a chain shorter than one fails."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from core.audit.checkpoint import verify_all
from core.audit.checkpointer import Checkpointer
from core.audit.log import Actor, acting_as, record
from core.audit.models import AuditCheckpoint, AuditHead
from core.audit.signer import take_checkpoints
from core.audit.signing import load_signing_key
from core.db.base import utcnow
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.settings import Settings
from core.tenancy.context import TenantContext
from tests.conftest import make_tenant
from tests.core.audit.tamper import Owner


async def add_events(db: Database, ctx: TenantContext, count: int) -> None:
    with acting_as(Actor(user_id=7, roles=("operator",))):
        for n in range(count):
            async with db.session(ctx) as session:
                await record(session, "pii.read", object_type="customer", object_id=f"c{n}")


async def new_tenant(db: Database, host: PluginHost, slug: str) -> tuple[TenantContext, int]:
    """A tenant and the number of events its chain starts with (its creation's settings)."""
    ctx = await make_tenant(db, host, slug, {})
    async with db.session(ctx) as session:
        head = (await session.exec(select(AuditHead))).first()
    return ctx, head.seq if head else 0


async def test_checkpoints_come_once_a_minute_while_events_arrive(
    db: Database, settings: Settings, host: PluginHost
) -> None:
    ctx, base = await new_tenant(db, host, "minute-co")
    chain = f"t:{ctx.id}"
    await add_events(db, ctx, 5)
    key = load_signing_key(settings)
    start = utcnow()
    assert (chain, base + 5) in (await take_checkpoints(db, key, now=start)).signed
    await add_events(db, ctx, 2)
    soon = await take_checkpoints(db, key, now=start + timedelta(seconds=30))
    assert chain not in dict(soon.signed)  # signed 30 s ago: the next minute's turn
    later = await take_checkpoints(db, key, now=start + timedelta(seconds=61))
    assert (chain, base + 7) in later.signed
    quiet = await take_checkpoints(db, key, now=start + timedelta(minutes=5))
    assert chain not in dict(quiet.signed)  # no new event, no new checkpoint
    async with db.session(ctx) as session:
        stored = (await session.exec(select(AuditCheckpoint.seq))).all()
    assert sorted(stored) == [base + 5, base + 7]


async def test_processes_signing_the_same_head_at_once_store_it_once(
    settings: Settings, host: PluginHost, db: Database
) -> None:
    ctx, base = await new_tenant(db, host, "together-co")
    await add_events(db, ctx, 4)
    key = load_signing_key(settings)
    processes = [Database(settings.database_url) for _ in range(5)]  # a pool each, as nodes
    try:
        runs = await asyncio.gather(
            *(take_checkpoints(p, key, every=timedelta(0)) for p in processes)
        )
    finally:
        for p in processes:
            await p.dispose()
    assert sum((f"t:{ctx.id}", base + 4) in run.signed for run in runs) >= 1
    async with db.session(ctx) as session:
        stored = (await session.exec(select(AuditCheckpoint.seq))).all()
    assert stored == [base + 4]
    assert (await verify_all(db, settings, ctx.id)).ok


async def test_the_checkpointer_signs_what_arrived_before_it_stopped(
    db: Database, settings: Settings, host: PluginHost
) -> None:
    ctx, base = await new_tenant(db, host, "loop-co")
    checkpointer = Checkpointer(db, load_signing_key(settings))
    running = asyncio.create_task(checkpointer.run())
    await add_events(db, ctx, 3)
    checkpointer.stop()
    await running
    async with db.session(ctx) as session:
        newest = (await session.exec(select(AuditCheckpoint.seq))).all()
    assert max(newest) == base + 3


async def test_a_rewritten_chain_is_not_signed_again(
    db: Database, settings: Settings, host: PluginHost
) -> None:
    ctx, base = await new_tenant(db, host, "rewrite-co")
    await add_events(db, ctx, 12)
    key = load_signing_key(settings)
    await take_checkpoints(db, key, every=timedelta(0))
    owner = Owner(settings, ctx.id)
    await owner.rewrite("書き換え", from_seq=base + 6)
    await owner.dispose()
    await add_events(db, ctx, 1)  # this event links to the rewritten head
    run = await take_checkpoints(db, key, every=timedelta(0))
    [refused] = [r for r in run.refused if r.chain == f"t:{ctx.id}"]
    assert refused.first_bad_seq == base + 13 and "link" in refused.reason
    async with db.session(ctx) as session:
        assert (await session.exec(select(AuditCheckpoint.seq))).all() == [base + 12]


@pytest.mark.parametrize("cut", [1, 7])
async def test_a_chain_shorter_than_a_checkpoint_fails_verification(
    db: Database, settings: Settings, host: PluginHost, cut: int
) -> None:
    ctx, base = await new_tenant(db, host, "short-co")
    await add_events(db, ctx, 10)
    await take_checkpoints(db, load_signing_key(settings), every=timedelta(0))
    owner = Owner(settings, ctx.id)
    await owner.truncate(base + 10 - cut)
    await owner.dispose()
    [report] = (await verify_all(db, settings, ctx.id)).reports
    assert (report.ok, report.first_bad_seq) == (False, base + 10 - cut + 1)
    assert f"chain ends before the checkpoint's event {base + 10}" in report.reason
