"""Liveness, readiness and the landing page."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from litestar import MediaType, Response, get
from litestar.di import NamedDependency

from core.db.migrate import head_revision, plugin_heads, version_table
from core.web.state import CoreState

__all__ = ["healthz", "home", "readyz"]


@get("/healthz", opt={"public": True}, include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@functools.cache
def _plugin_heads(plugin_id: str, folder: Path) -> tuple[str, ...]:
    return plugin_heads(plugin_id, folder)  # the code does not change while it runs


async def _plugins_behind(core: CoreState, connection: Any) -> dict[str, Any]:
    """Each installed plugin whose own tables are not at its code's heads."""
    behind: dict[str, Any] = {}
    for plugin_id, folder in sorted(core.host.migration_dirs().items()):
        heads = await asyncio.to_thread(_plugin_heads, plugin_id, folder)
        table = version_table(plugin_id)
        exists = await connection.run_sync(lambda sync, t=table: sa.inspect(sync).has_table(t))
        current: tuple[str, ...] = ()
        if exists:
            rows = await connection.execute(sa.text(f'SELECT version_num FROM "{table}"'))
            current = tuple(sorted(r[0] for r in rows))
        if current != heads:
            behind[plugin_id] = {"current": list(current), "head": list(heads)}
    return behind


@get("/readyz", opt={"public": True}, include_in_schema=False)
async def readyz(core: NamedDependency[CoreState]) -> Response[dict[str, Any]]:
    """200 when the database answers and the core's and every installed plugin's tables are
    at the code's revisions; 503 naming what is not (``madoguchi db upgrade`` fixes it)."""
    head = await asyncio.to_thread(head_revision)
    try:
        async with core.db.engine.connect() as connection:
            current = (
                await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).scalar()
            behind = await _plugins_behind(core, connection)
    except Exception as exc:  # any database failure means "not ready", with the reason's kind
        return Response({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    body: dict[str, Any] = {
        "status": "ok",
        "database": "ok",
        "migrations": {"current": current, "head": head},
    }
    if behind:
        body["plugins_behind"] = behind
    if current != head or behind:
        body["status"] = "unavailable"
        return Response(body, status_code=503)
    return Response(body)


_HOME = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>窓口 Madoguchi</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,"Hiragino Sans","Noto Sans CJK JP",sans-serif;max-width:46rem;
margin:3rem auto;padding:0 1rem;line-height:1.7;color:#1b1f24}}code{{background:#eef1f4;padding:0 .3em}}
</style></head><body>
<h1>窓口 Madoguchi</h1>
<p>マルチテナント型コンタクトセンター基盤が稼働しています。登録テナント数: <strong>{tenants}</strong>、
導入済みプラグイン: <strong>{plugins}</strong>。</p>
<p lang="en">The multi-tenant contact-centre platform is running with {tenants} tenants and
{plugins} plugins installed.</p>
<ul>
<li>API: <code>/api/v1</code> (<a href="/schema">OpenAPI</a>, <a href="/schema/openapi.json">JSON</a>)</li>
<li>状態 / status: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li>
</ul>
<p>テナント名などの情報は認証後に API から参照できます (<code>madoguchi token create</code>)。</p>
</body></html>"""


@get("/", opt={"public": True}, include_in_schema=False)
async def home(core: NamedDependency[CoreState]) -> Response[str]:
    from sqlmodel import func, select

    from core.tenancy.models import Tenant

    async with core.db.session() as session:
        count = (await session.exec(select(func.count()).select_from(Tenant))).one()
    body = _HOME.format(tenants=count, plugins=len(core.host.manifests))
    return Response(body, media_type=MediaType.HTML)
