"""Engines and the session factory.

SQLite runs in WAL mode with foreign keys on, its log checkpointed off the event loop
(:mod:`core.db.checkpoint`); PostgreSQL needs nothing special here (the tenant is set per
transaction by :mod:`core.db.session`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import configuration, outcome
from core.db.checkpoint import WAL_KEPT_BYTES, Checkpointer
from core.db.files import private_database_file
from core.db.inline_sqlite import BUSY_TIMEOUT_MS, InlineConnection, inline_creator
from core.db.session import TenantSession, bind_session, track_commits
from core.tenant_context import TenantContext

__all__ = ["EVIDENCE_KEY", "Database", "keep_on_rollback", "make_engine"]

assert configuration  # its session listeners move config_version on for every session

EVIDENCE_KEY = "madoguchi.evidence"


async def keep_on_rollback(
    session: AsyncSession, writer: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    """Run ``writer(session)`` now, and again in a fresh transaction if this one rolls back.

    For evidence (a refusal, a security alert) that the refused request's own rollback must
    not erase. Writing in the same transaction avoids waiting on locks it holds."""
    await writer(session)
    session.info.setdefault(EVIDENCE_KEY, []).append(writer)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # an inline connection never sleeps in SQLite's busy handler (it waits on a thread)
    inline = isinstance(dbapi_connection.driver_connection, InlineConnection)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={0 if inline else BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # checkpoints run on a thread of their own (core.db.checkpoint), never inside a commit
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        checkpointer = Checkpointer.of(engine.url)
        if checkpointer is not None:  # a file: the owner's alone
            private_database_file(checkpointer.path)
            # looks at the log's size as each connection comes back from a transaction (a
            # pool event: a connection event such as "commit" would make SQLAlchemy dispatch
            # events around every statement)
            event.listen(engine.sync_engine, "checkin", lambda *_: checkpointer.committed())
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class Database:
    """One engine and its sessions. ``session(tenant)`` is the only way code gets a session."""

    def __init__(self, url: str, *, track_commits: bool = False, **engine_kwargs: Any) -> None:
        """``track_commits``: each transaction notes its PostgreSQL transaction id, so that
        a commit whose answer was lost is resolved before anyone retries it
        (:mod:`core.db.outcome`); for writers only (it gives every transaction an id)."""
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.track_commits = track_commits and self.engine.dialect.name == "postgresql"
        self._for_groups: Database | None = None
        self._factory = async_sessionmaker(
            self.engine,
            class_=AsyncSession,
            sync_session_class=TenantSession,
            expire_on_commit=False,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(
        self, tenant: TenantContext | int | None = None, *, cross_tenant: str | None = None
    ) -> AsyncIterator[AsyncSession]:
        """A session for one tenant (or the platform when ``tenant`` is None).

        Commits when the block ends normally, rolls back on an exception. ``cross_tenant``
        names the one reason a model declared for being read across tenants (the job claim).
        """
        tenant_id = tenant.id if isinstance(tenant, TenantContext) else tenant
        async with self._factory() as session:
            bind_session(session.sync_session, tenant_id, cross_tenant)
            if self.track_commits:
                track_commits(session.sync_session)
            try:
                yield session
                await self.commit(session)
            except BaseException as exc:
                await session.rollback()
                if not isinstance(exc, outcome.CommitOutcomeUnknown):  # it may be stored
                    await self._replay_evidence(session, tenant_id)
                raise

    async def commit(self, session: AsyncSession) -> None:
        """Commit a session of this database. With ``track_commits``, a commit whose answer
        was lost returns normally if it did commit, and raises if it did not
        (:class:`core.db.outcome.CommitOutcomeUnknown` if that cannot be learned)."""
        if self.track_commits:
            await outcome.commit(session, self.engine)
        else:
            await session.commit()

    async def _replay_evidence(self, failed: AsyncSession, tenant_id: int | None) -> None:
        """Write again, in a transaction of their own, the records that must outlive the
        rollback of the work they refused (see :func:`keep_on_rollback`)."""
        writers = failed.info.pop(EVIDENCE_KEY, [])
        if not writers:
            return
        async with self._factory() as session:
            bind_session(session.sync_session, tenant_id, None)
            for writer in writers:
                await writer(session)
            await session.commit()

    def for_groups(self) -> Database:
        """The database for group-commit writers (:mod:`core.db.group_commit`). On PostgreSQL
        a small pool of its own without the pre-ping round trip at every checkout: a group
        that finds its connection dead is tried again, on fresh connections (a disconnect
        invalidates the pool), unless it had committed: its commits are tracked
        (``track_commits``). SQLite: connections that run their statements on the event
        loop's thread (:mod:`core.db.inline_sqlite`)."""
        if self._for_groups is None:
            if self.dialect == "postgresql":
                self._for_groups = Database(
                    self.url,
                    track_commits=True,
                    pool_size=4,
                    max_overflow=4,
                    pool_pre_ping=False,
                    pool_recycle=1800,
                )
            else:
                database = self.engine.url.database
                if not database or database == ":memory:" or "mode=memory" in self.url:
                    return self
                self._for_groups = Database(self.url, async_creator=inline_creator(database))
        return self._for_groups

    async def dispose(self) -> None:
        if self._for_groups is not None:
            await self._for_groups.dispose()
        await self.engine.dispose()
