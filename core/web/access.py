"""The one gate every route passes: identity, tenant, plugin enabling, permission.

Routes declare one of ``opt={"public": True}``, ``opt={"authenticated": True}`` (any signed-in
caller) or ``opt={"permission": "object:action"}``; ``create_app`` refuses to start otherwise.

A write route that commits many requests together (:mod:`core.db.group_commit`) may add
``"recheck_on_write": True``: the gate then takes a bearer token's principal and the tenant
from a cache (30 s), and the route must call :func:`recheck_access` in the group's session
before it writes (a group commit's prepare step), which reads them afresh for the whole group;
a revoked token or grant, a closed tenant or a disabled plugin is refused there, before
anything is written, and audited with the group. A
refusal from the cache is not final: the gate decides again afresh (a grant made a moment ago
counts), and only that decision is audited.

Order matters for what a stranger can learn: an unauthenticated caller gets 401 before any
lookup; a caller with no role in a tenant gets the same 404 as for a tenant that does not
exist; a tenant that has not enabled a plugin gets 404 from its routes; only a member of the
tenant lacking a permission sees 403. Denials are audited in their own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlmodel import col

from core.audit.log import Actor, AuditEntry, current_actor, record, record_many, set_actor
from core.authz.roles import PLATFORM_DOMAIN
from core.db.statements import TENANT, Read, TenantStatement, run_reads
from core.identity.models import User
from core.identity.service import (
    Principal,
    authenticate_token,
    hash_token,
    principal_for,
    principals_from_rows,
    principals_read,
    tenant_domain,
)
from core.identity.sessions import COOKIE, csrf_matches, session_user
from core.plugins.models import TenantPlugin
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant, TenantStatus
from core.tenancy.service import context_of, enabled_plugin_settings, get_tenant
from core.web.errors import ApiError
from core.web.state import CoreState, RequestTenant, core_state

__all__ = [
    "AUTHENTICATED",
    "AccessClaim",
    "Rechecked",
    "enforce_access",
    "recheck_access",
    "route_permission",
]

log = structlog.get_logger("madoguchi.access")


@dataclass(frozen=True)
class AccessClaim:
    """What the gate let through on a ``recheck_on_write`` route, to be checked again."""

    permission: str
    plugin: str | None
    token_hash: str | None  # None: a session cookie, read fresh at the gate
    principal: Principal
    actor: Actor


AUTHENTICATED = "*authenticated*"
_SAFE = {"GET", "HEAD", "OPTIONS"}


def route_permission(handler: BaseRouteHandler) -> str | None:
    """The permission a handler declared (``AUTHENTICATED`` for any signed-in caller); None
    for a public one. Raises if it declared nothing."""
    opt = handler.opt
    if opt.get("public") is True:
        return None
    if opt.get("authenticated") is True:
        return AUTHENTICATED
    permission = opt.get("permission")
    if not isinstance(permission, str) or ":" not in permission:
        raise RuntimeError(f"route {handler} declares no permission (opt permission= or public=)")
    return permission


async def _load_tenant(core: CoreState, slug: str, cached: bool = False) -> RequestTenant | None:
    if cached and (recent := core.recent_tenants.get(slug)) is not None:
        return recent
    async with core.db.session() as session:
        tenant = await get_tenant(session, slug)
    if tenant is None or tenant.status != TenantStatus.ACTIVE:
        return None
    ctx = context_of(tenant)
    key = (ctx.id, tenant.config_version)
    plugins = core.enabled_cache.get(key)
    if plugins is None:
        plugins = await enabled_plugin_settings(core.db, ctx)
        for stale in [k for k in core.enabled_cache if k[0] == ctx.id]:
            del core.enabled_cache[stale]
        core.enabled_cache[key] = plugins
    loaded = RequestTenant(
        ctx,
        tenant.config_version,
        dict(tenant.role_templates or {}),
        frozenset(plugins),
        plugins,
    )
    core.recent_tenants[slug] = loaded
    return loaded


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _identify(
    core: CoreState, connection: ASGIConnection[Any, Any, Any, Any], cached: bool = False
) -> tuple[Principal, str | None]:
    """The caller, and the hash of their bearer token (None for a session cookie)."""
    token = _bearer(connection)
    if token is not None:
        digest = hash_token(token)
        if cached and (recent := core.recent_principals.get(digest)) is not None:
            return recent, digest
        async with core.db.session() as session:
            principal = await authenticate_token(session, token)
        if principal is None:
            raise ApiError(401, "The token is unknown, expired or revoked.")
        core.recent_principals[digest] = principal
        return principal, digest
    cookie = connection.cookies.get(COOKIE)
    if not cookie:
        raise ApiError(401, "Authentication required (sign in, or Authorization: Bearer <token>).")
    live = await session_user(core.db, cookie)
    if live is None:
        raise ApiError(401, "Your session has ended; please sign in again.", code="session_expired")
    user_id, csrf = live
    connection.state.csrf = csrf
    if connection.scope.get("method", "GET") not in _SAFE and not csrf_matches(
        csrf, await _submitted_csrf(connection)
    ):
        raise ApiError(403, "The CSRF token is missing or wrong.", code="csrf")
    async with core.db.session() as session:
        user = await session.get(User, user_id)
        if user is None or not user.is_active:
            raise ApiError(401, "This account is disabled.")
        return await principal_for(session, user), None


async def _submitted_csrf(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token from the X-CSRF-Token header (API clients) or the form's ``_csrf`` field
    (pages). Reading the form here leaves it cached for the handler."""
    header = connection.headers.get("x-csrf-token")
    if header:
        return header
    content_type = connection.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await Request(connection.scope, connection.receive).form()
        value = form.get("_csrf")
        return value if isinstance(value, str) else None
    return None


