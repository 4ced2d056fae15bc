"""What the app keeps for its lifetime (``app.state.core``) and per request (``scope["state"]``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache

from core.authz.policy import Authorizer
from core.db.engine import Database
from core.identity.service import Principal
from core.jobs.registry import TenantServices
from core.pii.keyring import KeyRing
from core.plugins.api import MenuItem, PortalSection
from core.plugins.host import PluginHost
from core.security.throttle import Throttle
from core.settings import Settings
from core.tenancy.context import TenantContext

__all__ = ["CoreState", "RequestTenant", "core_state"]


@dataclass(frozen=True)
class RequestTenant:
    ctx: TenantContext
    version: int
    role_templates: dict[str, list[str]]
    enabled: frozenset[str]
    # each enabled plugin's settings as stored at ``version`` (validated where they are used)
    plugin_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class CoreState:
    settings: Settings
    db: Database
    host: PluginHost
    authorizer: Authorizer
    keyring: KeyRing
    # (tenant id, config version) -> enabled plugin ids with their stored settings; a version
    # bump on any node misses (every change of a tenant's plugins moves its version on)
    enabled_cache: dict[tuple[int, int], dict[str, dict[str, Any]]] = field(default_factory=dict)
    # for routes that check access again inside their write transaction (``recheck_on_write``)
    # only: token hash -> Principal, tenant slug -> RequestTenant, for 30 s (the write
    # transaction reads them afresh, so a stale entry lets nothing through)
    recent_principals: TTLCache[str, Principal] = field(
        default_factory=lambda: TTLCache(maxsize=10_000, ttl=30.0)
    )
    recent_tenants: TTLCache[str, RequestTenant] = field(
        default_factory=lambda: TTLCache(maxsize=10_000, ttl=30.0)
    )
    throttle: Throttle = field(default_factory=Throttle)  # public routes, per client
    menu_items: list[MenuItem] = field(default_factory=list)
    portal_sections: list[PortalSection] = field(default_factory=list)

    def services(self, ctx: TenantContext) -> TenantServices:
        """What work for ``ctx`` outside a request gets (an ``on_*`` hook's ``services``)."""
        return TenantServices(tenant=ctx, _db=self.db, _keyring=self.keyring, _host=self.host)


def core_state(app_state: Any) -> CoreState:
    core: CoreState = app_state.core
    return core


def request_principal(state: dict[str, Any]) -> Principal | None:
    return state.get("principal")
