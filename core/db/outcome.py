"""A commit whose answer was lost: find out whether it happened before anything is retried.

When the connection dies while ``COMMIT`` is on its way (a failover, a dropped network link,
a server restart), the client cannot tell whether the server committed: the commit may have
happened and only its answer been lost. Retrying then would store the work twice (a request
without an Idempotency-Key would be registered twice). So a session that tracks its commits
(:func:`core.db.session.track_commits`: the group writers') notes its PostgreSQL transaction
id at BEGIN, in the statement that sets the tenant (no extra round trip), and after a lost
answer asks a fresh connection ``pg_xact_status(xid)``:

* ``committed``: the commit happened; :func:`commit` returns as if it had been answered;
* ``aborted``, or unknown to the server: nothing was stored; the error is raised and the
  caller may try again;
* ``in progress``: the server has not yet seen the client go (a network link that died
  without a reset). Asked again shortly; if it still runs, its server process is ended
  (``pg_terminate_backend``, only while it still runs that same transaction) and the status
  read again, which is then final: a commit is atomic, whether it was under way or not.

If the outcome cannot be learned (the database stays unreachable), :class:`CommitOutcomeUnknown`
is raised: the work is neither acknowledged nor tried again.

SQLite needs none of this: it runs in the process, so there is no answer to lose between the
commit and its caller. In WAL mode a commit appends its pages to the log, the last frame marked
as the commit, and then publishes it in the shared index; an error on the way (disk full, I/O)
is returned by ``COMMIT`` and the transaction is rolled back, so an error means nothing was
stored and retrying is right. What can happen is a crash of the process after the commit frame
was written and before the answer went out: the transaction is then stored (with
``synchronous=NORMAL`` it is lost only if the machine itself loses power before the log reaches
the disk), and nothing is retried, since the process that would retry is gone; a client that
sent an Idempotency-Key gets the stored answer when it asks again (one that sent none cannot
be told apart from a new request).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.session import transaction_of

__all__ = ["CommitOutcomeUnknown", "commit"]

log = structlog.get_logger("madoguchi.db")

TERMINATE_AFTER = 0.2  # seconds of "in progress" before the orphaned transaction is ended
GIVE_UP_AFTER = 30.0  # seconds without an answer from the database

_STATUS = sa.text("SELECT pg_xact_status(CAST(CAST(:xid AS text) AS xid8))")
# only while that process still runs that transaction: a process id can be reused
_TERMINATE = sa.text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE pid = :pid AND backend_xid::text = :xid32"
)


class CommitOutcomeUnknown(RuntimeError):
    """The connection died during COMMIT and the database could not be asked since: the
    work may or may not be stored, so it is neither acknowledged nor tried again."""


async def commit(session: Any, engine: AsyncEngine) -> None:
    """Commit ``session``; when the answer to a tracked session's COMMIT was lost, return
    normally if the transaction did commit, else raise the error (nothing was stored).
    What the session would publish on commit (:mod:`core.db.commit_cache`) is dropped
    either way: it is only read again."""
    tracked = transaction_of(session.sync_session)
    try:
        await session.commit()
    except Exception as exc:
        if tracked is None or not getattr(exc, "connection_invalidated", False):
            raise
        await session.rollback()  # the dead transaction's state in this session
        try:
            committed = await _committed(engine, *tracked)
        except Exception as lost:
            raise CommitOutcomeUnknown("the database could not be asked") from lost
        log.warning("commit_answer_lost", committed=committed)
        if not committed:
            raise


async def _committed(engine: AsyncEngine, xid: str, pid: int) -> bool:
    started = time.monotonic()
    wait, terminated = 0.005, False
    while True:
        async with engine.connect() as connection:
            status = (await connection.execute(_STATUS, {"xid": xid})).scalar()
            if status != "in progress":
                return bool(status == "committed")  # NULL: too old to know, so not ours
            if not terminated and time.monotonic() - started >= TERMINATE_AFTER:
                xid32 = str(int(xid) % 2**32)
                await connection.execute(_TERMINATE, {"pid": pid, "xid32": xid32})
                terminated = True
                log.warning("commit_orphan_terminated")
        if time.monotonic() - started >= GIVE_UP_AFTER:
            raise TimeoutError("the transaction stays in progress")
        await asyncio.sleep(wait)
        wait = min(wait * 2, 0.5)
