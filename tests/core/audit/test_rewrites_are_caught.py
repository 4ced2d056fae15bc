"""A rewrite, a cut or a removed chain fails verification, though nobody made a checkpoint by
hand: the serving process signs the chains. (Only interfaces older than the checkpoint table
are used here, so these tests also run against a release without it, and fail there.)"""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from core.app import create_app
from core.audit.checkpoint import verify_all
from core.audit.verify import verify_tenant
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.conftest import World
from tests.core.audit.cli import invoke
from tests.core.audit.tamper import Owner


async def serve_a_while(db: Database, settings: Settings, host: PluginHost, world: World) -> int:
    """Start the app, let an operator read a customer three times, stop the app; returns the
    length of tenant A's chain before."""
    before = (await verify_tenant(db, world.a.id)).report.events
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        for _ in range(3):
            read = await client.get(
                f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}",
                headers=world.headers["a:operator"],
            )
            assert read.status_code == 200
    return before


async def test_a_consistent_rewrite_is_caught_though_nobody_made_a_checkpoint(
    db: Database, settings: Settings, host: PluginHost, world: World
) -> None:
    await serve_a_while(db, settings, host, world)  # the serving process signed when it stopped
    owner = Owner(settings, world.a.id)
    await owner.rewrite("改ざんされた目的")
    await owner.dispose()
    assert (await verify_tenant(db, world.a.id)).report.ok  # consistent in itself
    [report] = (await verify_all(db, settings, world.a.id)).reports
    assert not report.ok and "rewritten since the checkpoint" in report.reason


async def test_events_after_the_last_checkpoint_cannot_be_deleted_unnoticed(
    db: Database, settings: Settings, host: PluginHost, world: World
) -> None:
    assert (await invoke(settings, "audit", "checkpoint")).exit_code == 0
    kept = await serve_a_while(db, settings, host, world)
    owner = Owner(settings, world.a.id)
    await owner.truncate(kept)  # the reads while serving deleted, the head re-hashed
    await owner.dispose()
    assert (await verify_tenant(db, world.a.id)).report.ok
    verified = await invoke(settings, "audit", "verify", "--tenant", world.a.slug)
    assert verified.exit_code == 1
    assert f"t:{world.a.id}: BROKEN at event {kept + 1}: chain ends before" in verified.output


async def test_a_checkpoint_of_a_chain_that_no_longer_exists_fails_verification(
    db: Database, settings: Settings, world: World
) -> None:
    assert (await invoke(settings, "audit", "checkpoint")).exit_code == 0
    owner = Owner(settings, world.b.id)
    # tenant B and its whole chain gone; only what names the chain is left
    await owner.remove_tenant(keep=("audit_checkpoint",))
    await owner.dispose()
    verified = await invoke(settings, "audit", "verify")
    assert verified.exit_code == 1
    assert f"t:{world.b.id}: BROKEN at event 1: chain is missing" in verified.output
    assert f"t:{world.a.id}: ok" in verified.output
