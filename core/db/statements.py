"""Tenant statements: Core statements built once, run on the tenant session's connection.

The tenant-filtered session narrows every ORM statement as it runs (``with_loader_criteria``
and ORM compilation), which costs more than a small statement takes in the database. A hot
path (a group writer's dozen statements per transaction) builds its statements once as
:class:`TenantStatement` instead, and the tenant is then part of the statement itself:

* every tenant-scoped table a statement reads, changes or deletes must be compared with the
  ``:session_tenant`` parameter (:data:`TENANT`) in its WHERE clause, or in the ON clause of
  the join that brings the table in (for an outer join, only the joined side counts); a
  statement that misses one, or reads a tenant-scoped table in a subquery, is refused when
  it is built, not when it runs;
* inserts are built here (:meth:`TenantStatement.insert`) and run with rows only: every row
  must name the session's tenant (another tenant, or none, is refused);
* :func:`run` fills ``:session_tenant`` from the session's tenant (a caller cannot pass it) and
  executes on the session's own connection and transaction, so on PostgreSQL row-level
  security applies as it does to everything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList
from sqlalchemy.sql.selectable import Join, ScalarSelect
from sqlalchemy.sql.util import find_tables
from sqlalchemy.sql.visitors import iterate
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.base import tenant_scoped_models
from core.db.session import session_tenant_id
from core.tenancy.context import TenantContextMissing

__all__ = ["TENANT", "TenantStatement", "UnscopedStatement", "run"]

TENANT_PARAM = "session_tenant"  # not "tenant_id": an UPDATE reserves column names
TENANT_COLUMN = "tenant_id"
TENANT = sa.bindparam(TENANT_PARAM, type_=sa.Integer)


class UnscopedStatement(ValueError):
    """A statement on a tenant-scoped table that is not limited to ``:session_tenant``."""


def _scoped_tables() -> set[sa.Table]:
    return {model.__table__ for model in tenant_scoped_models()}  # type: ignore[attr-defined]


def _conjuncts(clause: Any) -> list[Any]:
    if clause is None:
        return []
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        return [part for inner in clause.clauses for part in _conjuncts(inner)]
    return [clause]


def _bound_table(clause: Any) -> sa.Table | None:
    """The table of ``<table>.tenant_id = :session_tenant``, else None."""
    if not isinstance(clause, BinaryExpression) or clause.operator is not operators.eq:
        return None
    for column, other in ((clause.left, clause.right), (clause.right, clause.left)):
        if (
            isinstance(other, BindParameter)
            and other.key == TENANT_PARAM
            and getattr(column, "name", None) == TENANT_COLUMN
            and isinstance(getattr(column, "table", None), sa.Table)
        ):
            return column.table
    return None


def _bound_in(clause: Any) -> set[sa.Table]:
    return {table for part in _conjuncts(clause) if (table := _bound_table(part)) is not None}


def _bound_by_joins(from_: Any) -> set[sa.Table]:
    """Tables an ON clause limits to the tenant: either side of an inner join, only the
    joined (right) side of a left outer join, neither of a full join."""
    if not isinstance(from_, Join):
        return set()
    bound = _bound_by_joins(from_.left) | _bound_by_joins(from_.right)
    on = _bound_in(from_.onclause)
    if from_.full:
        return bound
    if from_.isouter:
        return bound | (on & set(find_tables(from_.right, include_joins=False)))
    return bound | on


def _check(statement: Any) -> bool:
    """Whether the statement touches tenant-scoped tables; raises for one it leaves open."""
    scoped = _scoped_tables()
    touched = set(find_tables(statement, include_crud=True, include_aliases=True))
    if any(not isinstance(t, sa.Table) and getattr(t, "element", None) in scoped for t in touched):
        raise UnscopedStatement("aliases of tenant-scoped tables are not supported here")
    open_tables = touched & scoped
    if not open_tables:
        return False
    for element in iterate(statement):  # a nested select is not limited by the outer criteria
        if (
            element is not statement
            and isinstance(element, sa.Select | sa.Subquery | sa.CTE | ScalarSelect)
            and set(find_tables(element)) & scoped
        ):
            raise UnscopedStatement("subqueries of tenant-scoped tables are not supported here")
    bound = _bound_in(statement.whereclause)
    froms = statement.get_final_froms() if isinstance(statement, sa.Select) else ()
    for from_ in froms:
        bound |= _bound_by_joins(from_)
    missing = sorted(t.name for t in open_tables - bound)
    if missing:
        raise UnscopedStatement(
            f"{', '.join(missing)}: compare tenant_id with the :session_tenant parameter"
        )
    return True


class TenantStatement:
    """A select, update or delete checked once for tenant scoping; or an insert of rows."""

    __slots__ = ("insert_table", "scoped", "statement")

    def __init__(self, statement: sa.Select[*tuple[Any, ...]] | sa.Update | sa.Delete) -> None:
        if isinstance(statement, sa.Insert) or not isinstance(
            statement, sa.Select | sa.Update | sa.Delete
        ):
            raise TypeError("a select, update or delete (inserts: TenantStatement.insert)")
        self.statement: Any = statement
        self.scoped = _check(statement)
        self.insert_table: str | None = None

    @classmethod
    def insert(cls, model: Any, *returning: Any) -> TenantStatement:
        """``INSERT INTO <model's table>``, run with rows, ``RETURNING`` the columns given or
        else the primary key: with RETURNING, SQLAlchemy sends the rows as one multi-row INSERT
        (without, asyncpg executes them one by one)."""
        table: sa.Table = getattr(model, "__table__", model)
        built = object.__new__(cls)
        statement: Any = sa.insert(table)
        built.statement = statement.returning(*(returning or table.primary_key.columns))
        built.scoped = table in _scoped_tables()
        built.insert_table = table.name
        return built


def _check_rows(
    statement: TenantStatement, rows: Sequence[Mapping[str, Any]], tenant_id: int
) -> None:
    for row in rows:  # a row that names no tenant is not taken on trust either
        if row.get(TENANT_COLUMN) != tenant_id:
            raise PermissionError(f"insert of another tenant's {statement.insert_table} row")


async def run(
    session: AsyncSession,
    statement: TenantStatement,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> CursorResult[*tuple[Any, ...]]:
    """Run ``statement`` in the session's transaction, limited to the session's tenant.
    An insert takes a list of rows; the others one mapping of parameters."""
    sync = session.sync_session
    tenant_id = session_tenant_id(sync)
    if statement.insert_table is not None:
        rows = list(params or ()) if not isinstance(params, Mapping) else [params]
        if not rows:
            raise ValueError("an insert needs rows")
        if statement.scoped:
            if tenant_id is None:
                raise TenantContextMissing(f"insert into {statement.insert_table} with no tenant")
            _check_rows(statement, rows, tenant_id)
        bound: Any = rows
    else:
        if params is not None and not isinstance(params, Mapping):
            raise TypeError("a select, update or delete takes one mapping of parameters")
        bound = dict(params or {})
        if statement.scoped:
            if TENANT_PARAM in bound:
                raise PermissionError("the tenant comes from the session, not the caller")
            if tenant_id is None:
                raise TenantContextMissing("tenant statement with no tenant in the session")
            bound[TENANT_PARAM] = tenant_id
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()  # what an ORM statement would see (autoflush)
    connection = await session.connection()
    return await connection.execute(statement.statement, bound)
