"""The tenant-filtered session.

Every ORM statement run through a :class:`TenantSession` is narrowed to the session's tenant
(``with_loader_criteria`` on each concrete tenant-scoped model); every flush is checked so that
no row of another tenant is inserted, changed or deleted; a tenant-scoped statement with no
tenant in context raises :class:`TenantContextMissing` instead of returning everything.

On PostgreSQL each transaction also sets ``app.tenant_id`` (transaction-local), which the
row-level-security policies read: the database refuses what the ORM filter might miss.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, with_loader_criteria
from sqlmodel import Session as SQLModelSession

from core.db.base import TenantScoped, tenant_scoped_models
from core.tenant_context import TenantContextMissing

__all__ = [
    "TenantSession",
    "cross_tenant_reason",
    "inserted_class",
    "inserted_rows",
    "session_tenant_id",
    "switch_tenant",
    "touched_models",
    "track_commits",
    "transaction_of",
]

_TENANT_KEY = "madoguchi.tenant_id"
_CROSS_KEY = "madoguchi.cross_tenant"
_CRITERIA_KEY = "madoguchi.tenant_criteria"
_TRACK_KEY = "madoguchi.track_commits"
_XACT_KEY = "madoguchi.transaction"  # (PostgreSQL transaction id, server process id)


class TenantSession(SQLModelSession):
    """A session bound to at most one tenant (``info[_TENANT_KEY]``)."""


def session_tenant_id(session: Session) -> int | None:
    return session.info.get(_TENANT_KEY)


def bind_session(session: Session, tenant_id: int | None, cross_tenant: str | None) -> None:
    session.info[_TENANT_KEY] = tenant_id
    session.info[_CROSS_KEY] = cross_tenant


def cross_tenant_reason(session: Session) -> str | None:
    return session.info.get(_CROSS_KEY)


def _cross_tenant_allowed(session: Session, cls: type[Any]) -> bool:
    reason = cross_tenant_reason(session)
    return reason is not None and getattr(cls, "__cross_tenant__", None) == reason


def touched_models(state: ORMExecuteState) -> list[type[Any]]:
    """The tenant-scoped models an ORM-executed statement touches."""
    return [m.class_ for m in state.all_mappers if issubclass(m.class_, TenantScoped)]


def inserted_rows(state: ORMExecuteState) -> list[Any]:
    """The rows an ORM-executed insert carries."""
    params = state.parameters
    if isinstance(params, list | tuple):
        return list(params)
    if params:
        return [params]
    # values embedded in the statement (insert(...).values(...))
    dialect = state.session.get_bind().dialect
    statement: Any = state.statement
    return [statement.compile(dialect=dialect).params]


def inserted_class(state: ORMExecuteState) -> type[Any] | None:
    """The model an ORM-executed insert writes, if it is one."""
    mapper = state.bind_mapper
    if mapper is not None:
        return mapper.class_
    table = getattr(state.statement, "table", None)  # a Core insert into a table
    return next((m for m in tenant_scoped_models() if m.__table__ is table), None)  # type: ignore[attr-defined]


def _check_insert(state: ORMExecuteState) -> None:
    """A bulk insert (``insert(Model)`` or ``insert(table)`` with rows) passes no flush, so it
    is checked here: every row must carry the session's tenant."""
    cls = inserted_class(state)
    if cls is None or not issubclass(cls, TenantScoped):
        return
    tenant_id = session_tenant_id(state.session)
    for row in inserted_rows(state):
        row_tenant = row.get("tenant_id")
        if tenant_id is None:
            if _cross_tenant_allowed(state.session, cls) and row_tenant is not None:
                continue
            raise TenantContextMissing(f"insert into {cls.__tablename__} with no tenant")
        if row_tenant != tenant_id:
            raise PermissionError(f"insert of another tenant's {cls.__tablename__} row")


