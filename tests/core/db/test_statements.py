"""Tenant statements (Core, built once) are held to the session's tenant like ORM statements."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from core.db.base import TZDateTime, utcnow
from core.db.engine import Database
from core.db.statements import (
    TENANT,
    Read,
    TenantStatement,
    UnscopedStatement,
    defer,
    run,
    run_deferred,
    run_reads,
)
from core.identity.models import User
from core.pii.models import Customer
from core.plugins.models import TenantPlugin
from core.tenancy.context import TenantContext, TenantContextMissing
from core.tenancy.models import Tenant

PLUGINS = TenantStatement(
    sa.select(col(TenantPlugin.plugin_id), col(TenantPlugin.tenant_id)).where(
        col(TenantPlugin.tenant_id) == TENANT
    )
)


def test_a_statement_that_leaves_a_tenant_table_open_is_refused_when_built() -> None:
    plugin_id = col(TenantPlugin.plugin_id)
    refused = [
        sa.select(plugin_id),  # no criterion at all
        sa.select(plugin_id).where(
            col(TenantPlugin.tenant_id) == 1
        ),  # a literal, not the parameter
        sa.select(plugin_id).where(  # only one side of an OR
            sa.or_(col(TenantPlugin.tenant_id) == TENANT, col(TenantPlugin.enabled))
        ),
        # the left side of an outer join is not limited by the ON clause
        sa.select(plugin_id, col(Tenant.id)).select_from(
            sa.outerjoin(
                TenantPlugin,
                Tenant,
                sa.and_(
                    col(Tenant.id) == col(TenantPlugin.tenant_id),
                    col(TenantPlugin.tenant_id) == TENANT,
                ),
            )
        ),
        sa.update(TenantPlugin).values(enabled=False),
        sa.delete(TenantPlugin).where(col(TenantPlugin.plugin_id) == "intake"),
        # a subquery's table is not limited by the outer criterion
        sa.select(col(Tenant.id)).where(
            col(Tenant.id).in_(sa.select(col(TenantPlugin.tenant_id))),
        ),
        # ... even when the outer statement limits the same table
        sa.select(plugin_id).where(
            col(TenantPlugin.tenant_id) == TENANT,
            col(TenantPlugin.plugin_id).in_(sa.select(col(TenantPlugin.plugin_id))),
        ),
        sa.select(sa.orm.aliased(TenantPlugin).plugin_id),  # type: ignore[attr-defined]
    ]
    for statement in refused:
        with pytest.raises(UnscopedStatement):
            TenantStatement(statement)
    with pytest.raises(TypeError):  # inserts are built from rows only
        TenantStatement(sa.insert(TenantPlugin).values(tenant_id=1))  # type: ignore[arg-type]


async def test_a_select_sees_only_the_sessions_tenant(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    async with db.session(a) as s:
        assert (await run(s, PLUGINS)).all() == [("intake", a.id)]
    async with db.session(b) as s:
        assert (await run(s, PLUGINS)).all() == [("hotline", b.id)]
        with pytest.raises(PermissionError):  # the tenant comes from the session only
            await run(s, PLUGINS, {"session_tenant": a.id})
    async with db.session() as platform:
        with pytest.raises(TenantContextMissing):
            await run(platform, PLUGINS)


async def test_an_outer_join_limited_in_its_on_clause(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, _ = two_tenants
    statement = TenantStatement(
        sa.select(col(Tenant.slug), col(TenantPlugin.plugin_id))
        .outerjoin(
            TenantPlugin,
            sa.and_(
                col(TenantPlugin.tenant_id) == col(Tenant.id), col(TenantPlugin.tenant_id) == TENANT
            ),
        )
        .where(col(Tenant.slug).in_(["tenant-a", "tenant-b"]))
        .order_by(col(Tenant.slug))
    )
    async with db.session(a) as s:
        rows = (await run(s, statement)).all()
    # tenant-b's row is there (the tenant table is not tenant-scoped); its plugin is not
    assert rows == [("tenant-a", "intake"), ("tenant-b", None)]


async def test_updates_and_deletes_reach_only_the_sessions_tenant(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    disable = TenantStatement(
        sa.update(TenantPlugin).where(col(TenantPlugin.tenant_id) == TENANT).values(enabled=False)
    )
    delete = TenantStatement(
        sa.delete(TenantPlugin).where(
            col(TenantPlugin.tenant_id) == TENANT, col(TenantPlugin.plugin_id) == sa.bindparam("p")
        )
    )
    async with db.session(b) as s:
        assert (await run(s, disable)).rowcount == 1
        assert (await run(s, delete, {"p": "intake"})).rowcount == 0  # tenant-a's plugin
    async with db.session(a) as s:
        assert [(p.plugin_id, p.enabled) for p in (await s.exec(select(TenantPlugin))).all()] == [
            ("intake", True)
        ]
    async with db.session(b) as s:
        assert [p.enabled for p in (await s.exec(select(TenantPlugin))).all()] == [False]


async def test_inserted_rows_must_name_the_sessions_tenant(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    insert = TenantStatement.insert(TenantPlugin, col(TenantPlugin.plugin_id))
    for rows in (
        [{"tenant_id": b.id, "plugin_id": "voc"}, {"tenant_id": a.id, "plugin_id": "voc"}],
        [{"plugin_id": "voc"}],  # naming no tenant is not taken on trust
    ):
        with pytest.raises(PermissionError):
            async with db.session(b) as s:
                await run(s, insert, rows)
    with pytest.raises(TenantContextMissing):
        async with db.session() as platform:
            await run(platform, insert, [{"tenant_id": b.id, "plugin_id": "voc"}])
    async with db.session(b) as s:
        inserted = await run(s, insert, [{"tenant_id": b.id, "plugin_id": "voc", "settings": {}}])
        assert inserted.all() == [("voc",)]
    async with db.session(b) as s:
        assert sorted(p for p, _ in (await run(s, PLUGINS)).all()) == ["hotline", "voc"]
    async with db.session(a) as s:
        assert (await run(s, PLUGINS)).all() == [("intake", a.id)]


async def test_platform_tables_need_no_tenant_and_pending_objects_are_flushed_first(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, _ = two_tenants
    users = TenantStatement(sa.select(col(User.email)).where(col(User.email) == sa.bindparam("e")))
    assert not users.scoped
    async with db.session() as platform:
        platform.add(User(email="flushed@bpo.example.jp"))
        assert (await run(platform, users, {"e": "flushed@bpo.example.jp"})).all() == [
            ("flushed@bpo.example.jp",)
        ]
    async with db.session(a) as s:
        s.add(TenantPlugin(tenant_id=a.id, plugin_id="voc"))
        assert sorted(p for p, _ in (await run(s, PLUGINS)).all()) == ["intake", "voc"]


class _Statements:
    """Counts the statements an engine sends (what the deferred writes save)."""

    def __init__(self, db: Database) -> None:
        self.sent: list[str] = []
        self.engine = db.engine.sync_engine
        sa.event.listen(self.engine, "before_cursor_execute", self._note)

    def _note(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.sent.append(statement)

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._note)


async def test_deferred_writes_are_sent_together_and_store_what_run_would(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    insert = TenantStatement.insert(TenantPlugin)
    touch = TenantStatement(
        sa.update(Customer)
        .where(col(Customer.tenant_id) == TENANT)
        .values(updated_at=sa.bindparam("when", type_=TZDateTime()))
    )
    disable = TenantStatement(
        sa.update(TenantPlugin)
        .where(col(TenantPlugin.tenant_id) == TENANT, col(TenantPlugin.plugin_id) == "hotline")
        .values(enabled=False)
    )
    for tenant in (a, b):
        async with db.session(tenant) as s:
            s.add(Customer(tenant_id=tenant.id, uid=f"c-{tenant.slug}"))
    when = utcnow()
    rows = [
        {
            "tenant_id": b.id,
            "plugin_id": plugin,
            "enabled": plugin == "voc",
            "settings": {"見出し": "お問い合わせ「窓口」\n改行", "n": [1, 2.5, None], "空": {}},
            "updated_at": when,
        }
        for plugin in ("voc", "knowledge")
    ]
    counter = _Statements(db)
    try:
        async with db.session(b) as s:
            defer(s, insert, rows)
            defer(s, touch, {"when": when})
            assert (await run(s, PLUGINS)).all() == [("hotline", b.id)]  # not sent yet
            counter.sent.clear()
            await run_deferred(s)
            together = list(counter.sent)
            # an insert and an update of one table go one by one: one statement's parts
            # would not see each other's rows
            defer(s, disable)
            defer(s, insert, [{**rows[0], "plugin_id": "faq"}])
            counter.sent.clear()
            await run_deferred(s)
            apart = list(counter.sent)
    finally:
        counter.close()
    # one round trip on PostgreSQL; SQLite (in-process) runs them one by one
    assert len(together) == (1 if db.dialect == "postgresql" else 2) and len(apart) == 2
    async with db.session(b) as s:
        stored = {p.plugin_id: p for p in (await s.exec(select(TenantPlugin))).all()}
        customer = (await s.exec(select(Customer))).one()
    assert {k: v.enabled for k, v in stored.items()} == {
        "hotline": False,
        "voc": True,
        "knowledge": False,
        "faq": True,
    }
    assert stored["voc"].settings == rows[0]["settings"]
    assert stored["knowledge"].updated_at == when  # to the microsecond, with its zone
    assert customer.updated_at == when
    async with db.session(a) as s:  # the other tenant is untouched
        assert [(p.plugin_id, p.enabled) for p in (await s.exec(select(TenantPlugin))).all()] == [
            ("intake", True)
        ]
        assert (await s.exec(select(Customer))).one().updated_at != when


async def test_deferred_writes_are_checked_when_deferred_and_never_lost_silently(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    insert = TenantStatement.insert(TenantPlugin)
    async with db.session(b) as s:
        with pytest.raises(PermissionError):  # another tenant's row, refused at once
            defer(s, insert, [{"tenant_id": a.id, "plugin_id": "voc"}])
        with pytest.raises(TypeError):  # a read cannot be deferred
            defer(s, PLUGINS)
    with pytest.raises(RuntimeError, match="run_deferred"):  # commit without sending them
        async with db.session(b) as s:
            defer(s, insert, [{"tenant_id": b.id, "plugin_id": "voc", "settings": {}}])
    async with db.session(b) as s:
        assert (await run(s, PLUGINS)).all() == [("hotline", b.id)]
        # rows that leave a column to its default are sent as a plain insert, defaults applied
        defer(s, insert, [{"tenant_id": b.id, "plugin_id": "voc", "settings": {}}])
        defer(s, insert, [{"tenant_id": b.id, "plugin_id": "knowledge", "settings": {"x": 1}}])
        await run_deferred(s)
    async with db.session(b) as s:
        stored = {p.plugin_id: p for p in (await s.exec(select(TenantPlugin))).all()}
    assert stored["voc"].enabled is True and stored["knowledge"].settings == {"x": 1}
    assert stored["voc"].updated_at is not None


async def test_reads_sent_together_answer_as_each_would_alone(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    a, b = two_tenants
    tenants = TenantStatement(
        sa.select(col(Tenant.slug), col(Tenant.config_version), col(Tenant.role_templates)).where(
            col(Tenant.slug).in_(sa.bindparam("slugs", expanding=True))
        )
    )
    settings = TenantStatement(
        sa.select(
            col(TenantPlugin.plugin_id), col(TenantPlugin.settings), col(TenantPlugin.updated_at)
        ).where(col(TenantPlugin.tenant_id) == TENANT, col(TenantPlugin.enabled))
    )
    async with db.session(b) as s:
        s.add(TenantPlugin(tenant_id=b.id, plugin_id="voc", settings={"分類": ["苦情", "要望"]}))
    reads = [Read(tenants, {"slugs": ["tenant-a", "tenant-b"]}), Read(PLUGINS), Read(settings)]
    counter = _Statements(db)
    try:
        async with db.session(b) as s:
            alone = [sorted((await run(s, r.statement, r.params)).all()) for r in reads]
            counter.sent.clear()
            together = await run_reads(s, reads)
            sent = list(counter.sent)
    finally:
        counter.close()
    assert len(sent) == (1 if db.dialect == "postgresql" else 3)
    assert [sorted(tuple(row) for row in rows) for rows in together] == [
        [tuple(row) for row in rows] for rows in alone
    ]
    assert sorted(row.plugin_id for row in together[1]) == ["hotline", "voc"]  # by name too
    voc = next(row for row in together[2] if row.plugin_id == "voc")
    assert voc.settings == {"分類": ["苦情", "要望"]} and voc.updated_at.tzinfo is not None
    async with db.session(a) as s:  # the session's tenant decides, as for a single read
        mine, _ = await run_reads(s, [Read(PLUGINS), Read(settings)])
        assert [tuple(row) for row in mine] == [("intake", a.id)]
        with pytest.raises(TypeError):
            await run_reads(
                s,
                [
                    Read(PLUGINS),
                    Read(
                        TenantStatement(
                            sa.delete(TenantPlugin).where(col(TenantPlugin.tenant_id) == TENANT)
                        )
                    ),
                ],
            )
        with pytest.raises(PermissionError):
            await run_reads(s, [Read(PLUGINS, {"session_tenant": b.id}), Read(settings)])


async def test_a_read_that_locks_its_rows_goes_with_other_reads_and_holds_the_lock(
    db: Database, two_tenants: tuple[TenantContext, TenantContext]
) -> None:
    """PostgreSQL refuses FOR UPDATE in a UNION: a locking read is answered all the same,
    and its rows stay locked until the transaction ends."""
    a, _ = two_tenants
    locking = TenantStatement(
        sa.select(col(TenantPlugin.plugin_id))
        .where(col(TenantPlugin.tenant_id) == TENANT)
        .with_for_update()
    )
    async with db.session(a) as s:
        mine, plugins = await run_reads(s, [Read(locking), Read(PLUGINS)])
        assert [tuple(r) for r in mine] == [("intake",)]
        assert [tuple(r) for r in plugins] == [("intake", a.id)]
        if db.dialect == "postgresql":  # another transaction cannot take the row meanwhile
            async with db.session(a) as other:
                with pytest.raises(sa.exc.DBAPIError, match="could not obtain lock"):
                    await other.exec(
                        select(TenantPlugin).with_for_update(nowait=True)  # type: ignore[call-overload]
                    )
