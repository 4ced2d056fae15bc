"""Every table with a tenant_id is protected: by the ORM filter and, on PostgreSQL, by RLS.

A new table that forgets the protection fails here, whoever adds it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.db.base import metadata, tenant_scoped_models
from core.db.engine import Database
from core.plugins.builtin import import_builtin_models
from core.settings import Settings
from core.tenancy.context import TenantContext

# Platform tables whose tenant_id is a scope (who may enter which tenant), read before any
# tenant is in context; they hold no client data. Adding to this list needs a reason here.
PLATFORM_TABLES_WITH_TENANT_SCOPE = {
    "role_grant": "which tenant a role is granted in",
    "api_token": "which tenant a token is bound to",
    "change_request": "which tenant a request for access or for a security change concerns",
}


def _tables_with_tenant_id() -> set[str]:
    import_builtin_models()
    return {name for name, table in metadata.tables.items() if "tenant_id" in table.columns}


def test_every_table_with_tenant_id_is_tenant_scoped() -> None:
    with_tenant_id = _tables_with_tenant_id()  # imports every built-in model first
    scoped = {m.__tablename__ for m in tenant_scoped_models()}
    unprotected = with_tenant_id - scoped - set(PLATFORM_TABLES_WITH_TENANT_SCOPE)
    assert not unprotected, f"tables with tenant_id but no TenantScoped base: {unprotected}"
    assert {"tenant_plugin", "job"} <= scoped


def test_tenant_id_is_required_and_references_tenant() -> None:
    for model in tenant_scoped_models():
        column = metadata.tables[model.__tablename__].columns["tenant_id"]  # type: ignore[index]
        assert not column.nullable, model
        assert {fk.column.table.name for fk in column.foreign_keys} == {"tenant"}


def test_every_tenant_table_has_an_index_that_leads_with_tenant_id() -> None:
    """A tenant's rows are always found through tenant_id first, on every table."""
    import_builtin_models()
    for model in tenant_scoped_models():
        table = metadata.tables[model.__tablename__]  # type: ignore[index]
        leading = [next(iter(i.columns)).name for i in table.indexes] + [
            next(iter(c.columns)).name
            for c in table.constraints
            if isinstance(c, sa.UniqueConstraint) and c.columns
        ]
        assert "tenant_id" in leading, model


# row-level security is PostgreSQL's; on SQLite the ORM filter above is the protection
postgres_only = pytest.mark.parametrize("engine_kind", ["postgres"])


async def tables_with_tenant_id(db: Database) -> list[str]:
    """The database's tables (not the models': a plugin's revisions make tables too) that
    hold a tenant's rows."""
    async with db.engine.connect() as connection:
        names = (
            await connection.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.columns WHERE column_name = "
                    "'tenant_id' AND table_schema = 'public' ORDER BY table_name"
                )
            )
        ).scalars()
        return [n for n in names if n not in PLATFORM_TABLES_WITH_TENANT_SCOPE]


async def assert_tenant_tables_protected(db: Database, tenant_id: int) -> list[str]:
    """Every table with a tenant's rows is under FORCE ROW LEVEL SECURITY, not owned by the
    app's role, shows the app's role no row while no tenant is set and only that tenant's
    once one is; the tables checked are returned."""
    tables = await tables_with_tenant_id(db)
    async with db.engine.connect() as connection:
        role = (await connection.execute(sa.text("SELECT current_user"))).scalar()
        assert role == "mdg_app"
        for table in tables:
            forced = (
                await connection.execute(
                    sa.text(
                        "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname=:t"
                    ),
                    {"t": table},
                )
            ).scalar()
            assert forced, f"{table} lacks FORCE ROW LEVEL SECURITY"
            owner = (
                await connection.execute(
                    sa.text("SELECT tableowner FROM pg_tables WHERE tablename=:t"), {"t": table}
                )
            ).scalar()
            assert owner != role, f"the app role owns {table}"
            count = (await connection.execute(sa.text(f'SELECT count(*) FROM "{table}"'))).scalar()
            assert count == 0, f"{table}: {count} rows visible with no tenant set"
        # with a tenant set, the same raw queries see that tenant's rows only
        await connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(tenant_id)}
        )
        for table in tables:
            tenants = (
                (await connection.execute(sa.text(f'SELECT DISTINCT tenant_id FROM "{table}"')))
                .scalars()
                .all()
            )
            assert set(tenants) <= {tenant_id}, f"{table} shows another tenant's rows"
    return tables


@postgres_only
async def test_raw_app_role_connection_without_tenant_sees_no_rows(
    engine_kind: str,
    settings: Settings,
    db: Database,
    two_tenants: tuple[TenantContext, TenantContext],
) -> None:
    import_builtin_models()
    a, _ = two_tenants
    checked = await assert_tenant_tables_protected(db, a.id)
    # every tenant-scoped model of the core and the built-in plugins has its table among them
    builtin = [m for m in tenant_scoped_models() if m.__module__.startswith(("core.", "plugins."))]
    assert {m.__tablename__ for m in builtin} <= set(checked)
    async with db.engine.connect() as connection:
        await connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(a.id)}
        )
        tenants = (
            (await connection.execute(sa.text("SELECT DISTINCT tenant_id FROM tenant_plugin")))
            .scalars()
            .all()
        )
        assert tenants == [a.id]


@postgres_only
async def test_raw_insert_for_another_tenant_is_rejected_by_the_database(
    engine_kind: str,
    db: Database,
    two_tenants: tuple[TenantContext, TenantContext],
) -> None:
    a, b = two_tenants
    async with db.engine.connect() as connection:
        await connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(a.id)}
        )
        with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
            await connection.execute(
                sa.text(
                    "INSERT INTO tenant_plugin (tenant_id, plugin_id, enabled, settings, updated_at)"
                    " VALUES (:t, 'voc', true, '{}', now())"
                ),
                {"t": b.id},
            )
