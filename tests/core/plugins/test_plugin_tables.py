"""A plugin installed as its own distribution owns tables: its revisions run with
``madoguchi db upgrade`` in a history of their own, its tenant-scoped tables get row-level
security on PostgreSQL without asking, and uninstalling it drops nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from core.app import create_app
from core.db import migrate
from core.db.engine import Database
from core.settings import Settings
from tests.conftest import make_tenant, make_token
from tests.core.audit.cli import invoke
from tests.core.db.test_tenant_tables import assert_tenant_tables_protected
from tests.core.plugins.test_entry_points import host_with_entry_points

URL = "/api/v1/t/{}/sample/greetings"


def _rows(settings: Settings, tenant_id: int) -> int:
    """A tenant's rows of the plugin's table, counted on a raw connection of the tables'
    owner (which row-level security binds too, on PostgreSQL)."""
    engine = sa.create_engine(migrate.sync_url(settings.migration_database_url))
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
                )
            counted = connection.execute(
                sa.text("SELECT count(*) FROM sample_greeting WHERE tenant_id = :t"),
                {"t": tenant_id},
            ).scalar()
            return int(counted or 0)
    finally:
        engine.dispose()


async def test_a_plugins_own_table_is_made_protected_and_kept_when_it_is_uninstalled(
    installed_sample: Path, engine_kind: str, settings: Settings, db: Database
) -> None:
    host = host_with_entry_points()
    current = await invoke(settings, "db", "current")
    assert current.exit_code == 1, current.output  # the plugin's table is not there yet
    assert "plugin sample: current base, head 5a0000000001" in current.output
    upgraded = await invoke(settings, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert "plugin sample at 5a0000000001" in upgraded.output
    assert (await invoke(settings, "db", "current")).exit_code == 0
    again = await invoke(settings, "db", "upgrade")  # a re-deploy changes nothing
    assert again.exit_code == 0 and "plugin sample at 5a0000000001" in again.output

    greets = await make_tenant(db, host, "greets", {"sample": {}}, display_name="挨拶商事")
    other = await make_tenant(db, host, "other", {"sample": {}}, display_name="他社")
    headers = await make_token(db, "op@example.jp", ("operator", "greets"), ("operator", "other"))
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        for _ in range(2):
            logged = await client.post(URL.format("greets"), headers=headers)
            assert logged.status_code == 201, logged.text
        assert logged.json() == {"greetings": 2}
        theirs = await client.post(URL.format("other"), headers=headers)
        assert theirs.json() == {"greetings": 1}  # each tenant sees its own rows only
        shown: Any = (await client.get(URL.format("greets"), headers=headers)).json()
        assert shown == {"greetings": 2}
    if engine_kind == "postgres":  # the same protection as the core's tables
        assert "sample_greeting" in await assert_tenant_tables_protected(db, greets.id)
        assert "sample_greeting" in await assert_tenant_tables_protected(db, other.id)

    # uninstalled: the core's upgrades go on without it, and its rows stay
    await asyncio.to_thread(migrate.upgrade, settings, "head", {})
    assert migrate.current_revision(settings) == migrate.head_revision()
    assert (_rows(settings, greets.id), _rows(settings, other.id)) == (2, 1)


async def test_readyz_says_which_plugins_tables_are_behind_until_they_are_upgraded(
    installed_sample: Path, settings: Settings
) -> None:
    """A load balancer must not send requests to a node whose plugin's tables are missing:
    /readyz answers 503 naming the plugin, and 200 once ``db upgrade`` ran."""
    host = host_with_entry_points()
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        behind = await client.get("/readyz")
        assert behind.status_code == 503, behind.text
        assert behind.json()["plugins_behind"] == {
            "sample": {"current": [], "head": ["5a0000000001"]}
        }
        assert (await invoke(settings, "db", "upgrade")).exit_code == 0
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert "plugins_behind" not in ready.json()
