"""The data step of the intake migrations, on both engines: tenants stored before inbound
addresses were checked (two listing one address) and before vocabularies existed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from core.app import build_host
from core.db import migrate
from core.db.engine import Database
from core.plugins.models import TenantPlugin
from core.settings import Settings, load_settings
from plugins.intake.models import InboundAddress, Queue, VocabularyTerm
from tests.conftest import PG_URL, drop_pg_database, make_tenant, new_pg_database, pg_settings

SHARED = "info@shared.example.jp"


@pytest.fixture
def bare_settings(engine_kind: str, tmp_path: Path) -> Iterator[Settings]:
    if engine_kind == "sqlite":
        yield load_settings(home=tmp_path)
        return
    if PG_URL is None:
        pytest.skip("PostgreSQL not available here (scripts/test.sh starts one; CI always has it)")
    name = new_pg_database(None)
    try:
        yield pg_settings(tmp_path, name)
    finally:
        drop_pg_database(name)


async def test_existing_addresses_go_to_the_first_tenant_and_vocabularies_are_seeded(
    bare_settings: Settings,
) -> None:
    await asyncio.to_thread(migrate.upgrade, bare_settings, "c0a1e0000020")
    host = build_host(bare_settings)
    db = Database(bare_settings.database_url)
    try:
        mail = {"channels": ["email"], "contact_categories": ["事故の連絡"]}
        first = await make_tenant(db, host, "first", {"intake": {"settings": mail}})
        second = await make_tenant(db, host, "second", {"intake": {"settings": mail}})
        for ctx in (first, second):  # as the code before the check left them
            async with db.session(ctx) as session:
                row = (await session.exec(select(TenantPlugin))).one()
                row.settings = {**row.settings, "inbound_addresses": [SHARED.upper()]}
                for stale in (await session.exec(select(VocabularyTerm))).all():
                    await session.delete(stale)
                session.add(Queue(tenant_id=ctx.id, slug="q", name="q", categories=["保険金"]))
        await asyncio.to_thread(migrate.upgrade, bare_settings, "head")
        found = {}
        for ctx in (first, second):
            async with db.session(ctx) as session:
                addresses = (await session.exec(select(InboundAddress.address))).all()
                labels = (await session.exec(select(VocabularyTerm.label))).all()
            found[ctx.slug] = list(addresses)
            assert {"その他", "事故の連絡", "保険金", "至急"} <= set(labels)
        assert found == {"first": [SHARED], "second": []}
    finally:
        await db.dispose()
