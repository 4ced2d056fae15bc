"""Creating, changing and reading tenants; the one path for manifests, API and console.

``apply_specs`` writes every tenant of a batch in one transaction (switching the session's
tenant for each tenant's own rows) and reports what changed; hooks fire only after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.approvals.service import (
    Requester,
    record_creation,
    request_security_change,
    security_values,
)
from core.audit.log import current_actor, record
from core.db.base import utcnow
from core.db.engine import Database
from core.db.session import switch_tenant
from core.plugins.host import PluginHost
from core.plugins.models import TenantPlugin
from core.tenancy.context import TenantContext
from core.tenancy.manifest import SECURITY_KEYS, ManifestError, TenantSpec
from core.tenancy.models import Tenant
from core.tenancy.plugin_checks import check_plugin_settings
from core.tenancy.schemas import PluginState, TenantRead

__all__ = [
    "TenantChange",
    "apply_specs",
    "as_manifest",
    "context_of",
    "enabled_plugins",
    "get_tenant",
    "list_tenants",
    "plugin_settings",
    "plugin_settings_by_tenant",
    "read_tenant",
    "tenant_plugins",
]

_FIELDS = ("display_name", "display_name_en", "color", "retention_days", "status")
# the security settings (core.approvals.rules.SECURITY_SETTINGS) a manifest gives: a new tenant
# starts with them; for an existing one a change waits for a second person's approval
_SECURITY_FIELDS = ("working_hours", *SECURITY_KEYS)


@dataclass
class TenantChange:
    slug: str
    created: bool = False
    changes: list[str] = field(default_factory=list)
    enabled: dict[str, dict[str, Any]] = field(default_factory=dict)  # plugin -> settings
    context: TenantContext | None = None
    # a change of the security settings that now awaits approval: (request id, what changes)
    pending: tuple[int, list[str]] | None = None

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changes)


def context_of(tenant: Tenant) -> TenantContext:
    assert tenant.id is not None
    return TenantContext(
        id=tenant.id, slug=tenant.slug, display_name=tenant.display_name, color=tenant.color
    )


async def get_tenant(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.exec(select(Tenant).where(Tenant.slug == slug))).first()


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list((await session.exec(select(Tenant).order_by(Tenant.slug))).all())


async def tenant_plugins(session: AsyncSession) -> list[TenantPlugin]:
    """The current tenant's plugin rows (the session must be bound to that tenant)."""
    return list((await session.exec(select(TenantPlugin).order_by(TenantPlugin.plugin_id))).all())


async def enabled_plugins(db: Database, ctx: TenantContext) -> frozenset[str]:
    return frozenset(await enabled_plugin_settings(db, ctx))


async def enabled_plugin_settings(db: Database, ctx: TenantContext) -> dict[str, dict[str, Any]]:
    """The plugins the tenant enabled, each with its settings as stored (not validated)."""
    async with db.session(ctx) as session:
        return {p.plugin_id: dict(p.settings) for p in await tenant_plugins(session) if p.enabled}


def _security_wanted(spec: TenantSpec) -> dict[str, Any]:
    wanted: dict[str, Any] = {name: getattr(spec, name) for name in _SECURITY_FIELDS}
    wanted["role_templates"] = dict(spec.roles)
    return wanted


async def _apply_security(
    session: AsyncSession, tenant: Tenant, spec: TenantSpec, change: TenantChange, by: Requester
) -> None:
    """A new tenant starts with the manifest's security settings (recorded as such); for an
    existing one a difference becomes a request that a second person approves."""
    wanted = _security_wanted(spec)
    if change.created:
        for name, value in wanted.items():
            setattr(tenant, name, value)
        return
    current = security_values(tenant)
    request = await request_security_change(session, by, tenant, wanted)
    if request is not None and request.id is not None:
        lines = [f"{k}: {current[k]!r} -> {v!r}" for k, v in sorted(request.changes.items())]
        change.pending = (request.id, lines)


async def _apply_one(session: AsyncSession, spec: TenantSpec, by: Requester) -> TenantChange:
    change = TenantChange(slug=spec.slug)
    tenant = await get_tenant(session, spec.slug)
    if tenant is not None and tenant.status == "offboarded":
        raise ManifestError(spec.source, "slug", "this tenant was offboarded; its data is gone")
    if tenant is None:
        tenant = Tenant(slug=spec.slug, display_name=spec.display_name)
        session.add(tenant)
        change.created = True
        change.changes.append("tenant created")
    for name in _FIELDS:
        new = getattr(spec, name)
        old = getattr(tenant, name)
        if old != new:
            if not change.created:
                change.changes.append(f"{name}: {old!r} -> {new!r}")
            setattr(tenant, name, new)
    config_changed = False
    if change.created and spec.roles:
        change.changes.append("roles: " + ", ".join(sorted(spec.roles)))
    await session.flush()
    await _apply_security(session, tenant, spec, change, by)
    await session.flush()
    ctx = context_of(tenant)
    change.context = ctx
    if change.created:
        await record_creation(session, by, tenant)

    await switch_tenant(session, ctx.id)
    rows = {row.plugin_id: row for row in await tenant_plugins(session)}
    for plugin_id, choice in sorted(spec.plugins.items()):
        row = rows.get(plugin_id)
        if row is None:
            session.add(
                TenantPlugin(
                    tenant_id=ctx.id,
                    plugin_id=plugin_id,
                    enabled=choice.enabled,
                    settings=choice.settings,
                )
            )
            change.changes.append(
                f"plugin {plugin_id} {'enabled' if choice.enabled else 'added, disabled'}"
            )
            config_changed = True
            if choice.enabled:
                change.enabled[plugin_id] = choice.settings
            continue
        touched = False
        if row.enabled != choice.enabled:
            change.changes.append(
                f"plugin {plugin_id} {'enabled' if choice.enabled else 'disabled'}"
            )
            row.enabled = choice.enabled
            touched = True
        if row.settings != choice.settings:
            keys = sorted(
                k
                for k in set(row.settings) | set(choice.settings)
                if row.settings.get(k) != choice.settings.get(k)
            )
            change.changes.append(f"plugin {plugin_id} settings: {', '.join(keys)}")
            row.settings = dict(choice.settings)
            touched = True
        if not touched:
            continue
        config_changed = True
        row.updated_at = utcnow()
        if choice.enabled:
            change.enabled[plugin_id] = choice.settings
    for plugin_id, row in rows.items():
        if plugin_id not in spec.plugins and row.enabled:
            row.enabled = False
            change.changes.append(f"plugin {plugin_id} disabled (not in manifest)")
            config_changed = True
    if config_changed:
        await record(
            session,
            "tenant.configure",
            object_type="tenant",
            object_id=ctx.id,
            fields=sorted(spec.plugins),
        )
    await switch_tenant(session, None)
    if change.changed:
        await record(
            session,
            "tenant.create" if change.created else "tenant.update",
            object_type="tenant",
            object_id=ctx.id,
            fields=[c.split(":")[0].split(" ")[0] for c in change.changes][:20],
        )
    if config_changed and not change.created:
        tenant.config_version += 1
    if change.changed:
        tenant.updated_at = utcnow()
    return change


