"""SQLite's write-ahead log copied back into the database on a worker thread, never on the loop.

SQLite's own automatic checkpoint runs inside the commit that makes the log cross its limit,
on the thread that commits. Group writers commit on the event loop's thread
(:mod:`core.db.inline_sqlite`), so that commit held the whole worker for the checkpoint's
reads, writes and fsyncs (137 ms measured, every request of the process waiting). So the app's
connections turn it off (``wal_autocheckpoint=0``) and a :class:`Checkpointer` per database
file and process does it instead:

* when a connection comes back from a transaction it looks at the log file's size (one
  ``stat``); past the limit, and when no checkpoint of this process is running, it starts one
  on a thread of its own;
* the checkpoint is ``PASSIVE``, on a connection of its own: it copies what it can without
  waiting for any reader or writer, so the writers go on meanwhile; what readers still need is
  copied by the next one;
* ``journal_size_limit`` on the app's connections cuts the log file back when SQLite starts
  the log over after a complete checkpoint, so that the file's size tells the log's length;
* two processes on one file are harmless: SQLite lets one checkpoint run at a time, and the
  other's returns at once having done nothing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from typing import Any

import structlog

__all__ = ["WAL_CHECKPOINT_PAGES", "WAL_KEPT_BYTES", "Checkpointer"]

log = structlog.get_logger("madoguchi.db")

PAGE_BYTES = 4096  # SQLite's default page size, which the app's databases keep
# The log is copied back once it holds this many pages. SQLite's default (1,000) made a busy
# desk checkpoint every few group commits; a longer log writes each often-changed page (an
# index's last leaf, a chain's head) once per checkpoint instead of once per thousand pages.
WAL_CHECKPOINT_PAGES = 10_000
# The log file is cut back to this size when the log starts over (it is reused up to there,
# which is cheaper than growing it again); below the limit, so its size tells the log's length.
WAL_KEPT_BYTES = WAL_CHECKPOINT_PAGES * PAGE_BYTES // 4


class Checkpointer:
    """Checkpoints one database file off the event loop, one at a time in this process."""

    def __init__(self, path: str) -> None:
        self.path, self.log_path = path, path + "-wal"
        self.limit = WAL_CHECKPOINT_PAGES * PAGE_BYTES
        self._running = threading.Lock()

    @classmethod
    def of(cls, url: Any) -> Checkpointer | None:
        """The process's checkpointer of the SQLite file ``url`` names (one per file, shared
        by its engines), or None when it names no plain file."""
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None  # in memory, or a URI filename (not used by the app)
        path = os.path.abspath(database)
        found = _BY_FILE.get(path)
        if found is None:
            found = _BY_FILE[path] = cls(path)
        return found

    def committed(self) -> None:
        """After a transaction, on whatever thread: start a checkpoint if the log is past the
        limit and none is running."""
        try:
            size = os.stat(self.log_path).st_size
        except FileNotFoundError:
            return
        if size < self.limit or not self._running.acquire(blocking=False):
            return
        try:
            threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True).start()
        except BaseException:
            self._running.release()
            raise

    def _run(self) -> None:
        try:
            self.checkpoint()
        except Exception as exc:  # the next commit past the limit tries again
            log.warning("wal_checkpoint_failed", error=type(exc).__name__)
        finally:
            self._running.release()

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint: (busy, pages in the log, pages copied back)."""
        connection = sqlite3.connect(self.path, check_same_thread=False)
        try:
            busy, pages, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
        return int(busy), int(pages), int(copied)


# one per file and process while an engine uses it (its commit listener holds it)
_BY_FILE: weakref.WeakValueDictionary[str, Checkpointer] = weakref.WeakValueDictionary()
