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
from dataclasses import dataclass
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
    # the browser journeys run last (they hold a Playwright event loop while they run)
    items.sort(key=lambda item: "tests/browser/" in str(item.path).replace("\\", "/"))


# -- the plaintext scan: every log line of the run goes to one file, scanned at the end --------

SESSION_LOG: dict[str, Any] = {}


@pytest.fixture(scope="session", autouse=True)
def session_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from core.logging import configure_logging

    path = tmp_path_factory.getbasetemp() / "session.log"
    handle = path.open("a", encoding="utf-8")
    SESSION_LOG["handle"] = handle
    configure_logging("json", stream=handle)
    yield path
    handle.close()


@pytest.fixture(scope="session", autouse=True)
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user's configuration folder, where the audit signing key is made by default, moved
    into the run's temporary folder: no test writes outside it (servers that tests start
    inherit the variable; they drop only ``MADOGUCHI_*`` ones)."""
    folder = tmp_path_factory.getbasetemp() / "config-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(folder))
        patch.delenv("MADOGUCHI_AUDIT_SIGNING_KEY_FILE", raising=False)
        patch.delenv("MADOGUCHI_AUDIT_SIGNING_KEY", raising=False)
        yield folder


def restore_session_logging() -> None:
    from core.logging import configure_logging

    configure_logging("json", stream=SESSION_LOG["handle"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a seeded personal value sits in plaintext in a SQLite file, its WAL,
    or the captured logs."""
    from tests.canaries import canary_strings

    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or session.config.option.collectonly:
        return
    base = factory.getbasetemp()
    files = [
        p
        for p in base.rglob("*")
        if p.is_file() and (p.name.endswith((".db", ".db-wal", ".db-shm", ".log")))
    ]
    needles = [v.encode() for v in canary_strings()]
    leaks = [
        (str(p.relative_to(base)), n.decode())
        for p in files
        for n in needles
        if n in p.read_bytes()
    ]
    session.config.stash[PLAINTEXT_LEAKS] = (len(files), leaks)
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


PLAINTEXT_LEAKS = pytest.StashKey[tuple[int, list[tuple[str, str]]]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    scanned = config.stash.get(PLAINTEXT_LEAKS, None)
    if scanned is None:
        return
    count, leaks = scanned
    if leaks:
        terminalreporter.section("plaintext scan FAILED")
        for where, _value in leaks[:50]:  # the value itself is not printed either
            terminalreporter.write_line(f"seeded personal value in plaintext in {where}")
    else:
        terminalreporter.write_line(
            f"plaintext scan: {count} database and log files, no seeded personal value"
        )


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


TEST_SETTINGS: dict[int, Settings] = {}  # id of a ``db`` fixture's Database -> its settings


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    TEST_SETTINGS[id(database)] = settings
    yield database
    TEST_SETTINGS.pop(id(database), None)
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
    services = services_of(db, host)
    [change] = await apply_specs(db, host, [parse_manifest(data, host)], services=services)
    assert change.context is not None
    return change.context


def services_of(db: Database, host: PluginHost) -> Any:
    """What hooks get as ``services`` in a test (the key ring of the test's settings when the
    database is the ``db`` fixture's)."""
    from core.jobs.registry import TenantServices
    from core.pii.keyring import KeyRing

    settings = TEST_SETTINGS.get(id(db))
    keyring = KeyRing(settings) if settings is not None else None
    return lambda ctx: TenantServices(tenant=ctx, _db=db, _keyring=keyring, _host=host)


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


# the platform staff through whom test helpers grant roles the way the product does
GRANTS_ADMIN, GRANTS_OFFICER = "grants-admin@bpo.example.jp", "grants-officer@bpo.example.jp"


async def _staff(db: Database, email: str, role: str) -> int:
    """A platform account holding ``role``, made and granted by the server's console."""
    from sqlmodel import select

    from core.approvals.service import Requester, request_grant
    from core.identity.models import User
    from core.identity.service import create_user

    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == email))).first()
        if user is None:
            user = await create_user(session, email)
            await request_grant(session, Requester(None, "cli"), email, role)
        assert user.id is not None
        return user.id


async def grant(db: Database, email: str, role: str, slug: str | None = None) -> None:
    """Give ``email`` the ``role`` through the product's own path: a platform role by the
    server's console; a tenant role asked for by a platform admin and, where it needs a second
    person, approved by a security officer (two accounts of their own)."""
    from core.approvals.models import Status
    from core.approvals.service import Requester, decide, request_grant
    from core.audit.log import Actor, acting_as

    if slug is None:
        async with db.session() as session:
            await request_grant(session, Requester(None, "cli"), email, role)
        return
    admin = await _staff(db, GRANTS_ADMIN, "platform_admin")
    officer = await _staff(db, GRANTS_OFFICER, "security_officer")
    with acting_as(Actor(user_id=admin, via="test")):
        async with db.session() as session:
            row = await request_grant(session, Requester(admin, "test"), email, role, slug)
    if row.status == Status.PENDING:
        assert row.id is not None
        with acting_as(Actor(user_id=officer, via="test")):
            async with db.session() as session:
                await decide(session, row.id, officer, accept=True)


async def make_token(
    db: Database, email: str, *grants: tuple[str, str | None], token_tenant: str | None = None
) -> dict[str, str]:
    """A user holding ``grants`` [(role, tenant slug or None)], and auth headers for a token
    (made as the server's console makes one for bootstrapping)."""
    from core.identity.service import create_token, create_user

    async with db.session() as session:
        await create_user(session, email)
    for role, slug in grants:
        await grant(db, email, role, slug)
    async with db.session() as session:
        token = await create_token(session, email, tenant_slug=token_tenant)
    return {"Authorization": f"Bearer {token}"}


ROLES = ("supervisor", "operator", "client_admin", "client_viewer")


@dataclass
class World:
    """Two tenants with a customer each (canary values), and a user for every role."""

    a: TenantContext
    b: TenantContext
    customer_a: str  # uid
    customer_b: str
    headers: dict[str, dict[str, str]]  # "a:operator", "b:client_admin", "platform_admin", ...


async def seed_customer(
    db: Database, settings: Settings, ctx: TenantContext, values: dict[str, str]
) -> str:
    """A customer created through the audited accessor, as the API would."""
    from core.audit.log import Actor, acting_as
    from core.pii.access import PersonalData
    from core.pii.keyring import KeyRing

    with acting_as(Actor(via="test")):
        async with db.session(ctx) as session:
            customer = await PersonalData(db, session, KeyRing(settings), ctx).create_customer(
                values
            )
            return customer.uid


@pytest.fixture
async def world(db: Database, host: PluginHost, settings: Settings) -> World:
    from tests.canaries import CUSTOMER_A, CUSTOMER_B

    a = await make_tenant(db, host, "alpha-shoji", {"intake": {}}, display_name="アルファ商事")
    b = await make_tenant(db, host, "beta-hoken", {"hotline": {}}, display_name="ベータ保険")
    headers: dict[str, dict[str, str]] = {}
    for slug, key in ((a.slug, "a"), (b.slug, "b")):
        for role in ROLES:
            headers[f"{key}:{role}"] = await make_token(
                db, f"{role}@{slug}.example.jp", (role, slug)
            )
    headers["platform_admin"] = await make_token(
        db, "root@bpo.example.jp", ("platform_admin", None)
    )
    headers["security_officer"] = await make_token(
        db, "sec@bpo.example.jp", ("security_officer", None)
    )
    return World(
        a,
        b,
        await seed_customer(db, settings, a, CUSTOMER_A),
        await seed_customer(db, settings, b, CUSTOMER_B),
        headers,
    )