def _roles_in_tenant(principal: Principal, domain: str) -> frozenset[str]:
    roles = principal.roles_in(domain)
    if principal.token_tenant_id is None and "security_officer" in principal.roles_in(
        PLATFORM_DOMAIN
    ):
        roles = roles | {"security_officer"}  # oversight only: see SECURITY_OFFICER_IN_TENANT
    return roles


async def enforce_access(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    permission = route_permission(handler)
    core = core_state(connection.app.state)
    if permission is None:
        _throttle(core, connection, handler)
        await _public_tenant(core, connection, handler)
        return
    recheck = handler.opt.get("recheck_on_write") is True
    if recheck:
        try:
            await _decide(core, connection, handler, permission, recheck=True, cached=True)
            return
        except ApiError:
            pass  # the cache may be behind a grant or a plugin enabled a moment ago
    await _decide(core, connection, handler, permission, recheck=recheck, cached=False)


async def _decide(
    core: CoreState,
    connection: ASGIConnection[Any, Any, Any, Any],
    handler: BaseRouteHandler,
    permission: str,
    *,
    recheck: bool,
    cached: bool,
) -> None:
    """Identify, find the tenant, decide. From the caches (``cached``) a refusal is only
    provisional: it is neither audited nor final, the caller decides again afresh."""
    principal, token_hash = await _identify(core, connection, cached=cached)
    connection.state.principal = principal
    structlog.contextvars.bind_contextvars(user=principal.user_id)
    client = connection.client.host if connection.client else ""
    request_id = str(connection.scope.get("state", {}).get("request_id", ""))

    slug = connection.path_params.get("tenant")
    tenant: RequestTenant | None = None
    if slug is None:
        domain, templates, version = PLATFORM_DOMAIN, {}, 0
        roles = principal.roles_in(PLATFORM_DOMAIN)
    else:
        tenant = await _load_tenant(core, str(slug), cached=cached)
        if tenant is None:
            raise ApiError(404, "No such tenant.")
        domain = tenant_domain(tenant.ctx.id)
        roles = _roles_in_tenant(principal, domain)
    _set_actor(connection, principal, roles, request_id, client)
    if tenant is not None:
        if not roles:
            if not cached:
                await _denied(core, tenant, permission, "no_role")
            raise ApiError(404, "No such tenant.")
        plugin = handler.opt.get("plugin")
        if plugin is not None and plugin not in tenant.enabled:
            raise ApiError(404, "This feature is not enabled for the tenant.")
        connection.state.tenant = tenant
        structlog.contextvars.bind_contextvars(tenant=tenant.ctx.slug)
        templates, version = tenant.role_templates, tenant.version
    if permission == AUTHENTICATED:
        return
    if not core.authorizer.allows(roles, domain, permission, version=version, templates=templates):
        if not cached:
            await _denied(core, tenant, permission, "missing_permission")
        raise ApiError(403, f"Permission {permission} is required.")
    if recheck:
        connection.state.access_claim = AccessClaim(
            permission, handler.opt.get("plugin"), token_hash, principal, current_actor()
        )


def _throttle(
    core: CoreState, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """A public route's per-client limit (``per_client_per_minute``), before any lookup."""
    limit = handler.opt.get("per_client_per_minute")
    if not isinstance(limit, int):
        return
    client = connection.client.host if connection.client else ""
    route = f"{connection.scope.get('method', '')} {min(handler.paths)}"
    wait = core.throttle.allow(route, client, limit)
    if wait is not None:
        log.warning("public_throttled", route=route)  # no address: it may identify a person
        raise ApiError(
            429, "Too many requests; please wait a minute.", headers={"Retry-After": str(wait)}
        )


async def _public_tenant(
    core: CoreState, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """A public page of a tenant (a customer's contact form): the tenant must exist and be
    active, and a plugin's page answers 404 unless the tenant enabled the plugin."""
    slug = connection.path_params.get("tenant")
    if slug is None:
        return
    tenant = await _load_tenant(core, str(slug))
    plugin = handler.opt.get("plugin")
    if tenant is None or (plugin is not None and plugin not in tenant.enabled):
        raise ApiError(404, "No such page.")
    connection.state.tenant = tenant
    structlog.contextvars.bind_contextvars(tenant=tenant.ctx.slug)


def _set_actor(
    connection: ASGIConnection[Any, Any, Any, Any],
    principal: Principal,
    roles: frozenset[str],
    request_id: str,
    client: str,
) -> None:
    set_actor(
        Actor(
            user_id=principal.user_id,
            roles=tuple(sorted(roles)),
            request_id=request_id,
            client_addr=client,
            via="api",
        )
    )


async def _denied(
    core: CoreState, tenant: RequestTenant | None, permission: str, reason: str
) -> None:
    actor = current_actor()
    log.warning("access_denied", user=actor.user_id, permission=permission, reason=reason)
    async with core.db.session(tenant.ctx if tenant else None) as session:
        await record(
            session,
            "access.denied",
            object_type="permission",
            object_id=permission,
            outcome=f"denied:{reason}",
        )


# built once: a group's recheck runs it in the tenant's session (statement building is the
# larger part of a small statement's cost)
_TENANT_WITH_PLUGINS = TenantStatement(
    sa.select(
        col(Tenant.status),
        col(Tenant.config_version),
        col(Tenant.role_templates),
        col(TenantPlugin.plugin_id),
        col(TenantPlugin.enabled),
        col(TenantPlugin.settings),
    )
    .outerjoin(
        TenantPlugin,
        sa.and_(
            col(TenantPlugin.tenant_id) == col(Tenant.id), col(TenantPlugin.tenant_id) == TENANT
        ),
    )
    .where(col(Tenant.id) == TENANT)
)


@dataclass(frozen=True)
class Rechecked:
    """Per claim None or the error the gate would now answer; the tenant's plugins as read
    in this transaction: id -> (enabled, settings); and its ``config_version`` (None when
    the tenant was not found or is not active)."""

    answers: list[ApiError | None]
    plugins: dict[str, tuple[bool, dict[str, Any]]]
    config_version: int | None = None
    also: list[list[Any]] = field(default_factory=list)  # the rows of the caller's reads


async def recheck_access(
    session: Any,
    core: CoreState,
    ctx: TenantContext,
    claims: list[AccessClaim],
    audit_into: list[AuditEntry] | None = None,
    also: Sequence[Read] = (),
) -> Rechecked:
    """Check a group's access again in its session (tenant-bound), before it writes:
    the tenant with its plugins, the tokens with their users and grants are read afresh,
    once for the whole group, in one round trip (:func:`core.db.statements.run_reads`)
    with the caller's own reads of the group (``also``; their rows in ``Rechecked.also``).
    Denials are audited in this transaction (or appended to ``audit_into`` for the caller
    to record before it commits)."""
    tokens = principals_read([c.token_hash for c in claims if c.token_hash])
    reads = [Read(_TENANT_WITH_PLUGINS), *([tokens] if tokens else []), *also]
    answered = await run_reads(session, reads)
    rows, extra = answered[0], answered[len(reads) - len(also) :]
    if not rows or rows[0][0] != TenantStatus.ACTIVE:
        return Rechecked([ApiError(404, "No such tenant.") for _ in claims], {}, None, extra)
    _, config_version, role_templates = rows[0][:3]
    plugins = {r[3]: (bool(r[4]), dict(r[5] or {})) for r in rows if r[3] is not None}
    enabled = {plugin for plugin, (on, _) in plugins.items() if on}
    fresh = principals_from_rows(answered[1]) if tokens else {}
    domain = tenant_domain(ctx.id)
    answers: list[ApiError | None] = []
    denials: list[AuditEntry] = []
    for claim in claims:
        if claim.plugin is not None and claim.plugin not in enabled:
            answers.append(ApiError(404, "This feature is not enabled for the tenant."))
            continue
        principal = fresh.get(claim.token_hash) if claim.token_hash else claim.principal
        if principal is None:
            answers.append(ApiError(401, "The token is unknown, expired or revoked."))
            continue
        roles = _roles_in_tenant(principal, domain)
        reason = ""
        if not roles:
            reason, error = "no_role", ApiError(404, "No such tenant.")
        elif not core.authorizer.allows(
            roles,
            domain,
            claim.permission,
            version=config_version,
            templates=dict(role_templates or {}),
        ):
            reason = "missing_permission"
            error = ApiError(403, f"Permission {claim.permission} is required.")
        if reason:
            log.warning(
                "access_denied", user=principal.user_id, permission=claim.permission, reason=reason
            )
            denials.append(
                AuditEntry(
                    "access.denied",
                    object_type="permission",
                    object_id=claim.permission,
                    outcome=f"denied:{reason}",
                    actor=claim.actor,
                )
            )
            answers.append(error)
        else:
            answers.append(None)
    if audit_into is not None:
        audit_into.extend(denials)
    else:
        await record_many(session, denials)
    return Rechecked(answers, plugins, config_version, extra)
