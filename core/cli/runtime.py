"""What every CLI command needs: settings, a migrated database, the plugin host."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import click
import structlog

from core.db import migrate
from core.db.engine import Database
from core.jobs.registry import TenantServices
from core.logging import configure_logging
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.settings import Settings, load_settings
from core.tenancy.context import TenantContext

__all__ = ["Runtime", "run", "services_for"]

T = TypeVar("T")


class Runtime:
    def __init__(self) -> None:
        self.settings: Settings = load_settings()
        self._host: PluginHost | None = None
        if not structlog.is_configured():  # an embedding process (the tests) configured it
            configure_logging(self.settings.log_format)

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            from core.app import build_host

            self._host = build_host(self.settings)
        return self._host

    def ensure_schema(self) -> None:
        """SQLite is created and migrated on first use (the plugins' own migrations too);
        PostgreSQL must be at head already."""
        plugins = self.host.migration_dirs()
        if self.settings.is_sqlite:
            migrate.upgrade(self.settings, plugins=plugins)
            return
        current = migrate.current_revision(self.settings)
        if current != migrate.head_revision():
            raise click.ClickException(
                f"database is at {current or 'base'}, code expects {migrate.head_revision()}: "
                "run `madoguchi db upgrade`"
            )
        for plugin_id, (at, heads) in migrate.plugin_revisions(self.settings, plugins).items():
            if at != heads:
                raise click.ClickException(
                    f"plugin {plugin_id}'s tables are at {', '.join(at) or 'base'}, its code "
                    f"expects {', '.join(heads)}: run `madoguchi db upgrade`"
                )

    @asynccontextmanager
    async def database(self) -> AsyncIterator[Database]:
        db = Database(self.settings.database_url)
        try:
            yield db
        finally:
            await db.dispose()


def services_for(runtime: Runtime, db: Database) -> Callable[[TenantContext], TenantServices]:
    """What hooks get as ``services`` for a tenant, from a command line's database."""
    keyring = KeyRing(runtime.settings)
    return lambda ctx: TenantServices(tenant=ctx, _db=db, _keyring=keyring, _host=runtime.host)


def run(runtime: Runtime, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work(db)`` on a migrated database and return its result."""
    runtime.ensure_schema()

    async def main() -> T:
        async with runtime.database() as db:
            return await work(db)

    return asyncio.run(main())
