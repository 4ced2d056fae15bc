"""Dependencies handlers ask for by name: ``session``, ``ctx`` (the tenant), ``principal``, ``core``.

``session`` is bound to the request's tenant when the route has one, to the platform
otherwise; it commits after the handler returns and before the response is sent, so a
client is never told of a change that was not stored.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import structlog
from litestar import Request
from litestar.di import NamedDependency, Provide
from sqlmodel.ext.asyncio.session import AsyncSession

from core.identity.service import Principal
from core.plugins.models import TenantPlugin
from core.tenancy.context import TenantContext, TenantContextMissing
from core.web.state import CoreState, RequestTenant, core_state

__all__ = ["after_commit", "dependencies", "notify_committed", "settings_of"]

log = structlog.get_logger("madoguchi.web")


def _tenant_state(request: Request[Any, Any, Any]) -> RequestTenant | None:
    return getattr(request.state, "tenant", None)


def after_commit(
    request: Request[Any, Any, Any], action: Callable[[], Awaitable[None] | None]
) -> None:
    """Run ``action`` once the request's session has committed, awaiting what it returns when
    that is awaitable (hook notifications: ``lambda: relay.notify("on_...", ...)``; a plugin
    must never hear of a change that was rolled back, and a request that fails or rolls back
    runs none). Failures are logged, not raised. Runs before the response is sent."""
    pending = getattr(request.state, "after_commit_actions", None)
    if pending is None:
        pending = []
        request.state.after_commit_actions = pending
    pending.append(action)


async def notify_committed(action: Callable[[], Awaitable[None] | None]) -> None:
    """Run a notification of a change already committed (a hook call), awaiting what it
    returns when that is awaitable; a failure is logged, not raised: it must not fail the
    request that made the change."""
    try:
        result = action()
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        log.error("after_commit_failed", error=type(exc).__name__)


async def provide_session(request: Request[Any, Any, Any]) -> AsyncGenerator[AsyncSession, None]:
    tenant = _tenant_state(request)
    core = core_state(request.app.state)
    async with core.db.session(tenant.ctx if tenant else None) as session:
        yield session
    for action in getattr(request.state, "after_commit_actions", None) or []:
        await notify_committed(action)


def provide_tenant(request: Request[Any, Any, Any]) -> TenantContext:
    tenant = _tenant_state(request)
    if tenant is None:
        raise TenantContextMissing("this route has no tenant")
    return tenant.ctx


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise RuntimeError("principal asked for on a public route")
    return principal


def provide_core(request: Request[Any, Any, Any]) -> CoreState:
    return core_state(request.app.state)


async def provide_plugin_settings(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> dict[str, Any]:
    """The calling plugin's validated settings for the request's tenant."""
    plugin_id = request.route_handler.opt.get("plugin")
    if plugin_id is None:
        raise RuntimeError("plugin_settings asked for outside a plugin route")
    return await settings_of(request, plugin_id, session)


async def settings_of(
    request: Request[Any, Any, Any], plugin_id: str, session: AsyncSession
) -> dict[str, Any]:
    manifest = core_state(request.app.state).host.manifest(plugin_id)
    tenant = _tenant_state(request)
    if tenant is not None and plugin_id in tenant.plugin_settings:  # read by the gate
        return manifest.validate_settings(tenant.plugin_settings[plugin_id])
    from sqlmodel import select

    row = (
        await session.exec(select(TenantPlugin).where(TenantPlugin.plugin_id == plugin_id))
    ).first()
    return manifest.validate_settings(row.settings if row else {})


dependencies = {
    "session": Provide(provide_session),
    "ctx": Provide(provide_tenant, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "core": Provide(provide_core, sync_to_thread=False),
    "plugin_settings": Provide(provide_plugin_settings),
}
