"""Fixtures that build the smallest real world a test needs.

Database tests run on SQLite and, when ``MADOGUCHI_TEST_PG_URL`` names a PostgreSQL superuser
(``scripts/test.sh`` starts one), again on PostgreSQL, where the app connects as a role that
does not own the tables. Each test gets a fresh, migrated database copied from a template.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.app import build_host, create_app
from core.db import migrate
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.settings import Settings, load_settings
from core.tenancy.context import TenantContext
from core.tenancy.manifest import parse_manifest
from core.tenancy.service import apply_specs

PG_URL = os.environ.get("MADOGUCHI_TEST_PG_URL")
OWNER, APP = "mdg_owner", "mdg_app"
ENGINES = ["sqlite", "postgres"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL is None and os.environ.get("CI"):
        raise pytest.UsageError("CI must run the PostgreSQL half: MADOGUCHI_TEST_PG_URL is unset")


def _pg_admin() -> sa.Engine:
    assert PG_URL
    url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url(role: str, database: str, driver: str = "postgresql+asyncpg") -> str:
    assert PG_URL
    base = make_url(PG_URL)
    return base.set(
        drivername=driver, username=role, password=None, database=database
    ).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("sqlite-template")
    settings = load_settings(home=home)
    migrate.upgrade(settings)
    return home / "var" / "madoguchi.db"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if PG_URL is None:
        pytest.skip("PostgreSQL not available here (scripts/test.sh starts one; CI always has it)")
    admin = _pg_admin()
    name = f"mdg_template_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        for role in (OWNER, APP):
            exists = c.execute(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname=:r"), {"r": role}
            ).first()
            if not exists:
                c.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
        c.execute(sa.text(f'CREATE DATABASE "{name}" OWNER "{OWNER}"'))
    settings = load_settings(
        home=Path("/nonexistent"),
        database_url=_pg_url(APP, name),
        migration_database_url=_pg_url(OWNER, name),
    )
    migrate.upgrade(settings)
    yield name
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def new_pg_database(template: str | None) -> str:
    name = f"mdg_test_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as c:
        tmpl = f' TEMPLATE "{template}"' if template else ""
        c.execute(sa.text(f'CREATE DATABASE "{name}" OWNER "{OWNER}"{tmpl}'))
    admin.dispose()
    return name


def drop_pg_database(name: str) -> None:
    admin = _pg_admin()
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pg_settings(home: Path, database: str) -> Settings:
    return load_settings(
        home=home,
        database_url=_pg_url(APP, database),
        migration_database_url=_pg_url(OWNER, database),
    )


@pytest.fixture(params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    engine_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """Settings for a fresh, migrated database on the engine under test."""
    if engine_kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        (tmp_path / "var").mkdir()
        shutil.copy(template, tmp_path / "var" / "madoguchi.db")
        yield load_settings(home=tmp_path)
        return
    template = request.getfixturevalue("pg_template")
    name = new_pg_database(template)
    try:
        yield pg_settings(tmp_path, name)
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="session")
def host() -> PluginHost:
    return build_host(load_settings())


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


async def make_tenant(
    db: Database,
    host: PluginHost,
    slug: str,
    plugins: dict[str, Any] | None = None,
    **fields: Any,
) -> TenantContext:
    """Create a tenant through the same path as a manifest."""
    data = {
        "slug": slug,
        "display_name": fields.pop("display_name", f"{slug} 株式会社"),
        "plugins": plugins or {},
        **fields,
    }
    [change] = await apply_specs(db, host, [parse_manifest(data, host)])
    assert change.context is not None
    return change.context


@pytest.fixture
async def two_tenants(db: Database, host: PluginHost) -> tuple[TenantContext, TenantContext]:
    a = await make_tenant(db, host, "tenant-a", {"intake": {"enabled": True}})
    b = await make_tenant(db, host, "tenant-b", {"hotline": {"enabled": True}})
    return a, b


@pytest.fixture
async def app(settings: Settings, host: PluginHost) -> AsyncIterator[Any]:
    from litestar.testing import AsyncTestClient

    application = create_app(settings, host=host)
    async with AsyncTestClient(app=application) as client:
        yield client


async def make_token(
    db: Database, email: str, *grants: tuple[str, str | None], token_tenant: str | None = None
) -> dict[str, str]:
    """A user holding ``grants`` [(role, tenant slug or None)], and auth headers for a token."""
    from core.identity.service import create_token, create_user, grant_role

    async with db.session() as session:
        await create_user(session, email)
        for role, slug in grants:
            await grant_role(session, email, role, slug)
        token = await create_token(session, email, tenant_slug=token_tenant)
    return {"Authorization": f"Bearer {token}"}
