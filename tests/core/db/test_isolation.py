"""Tenant A's session never sees or changes tenant B's rows, on both engines."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from core.db.engine import Database
from core.plugins.models import TenantPlugin
from core.tenancy.context import TenantContext, TenantContextMissing


async def test_select_sees_only_own_rows(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    async with db.session(a) as s:
        rows = (await s.exec(select(TenantPlugin))).all()
    assert {r.plugin_id for r in rows} == {"intake"}
    assert {r.tenant_id for r in rows} == {a.id}
    async with db.session(b) as s:
        # even an explicit filter on the other tenant's id finds nothing
        rows = (await s.exec(select(TenantPlugin).where(TenantPlugin.tenant_id == a.id))).all()
    assert rows == []


async def test_get_by_primary_key_of_other_tenant_finds_nothing(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    async with db.session(a) as s:
        own = (await s.exec(select(TenantPlugin))).one()
    async with db.session(b) as s:
        assert (await s.exec(select(TenantPlugin).where(TenantPlugin.id == own.id))).first() is None
        assert await s.get(TenantPlugin, own.id) is None


async def test_bulk_update_and_delete_cannot_touch_other_tenant(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    async with db.session(b) as s:
        await s.exec(sa.update(TenantPlugin).values(enabled=False))  # type: ignore[call-overload]
        await s.exec(sa.delete(TenantPlugin).where(TenantPlugin.tenant_id == a.id))  # type: ignore[call-overload]
    async with db.session(a) as s:
        rows = (await s.exec(select(TenantPlugin))).all()
    assert [(r.plugin_id, r.enabled) for r in rows] == [("intake", True)]
    async with db.session(b) as s:
        assert [r.enabled for r in (await s.exec(select(TenantPlugin))).all()] == [False]


async def test_insert_for_other_tenant_is_refused(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    with pytest.raises(PermissionError):
        async with db.session(b) as s:
            s.add(TenantPlugin(tenant_id=a.id, plugin_id="voc"))
    async with db.session(a) as s:
        assert {r.plugin_id for r in (await s.exec(select(TenantPlugin))).all()} == {"intake"}


async def test_bulk_insert_for_other_tenant_or_none_is_refused(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    async with db.session(b) as s:
        before = {r.plugin_id for r in (await s.exec(select(TenantPlugin))).all()}
    rows = [{"tenant_id": b.id, "plugin_id": "voc"}, {"tenant_id": a.id, "plugin_id": "voc"}]
    with pytest.raises(PermissionError):
        async with db.session(b) as s:
            await s.exec(sa.insert(TenantPlugin), params=rows)
    with pytest.raises(PermissionError):  # a row that names no tenant is not taken on trust
        async with db.session(b) as s:
            await s.exec(sa.insert(TenantPlugin), params=[{"plugin_id": "voc"}])
    with pytest.raises(PermissionError):  # a Core insert into the table is checked the same
        async with db.session(b) as s:
            await s.exec(sa.insert(TenantPlugin.__table__), params=rows[1:])  # type: ignore[arg-type]
    with pytest.raises(TenantContextMissing):
        async with db.session() as s:
            await s.exec(sa.insert(TenantPlugin), params=rows[:1])
    async with db.session(b) as s:
        await s.exec(sa.insert(TenantPlugin), params=rows[:1])
    async with db.session(a) as s:
        assert {r.plugin_id for r in (await s.exec(select(TenantPlugin))).all()} == {"intake"}
    async with db.session(b) as s:
        assert {r.plugin_id for r in (await s.exec(select(TenantPlugin))).all()} == before | {"voc"}


async def test_insert_without_tenant_id_takes_the_session_tenant(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, _ = two_tenants
    async with db.session(a) as s:
        s.add(TenantPlugin(plugin_id="voc"))  # type: ignore[call-arg]
    async with db.session(a) as s:
        assert {r.plugin_id for r in (await s.exec(select(TenantPlugin))).all()} == {
            "intake",
            "voc",
        }


async def test_moving_a_row_to_another_tenant_is_refused(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    with pytest.raises(PermissionError):
        async with db.session(a) as s:
            row = (await s.exec(select(TenantPlugin))).one()
            row.tenant_id = b.id
    async with db.session(b) as s:
        assert {r.plugin_id for r in (await s.exec(select(TenantPlugin))).all()} == {"hotline"}


async def test_query_without_tenant_fails_closed(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    with pytest.raises(TenantContextMissing):
        async with db.session() as s:
            await s.exec(select(TenantPlugin))
    with pytest.raises(TenantContextMissing):
        async with db.session() as s:
            await s.exec(sa.delete(TenantPlugin))  # type: ignore[call-overload]
    with pytest.raises(TenantContextMissing):
        async with db.session() as s:
            s.add(TenantPlugin(tenant_id=two_tenants[0].id, plugin_id="voc"))
    async with db.session(two_tenants[0]) as s:
        assert len((await s.exec(select(TenantPlugin))).all()) == 1


async def test_cross_tenant_reason_is_honoured_only_by_the_model_that_declares_it(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    with pytest.raises(TenantContextMissing):
        async with db.session(cross_tenant="job-claim") as s:
            await s.exec(select(TenantPlugin))
