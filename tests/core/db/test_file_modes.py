"""The database, its log and shared-memory files, and every key file are the owner's alone."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from core.app import create_app
from core.audit.log import Actor, acting_as
from core.crypto.keyfiles import load_or_create_key
from core.db import migrate
from core.db.engine import Database
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.settings import load_settings
from tests.canaries import CUSTOMER_A
from tests.conftest import make_tenant


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The usual umask (files 0644 unless asked otherwise), whatever the runner's is."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


async def test_a_fresh_start_creates_every_database_and_key_file_mode_0600(
    tmp_path: Path, host: PluginHost, lax_umask: None
) -> None:
    settings = load_settings(home=tmp_path)
    await asyncio.to_thread(migrate.upgrade, settings)  # the first run: creates the database
    app = create_app(settings, host=host)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/healthz")).status_code == 200
        # the app runs on the client's own loop: this loop gets a database of its own
        db, keyring = Database(settings.database_url), KeyRing(settings)
        try:
            ctx = await make_tenant(db, host, "mode-shoji", {"intake": {}})
            with acting_as(Actor(via="test")):  # the tenant's data key, sealed customer fields
                async with db.session(ctx) as session:
                    await PersonalData(db, session, keyring, ctx).create_customer(CUSTOMER_A)
        finally:
            await db.dispose()
        load_or_create_key(settings.var_dir / "keys" / "form.key")
        found = modes(settings.var_dir)  # while the app runs: the log files exist
    for name in ("madoguchi.db", "madoguchi.db-wal", "madoguchi.db-shm"):
        assert name in found, found
    assert any(name.startswith("keys/master-") for name in found), found
    assert "keys/form.key" in found
    assert {name: mode for name, mode in found.items() if mode != "0o600"} == {}


async def test_wider_files_of_an_older_installation_are_narrowed(
    tmp_path: Path, host: PluginHost, lax_umask: None
) -> None:
    settings = load_settings(home=tmp_path)
    await asyncio.to_thread(migrate.upgrade, settings)
    key = settings.var_dir / "keys" / "form.key"
    load_or_create_key(key)
    for path in (settings.var_dir / "madoguchi.db", key):
        os.chmod(path, 0o644)
    app = create_app(settings, host=host)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/healthz")).status_code == 200
        load_or_create_key(key)
    assert {name: mode for name, mode in modes(settings.var_dir).items() if mode != "0o600"} == {}
