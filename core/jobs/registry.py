"""Job kinds and their handlers, collected from ``register_jobs``; what a handler gets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.engine import Database
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.tenancy.context import TenantContext
from core.tenancy.service import enabled_plugins, plugin_settings

__all__ = ["JobContext", "JobHandler"]


@dataclass(frozen=True)
class JobContext:
    """What a job handler gets: its tenant, which attempt this is, and the ways to the
    tenant's data (a tenant-bound session, the personal-data accessor on it, a plugin's
    settings) and to the other plugins (``notify``)."""

    tenant: TenantContext
    job_id: int
    attempt: int
    _db: Database = field(repr=False)
    _keyring: KeyRing | None = field(default=None, repr=False)
    _host: PluginHost | None = field(default=None, repr=False)

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session bound to the job's tenant: ``async with job.session() as session``
        (commits when the block ends, rolls back when it raises)."""
        return self._db.session(self.tenant)

    def personal_data(self, session: AsyncSession) -> PersonalData:
        """The audited accessor on ``session`` (one of :meth:`session`'s)."""
        if self._keyring is None:
            raise RuntimeError("this worker was started without the key ring")
        return PersonalData(self._db, session, self._keyring, self.tenant)

    async def settings(self, session: AsyncSession, plugin_id: str) -> dict[str, Any]:
        """The plugin's settings for the job's tenant, validated, defaults filled in."""
        if self._host is None:
            raise RuntimeError("this worker was started without the plugin host")
        return await plugin_settings(session, self._host.manifest(plugin_id))

    async def notify(self, hook: str, **kwargs: Any) -> None:
        """Call the tenant's enabled plugins' ``on_*`` hook ``hook`` now (``ctx`` is passed
        for you): call it after the transaction that made the change has committed. One
        plugin that fails is logged and does not stop the others."""
        if self._host is None:
            return
        relay = self._host.relay(self.tenant, await enabled_plugins(self._db, self.tenant))
        await relay.notify(hook, ctx=self.tenant, **kwargs)


@dataclass(frozen=True)
class JobHandler:
    """A job kind (``plugin.action``) and the coroutine that runs it."""

    kind: str
    run: Callable[[JobContext, dict[str, Any]], Awaitable[None]]
    max_attempts: int = 5
