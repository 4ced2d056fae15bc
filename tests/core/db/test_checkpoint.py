"""SQLite's log is checkpointed on a thread of its own: requests go on being answered."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from core.db.checkpoint import Checkpointer
from core.db.engine import Database
from core.db.group_commit import GroupCommit
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.conftest import make_tenant
from tests.core.db.test_group_commit import Recorder, _items

pytestmark = pytest.mark.parametrize("engine_kind", ["sqlite"])


class HeldCheckpoints:
    """Wraps a checkpointer so that its checkpoints wait for ``release`` before they run."""

    def __init__(self, checkpointer: Checkpointer) -> None:
        self.started, self.release, self.finished = (threading.Event() for _ in range(3))
        self.threads: list[str] = []
        self.results: list[tuple[int, int, int]] = []
        self.real = checkpointer.checkpoint

    def __call__(self) -> tuple[int, int, int]:
        self.threads.append(threading.current_thread().name)
        self.started.set()
        assert self.release.wait(30)
        result = self.real()
        self.results.append(result)
        self.finished.set()
        return result


async def test_a_checkpoint_runs_while_requests_are_served(
    engine_kind: str, db: Database, host: PluginHost, settings: Settings, tmp_path: Path
) -> None:
    """The log passes its limit; the checkpoint that starts is held on a threading.Event
    (as a slow disk would hold it): meanwhile requests are answered; once released it copies
    the log back into the database file, which then holds the rows by itself."""
    checkpointer = Checkpointer.of(db.engine.url)
    assert checkpointer is not None
    checkpointer.limit = 64 * 4096  # 64 pages, reached after some dozens of commits
    held = HeldCheckpoints(checkpointer)
    checkpointer.checkpoint = held  # type: ignore[method-assign]
    tenant = await make_tenant(db, host, "wal-shoji")
    group: GroupCommit[int, Any] = GroupCommit(db.for_groups(), Recorder(), name="test")

    written = 0
    while not held.started.is_set():
        assert written < 5000, "the log never reached its limit"
        assert await group.submit(tenant, written) == written * 10
        written += 1
    # the checkpoint is held: requests go on (each its own commit on the loop's thread)
    more = await asyncio.wait_for(
        asyncio.gather(*(group.submit(tenant, written + n) for n in range(20))), 10
    )
    assert more == [(written + n) * 10 for n in range(20)]
    assert not held.finished.is_set()
    assert held.threads == ["sqlite-checkpoint"]  # one at a time, off the loop's thread

    held.release.set()
    assert await asyncio.to_thread(held.finished.wait, 30)
    [(busy, pages, copied)] = held.results
    assert busy == 0 and copied == pages > 0
    # the database file alone (without its log) holds what was committed before
    alone = tmp_path / "alone.db"
    database = db.engine.url.database
    assert database is not None
    shutil.copy(database, alone)
    copy = sqlite3.connect(alone)
    try:
        stored = copy.execute(
            "SELECT count(*) FROM audit_event WHERE action = 'test.item'"
        ).fetchone()[0]
    finally:
        copy.close()
    assert stored >= written + 20
    assert sorted(map(int, await _items(db, tenant))) == list(range(written + 20))
