"""Liveness, readiness and the landing page."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from litestar import MediaType, Response, get
from litestar.di import NamedDependency

from core.db.migrate import head_revision
from core.web.state import CoreState

__all__ = ["healthz", "home", "readyz"]


@get("/healthz", opt={"public": True}, include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", opt={"public": True}, include_in_schema=False)
async def readyz(core: NamedDependency[CoreState]) -> Response[dict[str, Any]]:
    head = await asyncio.to_thread(head_revision)
    try:
        async with core.db.engine.connect() as connection:
            current = (
                await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).scalar()
    except Exception as exc:  # any database failure means "not ready", with the reason's kind
        return Response({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    if current != head:
        return Response(
            {
                "status": "unavailable",
                "database": "ok",
                "migrations": {"current": current, "head": head},
            },
            status_code=503,
        )
    return Response(
        {"status": "ok", "database": "ok", "migrations": {"current": current, "head": head}}
    )


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
