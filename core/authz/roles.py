"""The roles of the design card and the core's own permissions.

Platform roles act in the ``platform`` domain; tenant roles act inside one tenant. Plugins
propose grants for tenant roles in their manifests; a tenant's manifest may replace a role's
grants with its own template.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "CORE_PERMISSIONS",
    "PLATFORM_DOMAIN",
    "PLATFORM_ROLES",
    "ROLE_DEFAULTS",
    "TENANT_ROLES",
    "core_permissions",
]

PLATFORM_DOMAIN = "platform"
PLATFORM_ROLES = ("platform_admin", "security_officer")
TENANT_ROLES = ("supervisor", "operator", "client_admin", "client_viewer")

CORE_PERMISSIONS: Mapping[str, str] = {
    "tenant:list": "list the platform's tenants",
    "tenant:read": "read a tenant's configuration",
    "tenant:create": "onboard a tenant",
    "tenant:update": "change a tenant's configuration and plugins",
    "plugin:list": "see which plugins a tenant has enabled",
    "job:read": "see a tenant's background jobs",
}

ROLE_DEFAULTS: Mapping[str, tuple[str, ...]] = {
    "platform_admin": ("tenant:list", "tenant:read", "tenant:create", "tenant:update"),
    "security_officer": ("tenant:list", "tenant:read"),
    "supervisor": ("plugin:list", "job:read"),
    "operator": ("plugin:list",),
    "client_admin": ("plugin:list",),
    "client_viewer": ("plugin:list",),
}


def core_permissions() -> list[str]:
    return sorted(CORE_PERMISSIONS)
