"""The plugins' own check of their settings, inside the transaction that saves a tenant.

Kept apart from :mod:`core.tenancy.service` (which calls it once per tenant of a batch): each
plugin the tenant has a row for checks and records its stored settings through the
``check_plugin_settings`` hook; a refusal becomes a :class:`ManifestError` naming the file and
the field, and rolls the whole batch back.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.session import switch_tenant
from core.plugins.api import SettingsError
from core.plugins.host import PluginHost
from core.tenancy.context import TenantContext
from core.tenancy.manifest import ManifestError, TenantSpec

__all__ = ["check_plugin_settings"]


async def check_plugin_settings(
    session: AsyncSession, host: PluginHost, spec: TenantSpec, ctx: TenantContext
) -> None:
    """Run every installed plugin's ``check_plugin_settings`` on what ``spec`` left stored for
    the tenant (enabled or not), in ``session``'s transaction; raises ManifestError."""
    from core.tenancy.service import tenant_plugins

    await switch_tenant(session, ctx.id)
    # read out first: a refused flush expires the rows, and the session can read no more
    stored = [(r.plugin_id, r.enabled, dict(r.settings)) for r in await tenant_plugins(session)]
    for plugin_id, enabled, settings in stored:
        if plugin_id not in host.manifests:
            continue
        try:
            await host.check_settings(ctx, session, plugin_id, enabled, settings)
        except SettingsError as exc:
            field = f"plugins.{plugin_id}.settings.{exc.field}"
            raise ManifestError(spec.source, field, exc.message) from None
    await switch_tenant(session, None)
