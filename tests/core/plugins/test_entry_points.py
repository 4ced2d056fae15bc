"""A plugin installed as its own distribution is found, enabled for one tenant, and works
there only, without any change to the core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from litestar.testing import AsyncTestClient

from core.app import create_app
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.conftest import make_tenant, make_token


def host_with_entry_points() -> PluginHost:
    host = PluginHost()
    host.load_builtins()
    assert host.load_entry_points() == ["sample"]
    host.check()
    return host


def test_entry_point_plugin_is_discovered(installed_sample: Path) -> None:
    host = host_with_entry_points()
    assert host.manifest("sample").version == "1.2.0"
    assert "greeting:read" in {p.name for p in host.permissions()}


async def test_entry_point_plugin_serves_only_the_tenant_that_enabled_it(
    installed_sample: Path, settings: Settings, db: Database
) -> None:
    host = host_with_entry_points()
    from madoguchi_sample import hooks  # type: ignore[import-not-found]

    hooks.ONBOARDED.clear()

    await make_tenant(
        db,
        host,
        "greets",
        {"sample": {"settings": {"greeting": "ようこそ"}}},
        display_name="挨拶商事",
    )
    await make_tenant(db, host, "silent", {})
    assert hooks.ONBOARDED == ["greets"]  # not "silent"
    headers = await make_token(db, "op@example.jp", ("operator", "greets"), ("operator", "silent"))
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        ok = await client.get("/api/v1/t/greets/sample/greeting", headers=headers)
        assert ok.status_code == 200
        assert ok.json() == {"greeting": "ようこそ (挨拶商事)"}
        off = await client.get("/api/v1/t/silent/sample/greeting", headers=headers)
        assert off.status_code == 404


def test_entry_point_plugin_adds_a_cli_command(installed_sample: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(PYTHONPATH=str(installed_sample), MADOGUCHI_HOME=str(tmp_path))
    command = [sys.executable, "-m", "core.cli.main"]
    listed = subprocess.run(
        [*command, "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "sample-greet" in listed.stdout, listed.stderr
    greeted = subprocess.run(
        [*command, "sample-greet"], env=env, capture_output=True, text=True, timeout=120
    )
    assert greeted.stdout.strip() == "いらっしゃいませ"
