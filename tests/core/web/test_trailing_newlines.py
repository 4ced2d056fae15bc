"""Validation patterns match the whole value: a trailing newline is refused, not stored.

``re.match(r"^...$")`` lets ``"x\\n"`` through (``$`` also matches before a final newline): a
tenant slug ``"x\\n"`` was created, and a ``working_hours`` ending in a newline made every
request of that tenant's customers answer 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.db.engine import Database
from core.plugins.host import PluginHost
from core.tenancy.manifest import ManifestError, load_manifests
from tests.conftest import World, make_token

TENANT = {"slug": "kaede-denki", "display_name": "かえで電機株式会社"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("slug", "kaede-denki\n"), ("working_hours", "09:00-18:00\n"), ("color", "#0055aa\n")],
)
async def test_the_admin_api_refuses_a_value_with_a_trailing_newline(
    app: Any, db: Database, field: str, value: str
) -> None:
    headers = await make_token(db, "admin@example.jp", ("platform_admin", None))
    refused = await app.post(
        "/api/v1/admin/tenants", json={**TENANT, field: value}, headers=headers
    )
    assert refused.status_code == 400, refused.text  # the document's pattern refuses it
    assert refused.json()["error"]["field"] == field
    listed = await app.get("/api/v1/admin/tenants", headers=headers)
    assert listed.json() == []


async def test_a_manifest_with_a_trailing_newline_in_working_hours_is_refused(
    host: PluginHost, tmp_path: Path
) -> None:
    manifest = tmp_path / "kaede-denki.toml"
    manifest.write_text(
        'display_name = "かえで電機株式会社"\nworking_hours = "09:00-18:00\\n"\n', encoding="utf-8"
    )
    with pytest.raises(ManifestError) as refused:
        load_manifests(manifest, host)
    assert refused.value.field == "working_hours"


async def test_a_queue_slug_with_a_trailing_newline_is_refused(app: Any, world: World) -> None:
    url = f"/api/v1/t/{world.a.slug}/intake/queues/billing%0A"
    put = await app.put(url, json={"name": "請求"}, headers=world.headers["a:supervisor"])
    assert put.status_code == 422, put.text
    assert put.json()["error"]["field"] == "slug"
