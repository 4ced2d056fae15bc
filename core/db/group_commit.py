"""Group commit: many requests' writes in one transaction per tenant.

A request submits an item and awaits its result. One writer task per tenant takes every item
waiting at that moment and hands them to the handler in one tenant-bound transaction; results
are delivered only after the commit, so a request is acknowledged only once its rows are
stored. While a transaction runs, new items gather for the next one: groups grow with the
load, and on an idle desk each request is committed at once.

A busy writer (its last group held more than one item) does not start a group with the few
stragglers that came in while the last one ran: the clients its last group answered are on
their way back, and a group of one or two pays the transaction's whole fixed cost (a dozen
statements) for them. Under load, groups otherwise alternate between nearly everyone and
almost no one. It waits until three quarters of them are back besides the stragglers, or
``gather`` seconds (5 ms) at most, as PostgreSQL's ``commit_delay`` waits for the siblings of
a commit.

A handler answers each item with a result or an exception for that item alone (a refusal);
the others still commit. If the transaction itself fails, its items are tried again one by
one (with a ``prepare`` step, a group of one too), so one bad item cannot take the rest of its
group down with it; a transaction whose connection the database dropped is first tried once
more as it was. A connection that died during ``COMMIT`` leaves the commit's outcome unknown:
on PostgreSQL it is asked of the database first (:mod:`core.db.outcome`), and a group that did
commit is answered, not tried again (its items would be stored twice).

SQLite has one writer at a time. Group writers of every process on the database file take
turns through a lock file beside it (``flock``: the kernel queues the waiters), instead of
colliding on SQLite's lock and sleeping in its busy handler. A ``prepare`` step runs the
group's reads before the turn is taken (on SQLite outside the write transaction, on
PostgreSQL early in the same one), so that a turn holds the lock only for what must see the
lock: the writes and the reads they depend on. A prepared read is as old as the wait for the
turn (milliseconds) when the group writes: what must be current is read in the turn; a stale
value a constraint catches (a unique key, a foreign key) fails the transaction, whose items are
then retried one by one, prepared again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fcntl
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.engine import Database
from core.db.outcome import CommitOutcomeUnknown
from core.tenant_context import TenantContext

__all__ = ["GroupCommit", "GroupHandler"]

T = TypeVar("T")
R = TypeVar("R")
GroupHandler = Callable[..., Awaitable[list[R | Exception]]]
GroupPrepare = Callable[[AsyncSession, TenantContext, list[T]], Awaitable[Any]]

log = structlog.get_logger("madoguchi.db")

GATHER_SECONDS = 0.005


async def take_write_lock(session: AsyncSession) -> None:
    """On SQLite, take the database's write lock before the transaction reads anything: a
    transaction that reads first and writes later fails (SQLITE_BUSY) when another process
    wrote in between, instead of waiting. PostgreSQL needs nothing."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":  # a write that changes nothing: no tenant filter
        await connection.exec_driver_sql("UPDATE audit_head SET seq = seq WHERE 0")


