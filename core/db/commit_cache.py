"""What a process keeps of a transaction, kept only once that transaction has committed.

A value read or made inside a transaction (a new tenant's data key, the queues as this
transaction sees them) goes when the transaction rolls back. A process cache filled before
the commit hands it out afterwards all the same: a new tenant's first group created its data
key, cached it, failed, and its items, retried one by one, were sealed with a key that no row
held. The rule for the whole core: nothing read or made in a transaction is cached beyond it
until its commit succeeded.

* :func:`publish_on_commit` runs an action once the session's transaction has committed, and
  never when it rolls back (a savepoint's rollback drops the actions noted inside it);
* :class:`CommitCache` is a per-process mapping built on it: the transaction that puts a value
  sees it at once, every other one only after the commit.

A commit whose answer never came (the connection died during ``COMMIT``) publishes nothing,
even when it is then found to have committed: a cache only saves a read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from core.db.session import TenantSession

__all__ = ["CommitCache", "publish_on_commit"]

K = TypeVar("K")
V = TypeVar("V")

log = structlog.get_logger("madoguchi.db")

_PENDING = "madoguchi.publish_on_commit"  # [(savepoint or None, action)]
_LOCAL = "madoguchi.commit_cache"  # cache -> this transaction's own puts


def _sync(session: Any) -> Session:
    return getattr(session, "sync_session", session)


def publish_on_commit(session: Any, action: Callable[[], None]) -> None:
    """Run ``action`` (synchronous, quick) once ``session``'s transaction has committed; drop
    it if the transaction, or the savepoint it was noted in, rolls back. An action that
    raises is logged: the commit it follows has happened."""
    sync = _sync(session)
    if not isinstance(sync, TenantSession):  # only its events publish
        raise TypeError("publish_on_commit needs a session of core.Database")
    sync.info.setdefault(_PENDING, []).append((sync.get_nested_transaction(), action))


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(TenantSession, "after_commit")
def _publish(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the root has not committed
        return
    session.info.pop(_LOCAL, None)
    for _, action in session.info.pop(_PENDING, ()):
        try:
            action()
        except Exception as exc:
            log.error("publish_on_commit_failed", error=type(exc).__name__)


@event.listens_for(TenantSession, "after_soft_rollback")
def _drop(session: Session, previous: SessionTransaction) -> None:
    session.info.pop(_LOCAL, None)  # what a savepoint put is not told apart: read again
    if not previous.nested:
        session.info.pop(_PENDING, None)
        return
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [(where, a) for where, a in pending if not _within(where, previous)]


@event.listens_for(TenantSession, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the root ended without committing (closed)
        session.info.pop(_PENDING, None)
        session.info.pop(_LOCAL, None)


class CommitCache(Generic[K, V]):
    """A per-process mapping that a transaction fills for the others only by committing.

    :meth:`get` answers the session's own puts first, then what committed transactions put;
    :meth:`put` is published when the session's transaction commits (not at all if it rolls
    back). Keep only what a later transaction can check is still current (a row's own value,
    a ``config_version``), as every cache of rows must."""

    def __init__(self) -> None:
        self._published: dict[K, V] = {}

    def _local(self, session: Any, create: bool = False) -> dict[K, V] | None:
        info = _sync(session).info
        if create:
            return info.setdefault(_LOCAL, {}).setdefault(self, {})
        return info.get(_LOCAL, {}).get(self)

    def get(self, session: Any, key: K) -> V | None:
        local = self._local(session)
        if local is not None and key in local:
            return local[key]
        return self._published.get(key)

    def put(self, session: Any, key: K, value: V) -> None:
        local = self._local(session, create=True)
        assert local is not None
        local[key] = value
        publish_on_commit(session, lambda: self._published.__setitem__(key, value))

    def forget(self, match: Callable[[K], bool]) -> None:
        """Drop the published entries whose key matches, at once (a destroyed key)."""
        for key in [k for k in self._published if match(k)]:
            del self._published[key]