async def apply_specs(
    db: Database,
    host: PluginHost,
    specs: list[TenantSpec],
    by: Requester | None = None,
    services: Callable[[TenantContext], Any] | None = None,
) -> list[TenantChange]:
    """Create or update every tenant in ``specs`` in one transaction, then fire hooks.

    ``by`` is who asks (default: the current audit actor; no user is the server's console).
    ``services`` makes the hooks' ``services`` (a ``core.TenantServices``) for a tenant; the
    app and the command line give theirs (without, the hooks get None).
    Changes of an existing tenant's security settings are not applied but requested: they
    take effect when a second person approves (``TenantChange.pending``)."""
    if by is None:
        actor = current_actor()
        by = Requester(actor.user_id, "cli" if actor.user_id is None else actor.via)
    async with db.session() as session:
        changes = []
        for spec in specs:
            changes.append(await _apply_one(session, spec, by))
            # the plugins check and record their settings in this transaction (may refuse)
            assert changes[-1].context is not None
            await check_plugin_settings(session, host, spec, changes[-1].context)
    for change in changes:
        if not change.changed or change.context is None:
            continue
        host.invalidate(change.context.id)
        enabled = await enabled_plugins(db, change.context)
        relay = host.relay(change.context, enabled)
        tenant_services = services(change.context) if services is not None else None
        if change.created:
            await relay.notify("on_tenant_onboarded", ctx=change.context, services=tenant_services)
        for plugin_id, settings in change.enabled.items():
            await relay.notify(
                "on_plugin_enabled",
                ctx=change.context,
                plugin_id=plugin_id,
                settings=settings,
                services=tenant_services,
            )
    return changes


async def read_tenant(session: AsyncSession, tenant: Tenant) -> TenantRead:
    """A tenant with its plugins (the session is switched to the tenant and back)."""
    await switch_tenant(session, tenant.id)
    plugins = [
        PluginState(id=p.plugin_id, enabled=p.enabled, settings=p.settings)
        for p in await tenant_plugins(session)
    ]
    await switch_tenant(session, None)
    return TenantRead(
        slug=tenant.slug,
        display_name=tenant.display_name,
        display_name_en=tenant.display_name_en,
        color=tenant.color,
        status=tenant.status,
        retention_days=tenant.retention_days,
        working_hours=tenant.working_hours,
        roles=dict(tenant.role_templates or {}),
        security={name: getattr(tenant, name) for name in SECURITY_KEYS},
        plugins=plugins,
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
    )


def as_manifest(read: TenantRead) -> dict[str, Any]:
    """A tenant as manifest data, to merge a partial change into and validate whole."""
    data = read.model_dump(
        include={
            "slug",
            "display_name",
            "display_name_en",
            "color",
            "status",
            "retention_days",
            "working_hours",
        }
    )
    data["plugins"] = {p.id: {"enabled": p.enabled, "settings": p.settings} for p in read.plugins}
    data["roles"] = read.roles
    data["security"] = read.security
    return data


async def plugin_settings_by_tenant(
    db: Database,
    host: PluginHost,
    plugin_id: str,
) -> list[tuple[TenantContext, dict[str, Any]]]:
    """Every active tenant that enabled ``plugin_id``, with its validated settings (for a
    plugin's own process, such as a mail listener, that serves many tenants)."""
    async with db.session() as session:
        tenants = [t for t in await list_tenants(session) if t.status == "active"]
    manifest = host.manifest(plugin_id)
    found = []
    for tenant in tenants:
        ctx = context_of(tenant)
        async with db.session(ctx) as session:
            rows = {p.plugin_id: p for p in await tenant_plugins(session)}
        row = rows.get(plugin_id)
        if row is not None and row.enabled:
            found.append((ctx, manifest.validate_settings(row.settings)))
    return found


async def plugin_settings(session: AsyncSession, manifest: Any) -> dict[str, Any]:
    """The current tenant's validated settings of one plugin (defaults if never set)."""
    row = (
        await session.exec(select(TenantPlugin).where(TenantPlugin.plugin_id == manifest.id))
    ).first()
    validated: dict[str, Any] = manifest.validate_settings(row.settings if row else {})
    return validated
