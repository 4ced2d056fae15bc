"""Health, readiness, error shape and request logs."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from litestar import get
from litestar.testing import AsyncTestClient

from core import PluginManifest, hookimpl
from core.app import create_app
from core.db.engine import Database
from core.logging import configure_logging
from core.plugins.host import PluginHost
from core.settings import Settings, load_settings
from tests.conftest import World, make_tenant, make_token, restore_session_logging

CANARY = "カナリア太郎 canary-090-1234-5678"


@pytest.fixture
def log_stream() -> Any:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    yield stream
    restore_session_logging()


async def test_healthz_and_readyz(app: Any) -> None:
    assert (await app.get("/healthz")).json() == {"status": "ok"}
    ready = await app.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migrations"]["current"] == ready.json()["migrations"]["head"]


async def test_readyz_is_503_on_an_unmigrated_database(tmp_path: Path, host: PluginHost) -> None:
    settings = load_settings(home=tmp_path)
    settings.ensure_dirs()
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


class Exploding:
    @hookimpl
    def register_routes(self) -> list[Any]:
        @get("/api/v1/t/{tenant:str}/boom", opt={"permission": "plugin:list"})
        async def boom() -> None:
            raise ValueError(f"customer {CANARY} broke it")

        return [boom]


async def test_unexpected_error_is_json_without_trace_or_personal_data(
    settings: Settings, db: Database, log_stream: io.StringIO
) -> None:
    host = PluginHost()
    host.load_builtins()
    host.register(Exploding(), PluginManifest(id="boom", name="Boom", version="1.0"))
    await make_tenant(db, host, "boom-co", {"boom": {}})
    headers = await make_token(db, "op@example.jp", ("operator", "boom-co"))
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        response = await client.get("/api/v1/t/boom-co/boom", headers=headers)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error" and error["request_id"]
    assert response.headers["x-request-id"] == error["request_id"]
    assert CANARY not in response.text and "Traceback" not in response.text
    logs = log_stream.getvalue()
    assert "canary" not in logs and "Traceback" not in logs
    finished = [json.loads(line) for line in logs.splitlines() if '"request_finished"' in line]
    assert finished[-1]["status"] == 500 and finished[-1]["tenant"] == "boom-co"
    assert finished[-1]["request_id"] == error["request_id"]


async def test_request_log_has_ids_but_no_bodies_or_query_strings(
    app: Any, db: Database, host: PluginHost, log_stream: io.StringIO
) -> None:
    headers = await make_token(db, "admin@example.jp", ("platform_admin", None))
    body = {"slug": "log-co", "display_name": CANARY}
    response = await app.post(
        "/api/v1/admin/tenants?note=secret-query",
        json=body,
        headers={**headers, "x-request-id": "req-12345678"},
    )
    assert response.status_code == 201
    logs = log_stream.getvalue()
    assert CANARY not in logs and "secret-query" not in logs
    [line] = [json.loads(x) for x in logs.splitlines() if '"request_finished"' in x]
    assert line["request_id"] == "req-12345678"
    assert isinstance(line["user"], int)
    assert line["route"] == "/api/v1/admin/tenants"


async def test_the_request_log_names_the_route_template_never_a_secret_in_the_path(
    app: Any, world: World, log_stream: io.StringIO
) -> None:
    secret = "verify-secret-0123456789abcdef"
    await app.get(f"/t/{world.a.slug}/verify/{secret}")
    logs = log_stream.getvalue()
    assert secret not in logs
    finished = [json.loads(x) for x in logs.splitlines() if '"request_finished"' in x]
    assert [line["route"] for line in finished] == ["/t/{tenant}/verify/{token}"]
