"""Tenant configuration: every write of it moves the tenant's ``config_version`` on.

Rows that configure a tenant (its data keys, an intake desk's queues) declare
``__tenant_config__ = True``. Processes keep such rows between transactions under the
``config_version`` they read them at (the active data key, a group writer's queues), and read
them again only when the version moved. So a transaction that writes one, by any path, moves
the version on, once, as it commits:

* an ORM flush (its new, changed and deleted objects);
* an insert, update or delete executed through the session (``insert_ignore``, a bulk
  ``update(Model)``), noted as it runs;
* a tenant statement run or deferred (:mod:`core.db.statements` notes it when it binds it).

Each path notes the tenants (:func:`configuration_written`); one ``UPDATE tenant`` in
``before_commit`` makes the change, so the tenant's row is locked only at the end.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from core.db.base import TenantScoped, tenant_scoped_models
from core.db.session import (
    TenantSession,
    inserted_class,
    inserted_rows,
    session_tenant_id,
    touched_models,
)

__all__ = ["configuration_table", "configuration_written", "tenant_configuration"]

_CHANGED = "madoguchi.config_changed"  # tenants whose configuration this transaction wrote


def tenant_configuration(cls: type[Any]) -> bool:
    """Whether rows of ``cls`` are part of their tenant's configuration."""
    return getattr(cls, "__tenant_config__", False) is True


def configuration_table(table: Any) -> bool:
    """Whether ``table`` holds rows of a tenant-configuration model."""
    # a set: an ORM statement's table is an annotated copy, equal to the table and hashed alike
    tables = {m.__table__ for m in tenant_scoped_models() if tenant_configuration(m)}  # type: ignore[attr-defined]
    return table in tables


def configuration_written(session: Session, tenant_ids: Any) -> None:
    """Note that this transaction wrote configuration rows of these tenants: each one's
    ``config_version`` moves on once, when the transaction commits."""
    changed = {t for t in tenant_ids if t is not None}
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(TenantSession, "before_flush")
def _note_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    configuration_written(
        session,
        (
            obj.tenant_id
            for obj in (*session.new, *session.dirty, *session.deleted)
            if tenant_configuration(type(obj))
        ),
    )


@event.listens_for(TenantSession, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if state.is_insert:
        cls = inserted_class(state)
        if cls is not None and tenant_configuration(cls):
            tenants = [row.get("tenant_id") for row in inserted_rows(state)]
            configuration_written(state.session, tenants)
    elif (state.is_update or state.is_delete) and any(  # limited to the session's tenant
        tenant_configuration(cls) for cls in touched_models(state)
    ):
        configuration_written(state.session, [session_tenant_id(state.session)])


@event.listens_for(TenantSession, "before_commit")
def _bump_configuration(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this event: note its rows now
    changed = session.info.pop(_CHANGED, None)
    if not changed:
        return
    tenant = TenantScoped.metadata.tables["tenant"]
    session.connection().execute(
        tenant.update()
        .where(tenant.c.id.in_(sorted(changed)))
        .values(config_version=tenant.c.config_version + 1)
    )


@event.listens_for(TenantSession, "after_soft_rollback")
def _forget(session: Session, previous: Any) -> None:
    if not previous.nested:  # a savepoint's notes stay: one move too many is harmless
        session.info.pop(_CHANGED, None)
