"""Job kinds and their handlers, collected from ``register_jobs``; what a handler gets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.engine import Database
from core.jobs.queue import enqueue_in
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.tenancy.context import TenantContext
from core.tenancy.service import enabled_plugins, plugin_settings

__all__ = ["JobContext", "JobHandler", "TenantServices"]


@dataclass(frozen=True, kw_only=True)
class TenantServices:
    """What work for one tenant outside a request gets (an ``on_*`` hook's ``services``, a
    job's context, a plugin process's ``services(tenant)``): the tenant, a tenant-bound
    session, the personal-data accessor on it, a plugin's settings, jobs and the other
    plugins' hooks. The database, key ring and plugin host stay behind it."""

    tenant: TenantContext
    _db: Database = field(repr=False)
    _keyring: KeyRing | None = field(default=None, repr=False)
    _host: PluginHost | None = field(default=None, repr=False)

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session bound to the tenant: ``async with services.session() as session``
        (commits when the block ends, rolls back when it raises)."""
        return self._db.session(self.tenant)

    def personal_data(self, session: AsyncSession) -> PersonalData:
        """The audited accessor on ``session`` (one of :meth:`session`'s)."""
        if self._keyring is None:
            raise RuntimeError("this work was started without the key ring")
        return PersonalData(self._db, session, self._keyring, self.tenant)

    async def settings(self, session: AsyncSession, plugin_id: str) -> dict[str, Any]:
        """The plugin's settings for the tenant, validated, defaults filled in."""
        if self._host is None:
            raise RuntimeError("this work was started without the plugin host")
        return await plugin_settings(session, self._host.manifest(plugin_id))

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any] | None = None,
        *,
        delay: timedelta | None = None,
        max_attempts: int = 5,
        once: bool = False,
    ) -> None:
        """Queue a job for the tenant in a transaction of its own (from a hook, which runs
        after the change committed). Payloads hold ids, never personal values."""
        async with self.session() as session:
            await enqueue_in(
                session, kind, payload, delay=delay, max_attempts=max_attempts, once=once
            )

    async def notify(self, hook: str, **kwargs: Any) -> None:
        """Call the tenant's enabled plugins' ``on_*`` hook ``hook`` now (``ctx`` and
        ``services`` are passed for you): call it after the transaction that made the change
        has committed. One plugin that fails is logged and does not stop the others."""
        if self._host is None:
            return
        relay = self._host.relay(self.tenant, await enabled_plugins(self._db, self.tenant))
        await relay.notify(hook, ctx=self.tenant, services=self, **kwargs)


@dataclass(frozen=True, kw_only=True)
class JobContext(TenantServices):
    """What a job handler gets: the :class:`TenantServices` of its tenant, its id and which
    attempt this is (1 for the first)."""

    job_id: int
    attempt: int


@dataclass(frozen=True)
class JobHandler:
    """A job kind (``plugin.action``) and the coroutine that runs it."""

    kind: str
    run: Callable[[JobContext, dict[str, Any]], Awaitable[None]]
    max_attempts: int = 5
