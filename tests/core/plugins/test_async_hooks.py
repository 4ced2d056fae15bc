"""``on_*`` implementations may be coroutines, awaited after commit; a failing plugin is logged
and stops neither the others nor the request; a rolled-back change notifies nobody."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar import post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.testing import AsyncTestClient
from sqlmodel import select

from core import ApiError, PluginContext, PluginManifest, TenantContext, hookimpl
from core.app import create_app
from core.db.engine import Database
from core.logging import configure_logging
from core.plugins.host import PluginHost
from core.settings import Settings
from plugins.intake.models import Inquiry
from plugins.intake.web import inquiry_or_404, notify_updated
from tests.canaries import CUSTOMER_A
from tests.conftest import make_tenant, make_token, restore_session_logging
from tests.plugins.intake.conftest import BODY

SECRET = CUSTOMER_A["note"]  # what a careless plugin puts in its exception


def manifest(plugin_id: str) -> PluginManifest:
    return PluginManifest(id=plugin_id, name=plugin_id, version="1.0")


class Reader:
    """An async plugin that reads, in a session of its own, the inquiry it is told about."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: list[tuple[str, str, str | None]] = []

    async def _status(self, ctx: TenantContext, uid: str) -> str | None:
        async with self.db.session(ctx) as session:
            inquiry = (await session.exec(select(Inquiry).where(Inquiry.uid == uid))).first()
        return None if inquiry is None else inquiry.status

    @hookimpl
    async def on_tenant_onboarded(self, ctx: TenantContext) -> None:
        self.seen.append(("onboarded", ctx.slug, None))

    @hookimpl
    async def on_inquiry_created(self, ctx: TenantContext, inquiry_uid: str) -> None:
        self.seen.append(("created", inquiry_uid, await self._status(ctx, inquiry_uid)))

    @hookimpl
    async def on_inquiry_updated(
        self, ctx: TenantContext, inquiry_uid: str, changes: list[str]
    ) -> None:
        self.seen.append((",".join(changes), inquiry_uid, await self._status(ctx, inquiry_uid)))

    @hookimpl
    async def on_inquiry_resolved(self, ctx: TenantContext, inquiry_uid: str) -> None:
        self.seen.append(("resolved", inquiry_uid, await self._status(ctx, inquiry_uid)))


class BrokenSync:
    @hookimpl
    def on_tenant_onboarded(self, ctx: TenantContext) -> None:
        raise RuntimeError(SECRET)

    @hookimpl
    def on_inquiry_updated(self, ctx: TenantContext, inquiry_uid: str) -> None:
        raise RuntimeError(SECRET)


class BrokenAsync:
    @hookimpl
    async def on_tenant_onboarded(self, ctx: TenantContext) -> None:
        raise LookupError(SECRET)

    @hookimpl
    async def on_inquiry_updated(self, ctx: TenantContext, inquiry_uid: str) -> None:
        raise LookupError(SECRET)


@post("/api/v1/t/{tenant:str}/probe/{uid:str}", opt={"permission": "inquiry:reply"})
async def probe(
    uid: FromPath[str],
    plugin: NamedDependency[PluginContext],
    fail: FromQuery[bool],
) -> dict[str, str]:
    """Raises the priority and tells the plugins after commit; with ``fail``, refuses after
    that (the transaction rolls back)."""
    inquiry = await inquiry_or_404(plugin.session, uid)
    inquiry.priority = 1
    await notify_updated(plugin, inquiry, ["priority"])
    if fail:
        raise ApiError(409, "refused after the change was made")
    return {"uid": uid}


class Probe:
    @hookimpl
    def register_routes(self) -> list[Any]:
        return [probe]


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    yield stream
    restore_session_logging()


@pytest.fixture
async def desk(settings: Settings, db: Database) -> AsyncIterator[Any]:
    """A tenant whose plugins are, in registration order: a reader, a plugin that raises and
    one whose coroutine raises, so that both failing ones are called before the reader."""
    host = PluginHost()
    host.load_builtins()
    reader = Reader(db)
    for plugin, plugin_id in (
        (reader, "reader"),
        (Probe(), "probe"),
        (BrokenSync(), "broken-sync"),
        (BrokenAsync(), "broken-async"),
    ):
        host.register(plugin, manifest(plugin_id))
    host.check()
    plugins: dict[str, Any] = {
        "intake": {},
        "reader": {},
        "probe": {},
        "broken-sync": {},
        "broken-async": {},
    }
    ctx = await make_tenant(db, host, "honey", plugins)
    headers = await make_token(db, "op1@bpo.example.jp", ("operator", "honey"))
    app = create_app(settings, host=host)
    reader.db = app.state.core.db  # the app's own: its requests run on a loop of their own
    async with AsyncTestClient(app=app) as client:
        yield client, headers, reader, ctx


def _failures(stream: io.StringIO) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [e for e in events if e["event"] == "hook_failed"]


