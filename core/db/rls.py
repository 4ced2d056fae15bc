"""Row-level security for tenant-scoped tables on PostgreSQL (a no-op on SQLite).

Migrations call :func:`enable_tenant_rls` for every tenant-scoped table they create. The
policy compares ``tenant_id`` with the transaction-local ``app.tenant_id`` that
:mod:`core.db.session` sets, and ``FORCE`` applies it to the table owner as well; a connection
that set nothing sees no rows at all.
"""

from __future__ import annotations

from alembic import op

__all__ = ["disable_tenant_rls", "enable_tenant_rls", "tenant_predicate", "tenant_rls_statements"]

POLICY = "tenant_isolation"


def tenant_predicate(cross_tenant: str | None = None) -> str:
    predicate = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint"
    if cross_tenant:
        predicate = f"({predicate} OR current_setting('app.cross_tenant', true) = '{cross_tenant}')"
    return predicate


def tenant_rls_statements(table: str, cross_tenant: str | None = None) -> list[str]:
    """What puts ``table`` under the tenant's row-level security (PostgreSQL)."""
    predicate = tenant_predicate(cross_tenant)
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'CREATE POLICY {POLICY} ON "{table}" USING ({predicate}) WITH CHECK ({predicate})',
    ]


def enable_tenant_rls(table: str, cross_tenant: str | None = None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in tenant_rls_statements(table, cross_tenant):
        op.execute(statement)


def disable_tenant_rls(table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
    op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
