"""SQLite for group-commit writers, without a thread hop per call.

aiosqlite runs every call (cursor, execute, fetch, close) on its connection's thread and
resumes the caller through the event loop: four hops per statement, each waiting behind the
loop's other work, which is most of a busy group's time. A statement of a group writer takes
microseconds once the transaction holds SQLite's write lock (WAL: readers never block it), so
this connection runs the calls on the loop's own thread, behind the same asyncio adapter
SQLAlchemy uses for aiosqlite.

Only waiting blocks: the connection has no busy timeout, and a call that finds the database
locked by another writer is run again on a worker thread with the usual timeout, so the loop
never sleeps in SQLite's busy handler. Group writers take their turns before their first
statement (:mod:`core.db.group_commit`), so that happens only against other kinds of writers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["BUSY_TIMEOUT_MS", "InlineConnection", "inline_creator"]

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000


class InlineCursor:
    """A cursor in aiosqlite's shape: the adapter enters it (``async with``) once made."""

    __slots__ = ("_connection", "_cursor")

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection, self._cursor = connection, cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await self._connection.call(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> InlineCursor:
        await self._connection.call(self._cursor.executemany, sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """The part of ``aiosqlite.Connection`` SQLAlchemy's adapter uses."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                raise
        # another writer holds the lock: wait for it off the loop, as aiosqlite would
        return await asyncio.to_thread(self._waiting, fn, *args)

    def _waiting(self, fn: Callable[..., T], *args: Any) -> T:
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return fn(*args)
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    async def commit(self) -> None:
        await self.call(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:  # the adapter's forced close (terminate)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level


def inline_creator(path: str) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine("sqlite+aiosqlite://...")``."""

    async def creator() -> InlineConnection:
        # the pool may hand the connection to another task on the same loop thread only;
        # the fallback's worker thread uses it while the loop's caller awaits it
        return InlineConnection(sqlite3.connect(path, check_same_thread=False))

    return creator
