"""A plugin's route works through ``PluginContext``: its tenant, a session that commits with
the request, its settings as they are now, personal data, audit, jobs and a secret of its own."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.testing import AsyncTestClient
from sqlmodel import select

from core import ApiError, PermissionSpec, PluginContext, PluginManifest, Setting, hookimpl
from core.app import create_app
from core.audit.models import AuditEvent
from core.db.engine import Database
from core.jobs.models import Job
from core.plugins.host import PluginHost
from core.settings import Settings
from core.tenancy.context import TenantContext
from tests.conftest import make_tenant, make_token

MEMO = PluginManifest(
    id="memo",
    name="メモ / Memo",
    version="1.0.0",
    settings={"prefix": Setting("str", default="メモ")},
    permissions=(PermissionSpec("memo:write", "write a memo"),),
    role_grants={"operator": ("memo:write",)},
)
NAME = "山田花子"


@post("/api/v1/t/{tenant:str}/memo", opt={"permission": "memo:write"}, status_code=200)
async def write_memo(plugin: NamedDependency[PluginContext], fail: FromQuery[bool]) -> Any:
    customer = await plugin.personal_data.create_customer({"name": NAME})
    [shown] = await plugin.personal_data.view([customer])
    await plugin.audit("memo.write", object_type="memo", object_id="m1", fields=["text"])
    await plugin.enqueue("memo.tidy", {"memo": "m1"})
    if fail:
        raise ApiError(409, "refused after the writes were made")
    return {
        "tenant": plugin.tenant.slug,
        "prefix": plugin.settings["prefix"],
        "shown": shown["name"],
        "user": plugin.user_id,
        "actor": plugin.actor.user_id,
    }


@get("/api/v1/t/{tenant:str}/memo/secret", opt={"permission": "memo:write"})
async def memo_secret(plugin: NamedDependency[PluginContext]) -> dict[str, str]:
    return {"digest": hashlib.sha256(plugin.secret("sign")).hexdigest()}


class Memo:
    @hookimpl
    def register_routes(self) -> list[Any]:
        return [write_memo, memo_secret]


@pytest.fixture
async def memo_desk(
    settings: Settings, db: Database
) -> AsyncIterator[tuple[AsyncTestClient[Any], dict[str, str], TenantContext, PluginHost]]:
    host = PluginHost()
    host.load_builtins()
    host.register(Memo(), MEMO)
    host.check()
    ctx = await make_tenant(db, host, "kaede", {"memo": {"settings": {"prefix": "連絡"}}})
    headers = await make_token(db, "op@bpo.example.jp", ("operator", "kaede"))
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        yield client, headers, ctx, host


async def _stored(db: Database, ctx: TenantContext) -> tuple[list[str], list[str]]:
    async with db.session(ctx) as session:
        actions = (await session.exec(select(AuditEvent.action))).all()
        jobs = (await session.exec(select(Job.kind))).all()
    return list(actions), list(jobs)


async def test_a_plugin_route_writes_through_its_tenants_session_and_commits_with_the_request(
    memo_desk: Any, db: Database
) -> None:
    client, headers, ctx, _ = memo_desk
    answer = await client.post("/api/v1/t/kaede/memo?fail=false", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["tenant"] == "kaede" and body["prefix"] == "連絡"
    assert body["shown"] and NAME not in body["shown"]  # masked
    assert body["user"] is not None and body["user"] == body["actor"]
    actions, jobs = await _stored(db, ctx)
    assert actions.count("memo.write") == 1 and jobs.count("memo.tidy") == 1
    assert {"customer.create", "pii.read"} <= set(actions)


async def test_a_refused_request_leaves_neither_its_audit_event_nor_its_job(
    memo_desk: Any, db: Database
) -> None:
    client, headers, ctx, _ = memo_desk
    refused = await client.post("/api/v1/t/kaede/memo?fail=true", headers=headers)
    assert refused.status_code == 409
    actions, jobs = await _stored(db, ctx)
    assert "memo.write" not in actions and "memo.tidy" not in jobs
    assert "customer.create" not in actions


async def test_the_next_request_sees_a_settings_change_at_once(
    memo_desk: Any, db: Database
) -> None:
    client, headers, _, host = memo_desk
    first = await client.post("/api/v1/t/kaede/memo?fail=false", headers=headers)
    assert first.json()["prefix"] == "連絡"
    await make_tenant(db, host, "kaede", {"memo": {"settings": {"prefix": "至急"}}})
    second = await client.post("/api/v1/t/kaede/memo?fail=false", headers=headers)
    assert second.json()["prefix"] == "至急"


async def test_a_plugin_secret_is_made_once_kept_owner_only_and_taken_from_the_environment(
    memo_desk: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, headers, _, _ = memo_desk
    url = "/api/v1/t/kaede/memo/secret"
    first = (await client.get(url, headers=headers)).json()["digest"]
    assert (await client.get(url, headers=headers)).json()["digest"] == first
    path = settings.var_dir / "keys" / "plugin-memo-sign.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert hashlib.sha256(path.read_bytes()).hexdigest() == first
    shared = bytes(range(32))
    monkeypatch.setenv("MADOGUCHI_MEMO_SIGN_KEY", base64.b64encode(shared).decode())
    from_env = (await client.get(url, headers=headers)).json()["digest"]
    assert from_env == hashlib.sha256(shared).hexdigest()
