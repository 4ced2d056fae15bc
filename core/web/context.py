"""What a plugin's route works with: :class:`PluginContext`, the ``plugin`` dependency.

A handler of a plugin's tenant route asks for ``plugin: NamedDependency[PluginContext]`` and
gets the request's tenant, a session bound to it (committed after the handler returns, before
the response is sent), the plugin's validated settings for the tenant, the personal-data
accessor on that session, and what a route does besides its own rows: audit an action, queue
a job in the same transaction, notify other plugins once the commit succeeded, ask whether
another user holds a permission in the tenant. The engine's objects (the database, the key
ring, the plugin host) stay behind it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import Actor, current_actor, record
from core.crypto.keyfiles import load_or_create_key
from core.jobs.queue import enqueue_in
from core.pii.access import PersonalData
from core.plugins.host import TenantRelay
from core.tenancy.context import TenantContext
from core.web.deps import after_commit, settings_of
from core.web.members import user_may
from core.web.state import RequestTenant, core_state

__all__ = ["PluginContext", "provide_plugin_context"]


@dataclass
class PluginContext:
    """One request of a plugin's tenant route, as the plugin sees it.

    ``tenant``: the tenant (its ``id`` and ``slug``); ``session``: bound to it, every query
    narrowed to its rows; ``settings``: the plugin's settings for the tenant, validated, with
    defaults filled in; ``plugin_id``: the plugin the route belongs to.
    """

    tenant: TenantContext
    session: AsyncSession
    settings: dict[str, Any]
    plugin_id: str
    _request: Request[Any, Any, Any] = field(repr=False)
    _personal_data: PersonalData | None = field(default=None, init=False, repr=False)

    @property
    def personal_data(self) -> PersonalData:
        """The audited accessor on this request's session: the only way to a customer's
        personal fields and to sealed free text."""
        if self._personal_data is None:
            core = core_state(self._request.app.state)
            self._personal_data = PersonalData(core.db, self.session, core.keyring, self.tenant)
        return self._personal_data

    @property
    def user_id(self) -> int:
        """The signed-in user's id (a public route has none: asking there raises)."""
        principal = getattr(self._request.state, "principal", None)
        if principal is None:
            raise RuntimeError("a public route has no signed-in user")
        user_id: int = principal.user_id
        return user_id

    @property
    def actor(self) -> Actor:
        """Who the request acts for (user, roles, token, client address), as audited."""
        return current_actor()

    @property
    def hooks(self) -> TenantRelay:
        """The tenant's enabled plugins' hooks: ``plugin.hooks.resolve_queue(...)`` calls a
        hook now and returns its results; prefer :meth:`notify` for ``on_*`` hooks."""
        tenant: RequestTenant = self._request.state.tenant
        return core_state(self._request.app.state).host.relay(tenant.ctx, tenant.enabled)

    async def audit(
        self,
        action: str,
        *,
        object_type: str = "",
        object_id: str | int = "",
        fields: Iterable[str] = (),
        purpose: str = "",
        outcome: str = "ok",
    ) -> None:
        """Append an event to the tenant's audit chain in this transaction (it exists exactly
        when the request's writes do). Name fields, never their values."""
        await record(
            self.session,
            action,
            object_type=object_type,
            object_id=object_id,
            fields=fields,
            purpose=purpose,
            outcome=outcome,
        )

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any] | None = None,
        *,
        delay: timedelta | None = None,
        max_attempts: int = 5,
        once: bool = False,
    ) -> None:
        """Queue a job for the tenant in this transaction (``kind``: one the plugin
        registered with ``register_jobs``). Payloads hold ids, never personal values.
        ``once``: not if one of this kind is already queued or running for the tenant."""
        await enqueue_in(
            self.session, kind, payload, delay=delay, max_attempts=max_attempts, once=once
        )

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call the tenant's enabled plugins' ``on_*`` hook ``hook`` once this request's
        transaction has committed (never for a request that fails or rolls back); ``ctx`` is
        passed for you. Each plugin is awaited in turn; one that fails is logged and does not
        stop the others or the request."""
        hooks = self.hooks
        services = core_state(self._request.app.state).services(self.tenant)
        after_commit(
            self._request,
            lambda: hooks.notify(hook, ctx=self.tenant, services=services, **kwargs),
        )

    def after_commit(self, action: Callable[[], Awaitable[None] | None]) -> None:
        """Run ``action`` once the request's transaction has committed (awaited when it
        returns an awaitable; a failure is logged, not raised)."""
        after_commit(self._request, action)

    def secret(self, name: str) -> bytes:
        """A 32-byte secret of the plugin's own (say the key that signs its form tokens):
        from the environment variable ``MADOGUCHI_<PLUGIN>_<NAME>_KEY`` (base64; give every
        node the same) if set, else from ``keys/plugin-<plugin>-<name>.key`` under the
        server's var folder, made on first use (mode 0600)."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"secret name {name!r}: letters, digits and _ only")
        folder = core_state(self._request.app.state).settings.var_dir / "keys"
        env = f"MADOGUCHI_{self.plugin_id}_{name}_KEY".upper().replace("-", "_")
        return load_or_create_key(folder / f"plugin-{self.plugin_id}-{name}.key", env=env)

    async def user_may(self, user_id: int, permission: str) -> bool:
        """Whether another user (say an inquiry's assignee) holds ``permission`` in this
        tenant, read afresh in this transaction."""
        return await user_may(self._request, self.session, user_id, permission)


async def provide_plugin_context(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> PluginContext:
    tenant: RequestTenant | None = getattr(request.state, "tenant", None)
    plugin_id = request.route_handler.opt.get("plugin")
    if tenant is None or plugin_id is None:
        raise RuntimeError("the plugin context is for a plugin's tenant routes")
    settings = await settings_of(request, plugin_id, session)
    return PluginContext(tenant.ctx, session, settings, plugin_id, request)