async def test_a_coroutine_implementation_is_awaited_after_commit_and_sees_the_change(
    desk: Any,
) -> None:
    client, headers, reader, _ = desk
    created = await client.post("/api/v1/t/honey/inquiries", json=BODY, headers=headers)
    assert created.status_code == 201, created.text
    uid = created.json()["uid"]
    assert reader.seen[-1] == ("created", uid, "new")  # awaited before the response came
    url = f"/api/v1/t/honey/inquiries/{uid}"
    resolved = await client.patch(url, json={"status": "resolved"}, headers=headers)
    assert resolved.status_code == 200, resolved.text
    assert reader.seen[-2:] == [("status", uid, "resolved"), ("resolved", uid, "resolved")]


async def test_failing_plugins_are_logged_and_stop_neither_the_others_nor_the_request(
    settings: Settings, db: Database, log_stream: io.StringIO
) -> None:
    host = PluginHost()
    host.load_builtins()
    reader = Reader(db)
    host.register(reader, manifest("reader"))
    host.register(BrokenSync(), manifest("broken-sync"))
    host.register(BrokenAsync(), manifest("broken-async"))
    host.check()
    plugins: dict[str, Any] = {"reader": {}, "broken-sync": {}, "broken-async": {}}
    await make_tenant(db, host, "tolerant", plugins)  # the onboarding itself succeeds
    assert reader.seen == [("onboarded", "tolerant", None)]
    failures = _failures(log_stream)
    assert [(f["hook"], f["plugin"], f["error"]) for f in failures] == [
        ("on_tenant_onboarded", "broken-async", "LookupError"),
        ("on_tenant_onboarded", "broken-sync", "RuntimeError"),
    ]
    assert SECRET not in log_stream.getvalue()


async def test_a_failing_plugin_does_not_fail_the_request_nor_silence_the_reader(
    desk: Any, log_stream: io.StringIO
) -> None:
    client, headers, reader, _ = desk
    uid = (await client.post("/api/v1/t/honey/inquiries", json=BODY, headers=headers)).json()["uid"]
    url = f"/api/v1/t/honey/inquiries/{uid}"
    changed = await client.patch(url, json={"priority": 2}, headers=headers)
    assert changed.status_code == 200 and changed.json()["priority"] == 2
    assert reader.seen[-1] == ("priority", uid, "new")
    failures = [(f["hook"], f["plugin"], f["error"]) for f in _failures(log_stream)]
    assert failures == [
        ("on_inquiry_updated", "broken-async", "LookupError"),
        ("on_inquiry_updated", "broken-sync", "RuntimeError"),
    ]
    assert SECRET not in log_stream.getvalue()


async def test_a_rolled_back_request_notifies_nobody(
    desk: Any, db: Database, log_stream: io.StringIO
) -> None:
    client, headers, reader, ctx = desk
    uid = (await client.post("/api/v1/t/honey/inquiries", json=BODY, headers=headers)).json()["uid"]
    before = list(reader.seen)
    refused = await client.post(f"/api/v1/t/honey/probe/{uid}?fail=true", headers=headers)
    assert refused.status_code == 409
    assert reader.seen == before and _failures(log_stream) == []
    async with db.session(ctx) as session:
        inquiry = (await session.exec(select(Inquiry).where(Inquiry.uid == uid))).one()
    assert inquiry.priority != 1  # the change was rolled back
    done = await client.post(f"/api/v1/t/honey/probe/{uid}?fail=false", headers=headers)
    assert done.status_code == 201, done.text
    assert reader.seen == [*before, ("priority", uid, "new")]


class Ordered:
    """Writes its name into a shared list, as a plain function or a coroutine."""

    def __init__(self, name: str, calls: list[str], *, coroutine: bool) -> None:
        self.name, self.calls = name, calls
        self.coroutine = coroutine

    async def _later(self) -> None:
        self.calls.append(self.name)

    def notified(self) -> Any:
        if self.coroutine:
            return self._later()
        self.calls.append(self.name)
        return None


def _plugin(
    name: str, calls: list[str], *, coroutine: bool, tryfirst: bool = False, trylast: bool = False
) -> object:
    ordered = Ordered(name, calls, coroutine=coroutine)

    class Plugin:
        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def on_tenant_onboarded(self, ctx: TenantContext) -> Any:
            return ordered.notified()

    return Plugin()


async def test_order_is_tryfirst_then_last_registered_first_then_trylast_sync_or_async() -> None:
    calls: list[str] = []
    host = PluginHost()
    for name, coroutine, marks in (
        ("late", False, {"trylast": True}),
        ("first-registered", True, {}),
        ("eager", True, {"tryfirst": True}),
        ("second-registered", False, {}),
        ("last-registered", True, {}),
    ):
        host.register(_plugin(name, calls, coroutine=coroutine, **marks), manifest(name))
    host.check()
    ctx = TenantContext(id=1, slug="order", display_name="order")
    await host.relay(ctx, set(host.manifests)).notify("on_tenant_onboarded", ctx=ctx, services=None)
    assert calls == [
        "eager",
        "last-registered",
        "second-registered",
        "first-registered",
        "late",
    ]
