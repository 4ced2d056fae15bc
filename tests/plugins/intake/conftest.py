"""Shared fixtures of the intake tests: a desk with a listening plugin and two queues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from core import PluginManifest, TenantContext, hookimpl
from core.app import create_app
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.conftest import make_tenant, make_token

BODY = {
    "channel": "web",
    "subject": "定期便の解約",
    "body": "来月から定期便を止めたいです。",
    "name": "山田 太郎",
    "phone": "０９０－１１１１－２２２２",
    "email": "taro@example.jp",
}


class Listener:
    """Records the inquiry hooks, and routes 解約 to the retention queue."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    @hookimpl
    def on_inquiry_created(self, ctx: TenantContext, inquiry_uid: str, channel: str) -> None:
        self.events.append(("created", inquiry_uid))

    @hookimpl
    def on_inquiry_updated(self, ctx: TenantContext, inquiry_uid: str, changes: list[str]) -> None:
        self.events.append(("updated:" + ",".join(changes), inquiry_uid))

    @hookimpl
    def on_inquiry_resolved(self, ctx: TenantContext, inquiry_uid: str) -> None:
        self.events.append(("resolved", inquiry_uid))

    @hookimpl
    def resolve_queue(
        self, ctx: TenantContext, channel: str, category: str, text: str
    ) -> str | None:
        return "retention" if "解約" in text else None


@pytest.fixture
async def desk(settings: Settings, db: Database) -> Any:
    host = PluginHost()
    host.load_builtins()
    listener = Listener()
    host.register(listener, PluginManifest(id="listener", name="Listener", version="1.0"))
    intake = {"settings": {"identity_verification": True}}
    ctx = await make_tenant(db, host, "honey", {"intake": intake, "listener": {}})
    from plugins.intake.models import Queue
    from plugins.intake.vocabulary import add_terms

    async with db.session(ctx) as session:
        session.add(Queue(tenant_id=ctx.id, slug="retention", name="解約防止", position=1))
        session.add(Queue(tenant_id=ctx.id, slug="general", name="一般", position=1000))
        await add_terms(session, ctx, "category", ["請求", "解約"])
        await add_terms(session, ctx, "tag", ["定期便"])
    headers = {
        "op1": await make_token(db, "op1@bpo.example.jp", ("operator", "honey")),
        "op2": await make_token(db, "op2@bpo.example.jp", ("operator", "honey")),
        "sv": await make_token(db, "sv@bpo.example.jp", ("supervisor", "honey")),
    }
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        yield client, headers, listener, ctx


@asynccontextmanager
async def concurrent_client(settings: Settings, host: PluginHost) -> AsyncIterator[Any]:
    """A client whose requests really run at the same time: the app runs in this event loop
    and each request is a task of its own (Litestar's test client serves one at a time)."""
    app = create_app(settings, host=host)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await app.state.core.db.dispose()
