"""A group whose connection dies during COMMIT is stored once: nothing lost, nothing twice.

Between the app and the real PostgreSQL sits a small TCP proxy that, when armed, cuts the
connection that sends ``COMMIT``: after the server answered (the commit happened, its answer
is lost), before the server got it (nothing was committed), or by going silent towards the
server without closing (a dead network link: the server still holds the transaction open).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from sqlalchemy.engine import make_url

from core.audit.verify import verify_tenant
from core.db.engine import Database
from core.db.group_commit import GroupCommit
from core.db.outcome import CommitOutcomeUnknown
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.conftest import make_tenant
from tests.core.db.test_group_commit import Recorder, _items

pytestmark = pytest.mark.parametrize("engine_kind", ["postgres"])

SSL_OR_GSS = {80877103, 80877104}  # requests answered by one byte, before the startup message


class CommitCutter:
    """A TCP proxy to PostgreSQL that, once armed, cuts the next connection sending COMMIT."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.mode: str | None = None
        self.cuts = 0
        self.refusing = False  # new connections are closed at once (the database is away)
        self.held: list[asyncio.StreamWriter] = []  # server sides kept open ("silent")
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        for writer in self.held:
            writer.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.refusing:
            client_w.close()
            return
        server_r, server_w = await asyncio.open_connection(*self.target)
        answer_lost = asyncio.Event()  # the next answer from the server is dropped
        relay = asyncio.ensure_future(self._relay(server_r, client_w, server_w, answer_lost))
        self.tasks.add(relay)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await self._forward(client_r, client_w, server_w, answer_lost)

    async def _forward(
        self,
        client_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        server_w: asyncio.StreamWriter,
        answer_lost: asyncio.Event,
    ) -> None:
        while True:  # the untyped messages: SSL/GSS requests, then the startup message
            head = await client_r.readexactly(8)
            length, code = struct.unpack("!ii", head)
            server_w.write(head + await client_r.readexactly(length - 8))
            if code not in SSL_OR_GSS:
                break
        while True:
            kind = await client_r.readexactly(1)
            size = await client_r.readexactly(4)
            body = await client_r.readexactly(struct.unpack("!i", size)[0] - 4)
            if self.mode is not None and kind == b"Q" and body.upper().startswith(b"COMMIT"):
                mode, self.mode = self.mode, None
                self.cuts += 1
                if mode.startswith("after"):  # the server commits; its answer never arrives
                    answer_lost.set()
                    self.refusing = mode == "after-unreachable"
                    server_w.write(kind + size + body)
                    return
                client_w.close()
                if mode == "silent":  # the server hears nothing more, not even a close
                    self.held.append(server_w)
                else:
                    server_w.close()
                return
            server_w.write(kind + size + body)

    async def _relay(
        self,
        server_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        server_w: asyncio.StreamWriter,
        answer_lost: asyncio.Event,
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await server_r.read(65536):
                if answer_lost.is_set():  # the COMMIT's answer: it is not passed on
                    break
                client_w.write(data)
                await client_w.drain()
        client_w.close()
        if server_w not in self.held:
            server_w.close()


@pytest.fixture
async def cutter(settings: Settings) -> AsyncIterator[tuple[CommitCutter, Database]]:
    url = make_url(settings.database_url)
    proxy = CommitCutter(url.host or "127.0.0.1", url.port or 5432)
    port = await proxy.start()
    db = Database(url.set(port=port).render_as_string(hide_password=False))
    try:
        yield proxy, db
    finally:
        await db.dispose()
        await proxy.close()


@pytest.mark.parametrize("mode", ["after", "before", "silent"])
async def test_a_connection_killed_during_commit_stores_each_item_once(
    engine_kind: str,
    mode: str,
    cutter: tuple[CommitCutter, Database],
    db: Database,
    host: PluginHost,
) -> None:
    proxy, through_proxy = cutter
    tenant = await make_tenant(db, host, "commit-cut")
    handler = Recorder()
    group: GroupCommit[int, Any] = GroupCommit(through_proxy.for_groups(), handler, name="test")
    assert await group.submit(tenant, 0) == 0  # connected
    proxy.mode = mode
    with structlog.testing.capture_logs() as logs:
        answers = await asyncio.wait_for(
            asyncio.gather(*(group.submit(tenant, i) for i in range(1, 6))), 60
        )
    assert proxy.cuts == 1  # the commit's connection was cut
    assert answers == [i * 10 for i in range(1, 6)]  # every client has its answer
    assert sorted(map(int, await _items(db, tenant))) == list(range(6))  # each stored once
    assert (await verify_tenant(db, tenant.id)).report.ok
    [asked] = [e for e in logs if e["event"] == "commit_answer_lost"]
    assert asked["committed"] is (mode == "after")
    terminated = [e for e in logs if e["event"] == "commit_orphan_terminated"]
    if mode == "silent":  # the server still held the transaction open: it was ended
        assert terminated


async def test_a_commit_whose_outcome_cannot_be_learned_is_not_tried_again(
    engine_kind: str, cutter: tuple[CommitCutter, Database], db: Database, host: PluginHost
) -> None:
    """The COMMIT's answer is lost and the database cannot be reached to ask: the clients
    get an error (their work may be stored), and nothing is stored twice."""
    proxy, through_proxy = cutter
    tenant = await make_tenant(db, host, "commit-cut")
    group: GroupCommit[int, Any] = GroupCommit(through_proxy.for_groups(), Recorder(), name="test")
    assert await group.submit(tenant, 0) == 0
    proxy.mode = "after-unreachable"
    answers = await asyncio.wait_for(
        asyncio.gather(*(group.submit(tenant, i) for i in range(1, 4)), return_exceptions=True),
        60,
    )
    assert all(isinstance(a, CommitOutcomeUnknown) for a in answers), answers
    assert sorted(map(int, await _items(db, tenant))) == [0, 1, 2, 3]  # it had committed
