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

Writes that need no answer and depend on nothing written after them (the last inserts of a
group, the audit chain's new head) can be deferred (:func:`defer`) and sent together
(:func:`run_deferred`): on PostgreSQL as one statement of data-modifying CTEs, each insert's
rows carried as one JSON parameter (``json_to_recordset``), so the statement's text does not
depend on the number of rows and the server plans it once; the tenant column of those rows is
``:session_tenant`` itself. Every round trip costs the server's wake-up and the client's
socket write, which on loopback is most of a small statement's cost. SQLite runs them one by
one (it is in-process: no round trips). A session that commits with deferred writes not run
raises instead of losing them.

Reads that do not depend on each other go together the same way (:func:`run_reads`): on
PostgreSQL as one ``UNION ALL``, each select's columns in a range of their own.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList
from sqlalchemy.sql.selectable import Join, ScalarSelect
from sqlalchemy.sql.util import find_tables
from sqlalchemy.sql.visitors import iterate
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.base import tenant_scoped_models
from core.db.configuration import configuration_table, configuration_written
from core.db.session import TenantSession, session_tenant_id
from core.tenant_context import TenantContextMissing

__all__ = [
    "TENANT",
    "Read",
    "TenantStatement",
    "UnscopedStatement",
    "defer",
    "run",
    "run_deferred",
    "run_reads",
]

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

    __slots__ = ("configuration", "insert_table", "scoped", "statement", "table")

    def __init__(self, statement: sa.Select[*tuple[Any, ...]] | sa.Update | sa.Delete) -> None:
        if isinstance(statement, sa.Insert) or not isinstance(
            statement, sa.Select | sa.Update | sa.Delete
        ):
            raise TypeError("a select, update or delete (inserts: TenantStatement.insert)")
        self.statement: Any = statement
        self.scoped = _check(statement)
        self.insert_table: str | None = None
        self.table: sa.Table | None = None
        # a write of tenant configuration: moves the tenant's config_version on at commit
        self.configuration = not isinstance(statement, sa.Select) and configuration_table(
            statement.table
        )

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
        built.table = table
        built.configuration = configuration_table(table)
        return built


def _check_rows(
    statement: TenantStatement, rows: Sequence[Mapping[str, Any]], tenant_id: int
) -> None:
    for row in rows:  # a row that names no tenant is not taken on trust either
        if row.get(TENANT_COLUMN) != tenant_id:
            raise PermissionError(f"insert of another tenant's {statement.insert_table} row")


def _bind(
    session: AsyncSession,
    statement: TenantStatement,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
) -> Any:
    """The parameters to execute ``statement`` with in this session: an insert's rows, checked
    to name the session's tenant; else one mapping, with ``:session_tenant`` filled in."""
    bound = _checked(session, statement, params)
    if statement.configuration:  # the session's tenant's rows, as checked
        configuration_written(session.sync_session, [session_tenant_id(session.sync_session)])
    return bound


def _checked(
    session: AsyncSession,
    statement: TenantStatement,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
) -> Any:
    tenant_id = session_tenant_id(session.sync_session)
    if statement.insert_table is not None:
        rows = list(params or ()) if not isinstance(params, Mapping) else [params]
        if not rows:
            raise ValueError("an insert needs rows")
        if statement.scoped:
            if tenant_id is None:
                raise TenantContextMissing(f"insert into {statement.insert_table} with no tenant")
            _check_rows(statement, rows, tenant_id)
        return rows
    if params is not None and not isinstance(params, Mapping):
        raise TypeError("a select, update or delete takes one mapping of parameters")
    bound = dict(params or {})
    if statement.scoped:
        if TENANT_PARAM in bound:
            raise PermissionError("the tenant comes from the session, not the caller")
        if tenant_id is None:
            raise TenantContextMissing("tenant statement with no tenant in the session")
        bound[TENANT_PARAM] = tenant_id
    return bound


async def _connection(session: AsyncSession) -> Any:
    sync = session.sync_session
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()  # what an ORM statement would see (autoflush)
    return await session.connection()


async def run(
    session: AsyncSession,
    statement: TenantStatement,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> CursorResult[*tuple[Any, ...]]:
    """Run ``statement`` in the session's transaction, limited to the session's tenant.
    An insert takes a list of rows; the others one mapping of parameters."""
    bound = _bind(session, statement, params)
    connection = await _connection(session)
    return await connection.execute(statement.statement, bound)


# -- deferred writes ----------------------------------------------------------------------

_DEFERRED_KEY = "madoguchi.deferred_statements"


def defer(
    session: AsyncSession,
    statement: TenantStatement,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Queue an insert or an update (no RETURNING) for :func:`run_deferred`; checked now,
    as :func:`run` checks it. The session must run it before it commits."""
    if statement.insert_table is None and not isinstance(statement.statement, sa.Update):
        raise TypeError("only inserts and updates can be deferred")
    if statement.insert_table is None and statement.statement._returning:
        raise TypeError("a deferred update returns nothing")
    bound = _bind(session, statement, params)
    session.sync_session.info.setdefault(_DEFERRED_KEY, []).append((statement, bound))


async def run_deferred(session: AsyncSession) -> None:
    """Send the session's deferred writes: on PostgreSQL in one statement when they touch
    different tables (the parts of one statement do not see each other's rows), else, and on
    SQLite, one by one in the order they were deferred."""
    pending: list[tuple[TenantStatement, Any]] = session.sync_session.info.pop(_DEFERRED_KEY, [])
    if not pending:
        return
    connection = await _connection(session)
    combined = _combined(connection.dialect, pending) if len(pending) > 1 else None
    if combined is None:
        for statement, bound in pending:
            await connection.execute(statement.statement, bound)
        return
    tenant_id = session_tenant_id(session.sync_session)
    params = combined.params(pending)
    if tenant_id is not None:
        params[TENANT_PARAM] = tenant_id
    await connection.execute(combined.statement, params)


@dataclass(frozen=True)
class _Combined:
    """One PostgreSQL statement for a sequence of deferred writes (built once per shape)."""

    statement: Any
    # per part: an insert's rows parameter with its columns, each with the column type's own
    # conversion of a value (or None); None for an update
    inserts: tuple[tuple[str, tuple[tuple[str, Any], ...]] | None, ...]

    def params(self, pending: list[tuple[TenantStatement, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for part, (_, bound) in zip(self.inserts, pending, strict=True):
            if part is None:
                params.update(bound)
                continue
            name, columns = part
            params[name] = json.dumps(
                [
                    {k: row[k] if convert is None else convert(row[k]) for k, convert in columns}
                    for row in bound
                ],
                ensure_ascii=False,
                default=_json_default,
            )
        return params


_COMBINED: dict[tuple[Any, ...], _Combined | None] = {}


def _combined(dialect: sa.Dialect, pending: list[tuple[TenantStatement, Any]]) -> _Combined | None:
    """The one statement for ``pending`` on PostgreSQL, or None to run them one by one
    (SQLite; an insert whose rows do not all give every column; two writes of one table; a
    parameter name two of the updates share)."""
    if dialect.name != "postgresql":
        return None
    shape: list[Any] = []
    for statement, bound in pending:
        if statement.insert_table is None:
            shape.append((statement, tuple(sorted(bound))))
            continue
        keys = set(bound[0])
        if any(set(row) != keys for row in bound):
            return None
        shape.append((statement, tuple(sorted(keys))))
    key = tuple(shape)
    if key not in _COMBINED:
        _COMBINED[key] = _build_combined(dialect, pending)
    return _COMBINED[key]


def _build_combined(
    dialect: sa.Dialect, pending: list[tuple[TenantStatement, Any]]
) -> _Combined | None:
    ctes: list[Any] = []
    inserts: list[tuple[str, tuple[tuple[str, Any], ...]] | None] = []
    names: list[set[str]] = []  # each part's parameters
    tables: set[Any] = set()
    for n, (statement, bound) in enumerate(pending):
        table = statement.table if statement.table is not None else statement.statement.table
        if table in tables:  # one statement's parts do not see each other's rows
            return None
        tables.add(table)
        if statement.table is None:  # an update
            names.append(set(bound))
            ctes.append(statement.statement.cte(f"w{n}"))
            inserts.append(None)
            continue
        insertable = {c.name for c in table.columns if not _generated(c)}
        if set(bound[0]) != insertable:
            return None  # a column left to its default: the executemany insert applies it
        columns = tuple(c for c in table.columns if c.name in insertable)
        name = f"rows_{n}"
        names.append({name})
        rows = (
            sa.func.json_to_recordset(sa.cast(sa.bindparam(name, type_=sa.Text()), postgresql.JSON))
            .table_valued(
                *(sa.column(c.name, c.type) for c in columns if not _forced(statement, c))
            )
            .render_derived(name=f"r{n}", with_types=True)
        )
        values = [TENANT if _forced(statement, c) else rows.c[c.name] for c in columns]
        ctes.append(
            sa.insert(table).from_select([c.name for c in columns], sa.select(*values)).cte(f"w{n}")
        )
        inserts.append((name, tuple((c.name, _converter(c, dialect)) for c in columns)))
    if _share_a_name(names):
        return None
    return _Combined(sa.select(sa.literal_column("1")).add_cte(*ctes), tuple(inserts))


def _share_a_name(params: Sequence[Any]) -> bool:
    """Whether two parts of one statement would bind the same parameter name (other than
    ``:session_tenant``, which they all mean alike)."""
    seen: set[str] = set()
    for names in params:
        taken = set(names) - {TENANT_PARAM}
        if taken & seen:
            return True
        seen |= taken
    return False


def _forced(statement: TenantStatement, column: sa.Column[Any]) -> bool:
    """Whether the column takes ``:session_tenant`` rather than the rows' value."""
    return statement.scoped and column.name == TENANT_COLUMN


def _generated(column: sa.Column[Any]) -> bool:
    return bool(column.primary_key and column.autoincrement in (True, "auto"))


def _converter(column: sa.Column[Any], dialect: sa.Dialect) -> Any:
    """The column's own conversion of a value to bind (a TypeDecorator's, such as the UTC
    check of timestamps), or None; the driver's encoding is JSON's here."""
    kind = column.type
    if (
        isinstance(kind, sa.types.TypeDecorator)
        and type(kind).process_bind_param is not sa.types.TypeDecorator.process_bind_param
    ):
        return lambda value: kind.process_bind_param(value, dialect)
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be sent in a deferred insert")


@event.listens_for(TenantSession, "before_commit")
def _refuse_unsent(session: Session) -> None:
    if session.info.get(_DEFERRED_KEY):
        raise RuntimeError("deferred writes were not sent (run_deferred) before commit")


@event.listens_for(TenantSession, "after_rollback")
def _forget_unsent(session: Session) -> None:
    session.info.pop(_DEFERRED_KEY, None)


# -- reads together -----------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A select and its parameters, for :func:`run_reads`."""

    statement: TenantStatement
    params: Mapping[str, Any] = field(default_factory=dict)


async def run_reads(session: AsyncSession, reads: Sequence[Read]) -> list[list[Any]]:
    """The rows of each read (named tuples, by the selects' column names), in one round trip
    on PostgreSQL; one by one on SQLite, when two reads share a parameter name, or when one
    orders, limits or locks its rows (``with_for_update``), which a UNION cannot."""
    for read in reads:
        if not isinstance(read.statement.statement, sa.Select):
            raise TypeError("only selects can be read together")
    bound = [_bind(session, read.statement, read.params) for read in reads]
    connection = await _connection(session)
    union = _union(connection.dialect, reads, bound) if len(reads) > 1 else None
    if union is None:
        return [
            list((await connection.execute(read.statement.statement, params)).all())
            for read, params in zip(reads, bound, strict=True)
        ]
    params: dict[str, Any] = {}
    for one in bound:
        params.update(one)
    answers: list[list[Any]] = [[] for _ in reads]
    for row in await connection.execute(union.statement, params):
        branch = row[0]
        start, shape = union.slices[branch]
        answers[branch].append(shape._make(row[start : start + len(shape._fields)]))
    return answers


@dataclass(frozen=True)
class _Union:
    statement: Any
    slices: tuple[tuple[int, Any], ...]  # per read: its first column, its row type


_UNIONS: dict[tuple[Any, ...], _Union | None] = {}


def _union(dialect: sa.Dialect, reads: Sequence[Read], bound: list[Any]) -> _Union | None:
    if dialect.name != "postgresql":
        return None
    key = tuple(
        (read.statement, tuple(sorted(params))) for read, params in zip(reads, bound, strict=True)
    )
    if key not in _UNIONS:
        _UNIONS[key] = _build_union(reads, bound)
    return _UNIONS[key]


def _build_union(reads: Sequence[Read], bound: list[Any]) -> _Union | None:
    if _share_a_name(bound):
        return None
    selects = [read.statement.statement for read in reads]
    if any(s._order_by_clauses or s._limit_clause is not None for s in selects):
        return None  # a branch of a UNION has neither
    if any(s._for_update_arg is not None for s in selects):
        return None  # nor a row lock (FOR UPDATE): PostgreSQL refuses it there
    columns = [list(s.selected_columns) for s in selects]
    if any(isinstance(c.type, sa.types.NullType) for own in columns for c in own):
        return None  # the other branches' NULLs need the column's type
    slices: list[tuple[int, Any]] = []
    start = 1
    for select in selects:
        shape = namedtuple("Row", [c.key for c in select.selected_columns], rename=True)  # type: ignore[misc]
        slices.append((start, shape))
        start += len(shape._fields)
    branches = []
    for n, select in enumerate(selects):
        values: list[Any] = [sa.literal(n, sa.Integer).label("branch")]
        for m, own in enumerate(columns):
            for i, column in enumerate(own):
                value = column if m == n else sa.cast(sa.null(), column.type)
                values.append(value.label(f"c{m}_{i}"))
        branches.append(select.with_only_columns(*values, maintain_column_froms=True))
    return _Union(sa.union_all(*branches), tuple(slices))