class _Turns:
    """Writers' turns on one SQLite file: an asyncio lock in this process, a ``flock`` on a
    lock file across processes (locks of one process share its file description)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.local = asyncio.Lock()

    @classmethod
    def of(cls, db: Database) -> _Turns | None:
        database = db.engine.url.database
        if db.dialect != "sqlite" or not database or database == ":memory:":
            return None
        return cls(os.path.abspath(database) + ".writers")

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self.local:
            try:  # free (no other process is writing): no thread needed
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                await self._wait_for_lock()
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)

    async def _wait_for_lock(self) -> None:
        acquiring = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, self.fd, fcntl.LOCK_EX))
        try:
            await asyncio.shield(acquiring)
        except asyncio.CancelledError:  # the thread still gets the lock: give it back then
            acquiring.add_done_callback(lambda _: fcntl.flock(self.fd, fcntl.LOCK_UN))
            raise


class GroupCommit(Generic[T, R]):
    """Collects items per tenant and commits each tenant's waiting items together."""

    def __init__(
        self,
        db: Database,
        handler: GroupHandler[R],
        *,
        name: str,
        max_group: int = 256,
        prepare: GroupPrepare[T] | None = None,
        gather: float = GATHER_SECONDS,
    ) -> None:
        """``handler(session, ctx, items)`` writes a group and answers each item; with
        ``prepare``, ``handler(session, ctx, items, prepare(session, ctx, items))``.
        ``gather``: how long a busy writer may wait for its group to fill (0: never)."""
        self.db, self.handler, self.name, self.max_group = db, handler, name, max_group
        self.prepare, self.gather = prepare, gather
        self._waiting: dict[int, list[tuple[T, asyncio.Future[R]]]] = {}
        self._writers: dict[int, asyncio.Task[None]] = {}
        self._wanted: dict[int, tuple[int, asyncio.Event]] = {}
        self._answered: dict[int, tuple[int, float]] = {}  # tenant -> (last group, when)
        self._turns = _Turns.of(db)

    async def submit(self, ctx: TenantContext, item: T) -> R:
        """Run ``item`` in the tenant's next group; returns once that group has committed.
        Raises the exception the handler answered for this item, or the transaction's."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.setdefault(ctx.id, [])
        waiting.append((item, future))
        wanted = self._wanted.get(ctx.id)
        if wanted is not None and len(waiting) >= wanted[0]:
            wanted[1].set()
        if ctx.id not in self._writers:
            # a fresh context: the writer must not inherit the first request's actor or log
            # bindings; each item carries its own
            self._writers[ctx.id] = asyncio.create_task(
                self._drain(ctx), name=f"{self.name}:{ctx.slug}", context=contextvars.Context()
            )
        return await future

    async def _drain(self, ctx: TenantContext) -> None:
        waiting = self._waiting[ctx.id]
        # the tenant's last group, if it was answered only just now (this task may have ended
        # when no one was waiting, an instant before its clients came back)
        answered, at = self._answered.pop(ctx.id, (0, 0.0))
        if time.monotonic() - at > self.gather:
            answered = 0
        try:
            while waiting:
                if self.gather and answered > 1:  # those it answered are on their way back
                    await self._gather(ctx, waiting, len(waiting) + answered * 3 // 4)
                group = waiting[: self.max_group]
                del waiting[: self.max_group]
                answered = len(group)
                await self._run(ctx, group)
            self._answered[ctx.id] = (answered, time.monotonic())
        except BaseException as exc:  # cancelled while gathering: nobody is left waiting
            for _, future in waiting:
                _deliver(future, exc)
            waiting.clear()
            raise
        finally:
            del self._writers[ctx.id]

    async def _gather(self, ctx: TenantContext, waiting: list[Any], expected: int) -> None:
        """Wait until ``expected`` items are waiting, or ``gather`` seconds."""
        if len(waiting) >= expected:
            return
        enough = asyncio.Event()
        self._wanted[ctx.id] = (expected, enough)
        try:
            await asyncio.wait_for(enough.wait(), self.gather)
        except TimeoutError:
            pass
        finally:
            del self._wanted[ctx.id]

    async def _run(
        self,
        ctx: TenantContext,
        group: list[tuple[T, asyncio.Future[R]]],
        retried: bool = False,
        alone: bool = False,  # the item's own try after its group failed
    ) -> None:
        try:
            items = [item for item, _ in group]
            async with self.db.session(ctx) as session:
                prepared = await self.prepare(session, ctx, items) if self.prepare else None
                async with self._turn():
                    try:
                        await take_write_lock(session)
                        if self.prepare:
                            results = await self.handler(session, ctx, items, prepared)
                        else:
                            results = await self.handler(session, ctx, items)
                        # before the turn goes to the next writer; a commit whose answer
                        # was lost returns if it did commit (core.db.outcome)
                        await self.db.commit(session)
                    except BaseException:
                        await session.rollback()
                        raise
        except CommitOutcomeUnknown as exc:  # it may be stored: not tried again
            for _, future in group:
                _deliver(future, exc)
            return
        except Exception as exc:
            if getattr(exc, "connection_invalidated", False) and not retried:
                # the database dropped the connection (a restart, a failover): once more, on
                # a fresh one; nothing of the failed transaction was committed (a commit
                # whose answer was lost was asked about and did not happen)
                log.warning("group_commit_reconnected", group=self.name, items=len(group))
                await self._run(ctx, group, retried=True, alone=alone)
                return
            if len(group) > 1 or (self.prepare is not None and not alone):
                # one bad item must not fail the others; and what was prepared may have gone
                # stale before the turn (another writer stored the same key): each item once
                # more by itself, prepared again
                log.warning("group_commit_split", group=self.name, items=len(group))
                for one in group:
                    await self._run(ctx, [one], alone=True)
                return
            _deliver(group[0][1], exc)
            return
        except BaseException as exc:  # cancelled while shutting down: nobody is left waiting
            for _, future in group:
                _deliver(future, exc)
            raise
        if len(results) != len(group):
            error = RuntimeError(f"{self.name}: {len(results)} results for {len(group)} items")
            for _, future in group:
                _deliver(future, error)
            return
        for (_, future), result in zip(group, results, strict=True):
            _deliver(future, result)

    def _turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._turns.turn() if self._turns else contextlib.nullcontext()


def _deliver(future: asyncio.Future[R], result: R | BaseException) -> None:
    if future.done():  # the request went away; its item was still written (and replays)
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
