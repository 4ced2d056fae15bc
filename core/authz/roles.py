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
    "SECURITY_OFFICER_IN_TENANT",
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
    "customer:read": "see the tenant's customers, masked",
    "customer:create": "register and change customers",
    "customer:merge": "merge duplicate customer records",
    "pii:reveal": "reveal a customer's personal fields, stating a purpose",
    "audit:read": "read and export the tenant's access log",
    "alert:read": "see security alerts",
    "export:request": "request a bulk export",
    "export:approve": "approve or reject another person's export request",
    "export:download": "download an approved export one requested",
    "export:review": "see pending export requests of every tenant",
    "viewer:manage": "add and remove the client's own viewers",
    "user:manage": "create users and grant or revoke their roles",
    "token:manage": "list and revoke API tokens (each person creates their own)",
    "audit:verify": "see whether the audit chains verify",
    "approval:read": "see requests for access and for security-setting changes",
    "approval:decide": "approve or reject another person's request for access or settings",
}

# Platform roles hold no permission that shows a customer's plaintext, anywhere.
ROLE_DEFAULTS: Mapping[str, tuple[str, ...]] = {
    "platform_admin": (
        "tenant:list",
        "tenant:read",
        "tenant:create",
        "tenant:update",
        "user:manage",
        "token:manage",
        "audit:verify",
        "approval:read",
    ),
    "security_officer": (
        "tenant:list",
        "tenant:read",
        "alert:read",
        "export:review",
        "audit:verify",
        "approval:read",
        "approval:decide",
    ),
    "supervisor": (
        "plugin:list",
        "job:read",
        "customer:read",
        "customer:create",
        "customer:merge",
        "pii:reveal",
        "export:request",
        "export:download",
    ),
    "operator": ("plugin:list", "customer:read", "customer:create", "pii:reveal"),
    "client_admin": (
        "plugin:list",
        "audit:read",
        "export:request",
        "export:approve",
        "export:download",
        "viewer:manage",
        "approval:decide",
    ),
    "client_viewer": ("plugin:list", "audit:read"),
}

# What a platform security officer may do inside any tenant: oversight, never plaintext.
SECURITY_OFFICER_IN_TENANT: tuple[str, ...] = (
    "audit:read",
    "alert:read",
    "export:approve",
    "approval:decide",
)


def core_permissions() -> list[str]:
    return sorted(CORE_PERMISSIONS)
