"""What a plugin's own process works with: :class:`PluginProcess`.

Some plugin work runs outside a request and outside a job: a mail listener serving every
tenant that enabled the plugin, a bridge to a contact-centre system, an import from the command
line. Such a process gets the tenants that enabled the plugin with their settings, a session
bound to one tenant, the personal-data accessor on it and the other plugins' hooks; the
database, the key ring and the plugin host stay behind it. A plugin's click command starts one
with :func:`run_plugin_process`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import click
from sqlmodel.ext.asyncio.session import AsyncSession

from core.cli.runtime import Runtime
from core.db.engine import Database
from core.jobs.registry import TenantServices
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.settings import Settings
from core.tenancy.context import TenantContext
from core.tenancy.models import TenantStatus
from core.tenancy.service import (
    context_of,
    enabled_plugins,
    get_tenant,
    plugin_settings,
    plugin_settings_by_tenant,
)

__all__ = ["PluginProcess", "run_plugin_process"]

T = TypeVar("T")


class PluginProcess:
    """One plugin's view of the platform from a process of its own. Open it inside the event
    loop that uses it (it opens the database) and :meth:`close` it at the end."""

    def __init__(self, plugin_id: str, settings: Settings, host: PluginHost) -> None:
        self.plugin_id = plugin_id
        self._manifest = host.manifest(plugin_id)  # raises for a plugin not installed
        self._db = Database(settings.database_url)
        self._keyring = KeyRing(settings)
        self._host = host

    async def tenants(self) -> list[tuple[TenantContext, dict[str, Any]]]:
        """Every active tenant that enabled the plugin, with its validated settings."""
        return await plugin_settings_by_tenant(self._db, self._host, self.plugin_id)

    async def tenant(self, slug: str) -> TenantContext | None:
        """The active tenant ``slug`` if it enabled the plugin, else None."""
        async with self._db.session() as session:
            row = await get_tenant(session, slug)
        if row is None or row.status != TenantStatus.ACTIVE:
            return None
        ctx = context_of(row)
        return ctx if self.plugin_id in await enabled_plugins(self._db, ctx) else None

    def session(self, tenant: TenantContext) -> AbstractAsyncContextManager[AsyncSession]:
        """A session bound to ``tenant``: commits when the block ends, rolls back when it
        raises."""
        return self._db.session(tenant)

    def personal_data(self, session: AsyncSession, tenant: TenantContext) -> PersonalData:
        """The audited accessor on ``session`` (one of :meth:`session`'s for ``tenant``)."""
        return PersonalData(self._db, session, self._keyring, tenant)

    async def settings(self, session: AsyncSession) -> dict[str, Any]:
        """The plugin's validated settings for the session's tenant."""
        return await plugin_settings(session, self._manifest)

    async def notify(self, tenant: TenantContext, hook: str, **kwargs: Any) -> None:
        """Call the tenant's enabled plugins' ``on_*`` hook ``hook`` now (``ctx`` and
        ``services`` are passed for you): after the transaction that made the change has committed. One plugin that
        fails is logged and does not stop the others."""
        await self.services(tenant).notify(hook, **kwargs)

    def services(self, tenant: TenantContext) -> TenantServices:
        """The tenant's :class:`TenantServices` (what hooks get as ``services``)."""
        return TenantServices(tenant=tenant, _db=self._db, _keyring=self._keyring, _host=self._host)

    def hooks(self, tenant: TenantContext, enabled: frozenset[str]) -> Any:
        """The tenant's enabled plugins' hooks, to call one that answers (``resolve_queue``)."""
        return self._host.relay(tenant, enabled)

    async def enabled(self, tenant: TenantContext) -> frozenset[str]:
        """The plugins the tenant enabled."""
        return await enabled_plugins(self._db, tenant)

    async def close(self) -> None:
        await self._db.dispose()


def run_plugin_process(
    click_context: click.Context, plugin_id: str, main: Callable[[PluginProcess], Awaitable[T]]
) -> T:
    """From a plugin's click command: make sure the database is migrated, open a
    :class:`PluginProcess` for ``plugin_id``, run ``main(process)`` to its end and close it."""
    runtime: Runtime = click_context.ensure_object(Runtime)
    runtime.ensure_schema()

    async def run() -> T:
        process = PluginProcess(plugin_id, runtime.settings, runtime.host)
        try:
            return await main(process)
        finally:
            await process.close()

    return asyncio.run(run())
