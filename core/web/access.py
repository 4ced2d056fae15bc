"""The one gate every route passes: identity, tenant, plugin enabling, permission.

Order matters for what a stranger can learn: an unauthenticated caller gets 401 before any
lookup; a caller with no role in a tenant gets the same 404 as for a tenant that does not
exist; a tenant that has not enabled a plugin gets 404 from its routes; only a member of
the tenant lacking a permission sees 403.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from core.authz.roles import PLATFORM_DOMAIN
from core.identity.service import authenticate_token, tenant_domain
from core.tenancy.models import TenantStatus
from core.tenancy.service import context_of, enabled_plugins, get_tenant
from core.web.errors import ApiError
from core.web.state import CoreState, RequestTenant, core_state

__all__ = ["enforce_access", "route_permission"]

log = structlog.get_logger("madoguchi.access")


def route_permission(handler: BaseRouteHandler) -> str | None:
    """The permission a handler declared; None for a public one. Raises if it declared neither."""
    opt = handler.opt
    if opt.get("public") is True:
        return None
    permission = opt.get("permission")
    if not isinstance(permission, str) or ":" not in permission:
        raise RuntimeError(f"route {handler} declares no permission (opt permission= or public=)")
    return permission


async def _load_tenant(core: CoreState, slug: str) -> RequestTenant | None:
    async with core.db.session() as session:
        tenant = await get_tenant(session, slug)
    if tenant is None or tenant.status != TenantStatus.ACTIVE:
        return None
    ctx = context_of(tenant)
    key = (ctx.id, tenant.config_version)
    enabled = core.enabled_cache.get(key)
    if enabled is None:
        enabled = await enabled_plugins(core.db, ctx)
        for stale in [k for k in core.enabled_cache if k[0] == ctx.id]:
            del core.enabled_cache[stale]
        core.enabled_cache[key] = enabled
    return RequestTenant(ctx, tenant.config_version, dict(tenant.role_templates or {}), enabled)


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def enforce_access(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    permission = route_permission(handler)
    if permission is None:
        return
    core = core_state(connection.app.state)
    token = _bearer(connection)
    if token is None:
        raise ApiError(401, "Authentication required (Authorization: Bearer <token>).")
    async with core.db.session() as session:
        principal = await authenticate_token(session, token)
    if principal is None:
        raise ApiError(401, "The token is unknown, expired or revoked.")
    connection.state.principal = principal
    structlog.contextvars.bind_contextvars(user=principal.user_id)

    slug = connection.path_params.get("tenant")
    if slug is None:
        domain, templates, version = PLATFORM_DOMAIN, {}, 0
    else:
        tenant = await _load_tenant(core, str(slug))
        not_found = ApiError(404, "No such tenant.")
        if tenant is None:
            raise not_found
        domain = tenant_domain(tenant.ctx.id)
        if not principal.roles_in(domain):
            _denied(principal.user_id, tenant.ctx.slug, permission, "no_role")
            raise not_found
        plugin = handler.opt.get("plugin")
        if plugin is not None and plugin not in tenant.enabled:
            raise ApiError(404, "This feature is not enabled for the tenant.")
        connection.state.tenant = tenant
        structlog.contextvars.bind_contextvars(tenant=tenant.ctx.slug)
        templates, version = tenant.role_templates, tenant.version
    if not core.authorizer.allows(
        principal.roles_in(domain), domain, permission, version=version, templates=templates
    ):
        _denied(principal.user_id, slug, permission, "missing_permission")
        raise ApiError(403, f"Permission {permission} is required.")


def _denied(user_id: int, tenant: object, permission: str, reason: str) -> None:
    log.warning("access_denied", user=user_id, tenant=tenant, permission=permission, reason=reason)