@event.listens_for(TenantSession, "do_orm_execute")
def _filter_to_tenant(state: ORMExecuteState) -> None:
    if state.is_insert:
        _check_insert(state)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent statement already carried the criteria
    session = state.session
    tenant_id = session_tenant_id(session)
    touched = touched_models(state)
    if tenant_id is None:
        refused = [c for c in touched if not _cross_tenant_allowed(session, c)]
        if refused:
            names = ", ".join(sorted(c.__tablename__ for c in refused))
            raise TenantContextMissing(f"query on tenant-scoped table(s) {names} with no tenant")
        return
    models = tenant_scoped_models()
    cached = session.info.get(_CRITERIA_KEY)
    if cached is None or cached[0] != (tenant_id, len(models)):
        options = [
            with_loader_criteria(cls, lambda c: c.tenant_id == tenant_id, include_aliases=True)
            for cls in models
        ]
        cached = ((tenant_id, len(models)), options)
        session.info[_CRITERIA_KEY] = cached  # built once per session and tenant
    state.statement = state.statement.options(*cached[1])


@event.listens_for(TenantSession, "before_flush")
def _check_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    tenant_id = session_tenant_id(session)
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if tenant_id is None:
            if _cross_tenant_allowed(session, type(obj)) and obj.tenant_id is not None:
                continue
            raise TenantContextMissing(f"insert into {type(obj).__tablename__} with no tenant")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise PermissionError(f"insert of another tenant's {type(obj).__tablename__} row")
    for obj in list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        history = sa.inspect(obj).attrs.tenant_id.history
        original = history.deleted[0] if history.deleted else obj.tenant_id
        if tenant_id is None:
            if _cross_tenant_allowed(session, type(obj)) and not history.has_changes():
                continue
            raise TenantContextMissing(f"write to {type(obj).__tablename__} with no tenant")
        if original != tenant_id or obj.tenant_id != tenant_id:
            raise PermissionError(f"write to another tenant's {type(obj).__tablename__} row")


_SET_TENANT_SQL = (
    "SELECT set_config('app.tenant_id', :tenant, true),"
    " set_config('app.cross_tenant', :cross, true)"
)
_SET_TENANT = sa.text(_SET_TENANT_SQL)
_SET_TENANT_AND_TRACK = sa.text(  # the same round trip learns the transaction's id
    _SET_TENANT_SQL + ", pg_current_xact_id()::text, pg_backend_pid()"
)


def track_commits(session: Session) -> None:
    """Have each transaction of this session note its PostgreSQL transaction id and server
    process (:func:`transaction_of`), so that a commit whose answer was lost can be asked
    about (:mod:`core.db.outcome`). The id is taken at BEGIN: for writing sessions only."""
    session.info[_TRACK_KEY] = True


def transaction_of(session: Session) -> tuple[str, int] | None:
    """(transaction id as text, server process id) of the session's PostgreSQL transaction,
    when the session tracks its commits."""
    return session.info.get(_XACT_KEY)


@event.listens_for(TenantSession, "after_transaction_end")
def _forget_transaction(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_XACT_KEY, None)


@event.listens_for(TenantSession, "after_begin")
def _set_database_tenant(session: Session, transaction: Any, connection: sa.Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    params = {
        "tenant": str(session_tenant_id(session) or ""),
        "cross": cross_tenant_reason(session) or "",
    }
    session.info.pop(_XACT_KEY, None)
    if not session.info.get(_TRACK_KEY):
        connection.execute(_SET_TENANT, params)
        return
    row = connection.execute(_SET_TENANT_AND_TRACK, params).one()
    session.info[_XACT_KEY] = (row[2], row[3])


async def switch_tenant(session: Any, tenant_id: int | None) -> None:
    """Point an open (async) session at another tenant within the same transaction.

    Pending rows are flushed under the old tenant first, so the flush check still applies
    to each row with the tenant it was written for. Used by multi-tenant operations that must
    be atomic, such as applying a folder of manifests.
    """
    await session.flush()
    sync_session: Session = session.sync_session
    bind_session(sync_session, tenant_id, cross_tenant_reason(sync_session))
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :tenant, true)"),
            {"tenant": str(tenant_id or "")},
        )
