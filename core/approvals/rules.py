"""Which changes need a second person, who may be that person, and which roles never mix.

The rules of separation of duties (APPI Art. 25: the client supervises who at its contractor
reaches its customers), kept in one place so that the API, the console, the portal, manifests
and the command line all apply the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from core.authz.roles import PLATFORM_ROLES, TENANT_ROLES

__all__ = [
    "APPROVERS_IN_TENANT",
    "PLATFORM_APPROVER",
    "REQUEST_VALID_FOR",
    "ROLES_NEEDING_APPROVAL",
    "SECURITY_SETTINGS",
    "ApprovalError",
    "role_conflict",
]

# tenant roles that read personal data (operator, supervisor) or approve exports (client_admin)
ROLES_NEEDING_APPROVAL = ("operator", "supervisor", "client_admin")
APPROVERS_IN_TENANT = ("client_admin",)
PLATFORM_APPROVER = "security_officer"
REQUEST_VALID_FOR = timedelta(days=7)

# a tenant's settings that decide how much of its customers' data can be reached, and how
# loudly: changing any of them needs the same approval as a grant
SECURITY_SETTINGS = (
    "reveal_soft_limit",
    "reveal_hard_limit",
    "read_soft_limit",
    "read_hard_limit",
    "working_hours",
    "sod_window_days",
    "export_valid_hours",
    "role_templates",
)


class ApprovalError(Exception):
    """A request or decision that the rules refuse; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def role_conflict(role: str, held: Mapping[int | None, set[str]]) -> str | None:
    """Why ``role`` cannot be added to the roles a person holds (None: it can).

    ``held`` maps a tenant id (None for the platform) to the roles held there. Platform roles
    never read a customer's plaintext, so nobody holds one together with a tenant role that
    does; the administrator who manages accounts is never the officer who approves them."""
    platform = held.get(None, set())
    in_tenants = {r for scope, roles in held.items() if scope is not None for r in roles}
    if role in PLATFORM_ROLES:
        if in_tenants & set(ROLES_NEEDING_APPROVAL):
            return "a platform role is never held with a tenant role that reads personal data"
        other = {"platform_admin": "security_officer", "security_officer": "platform_admin"}[role]
        if other in platform:
            return "platform_admin and security_officer are never held by the same person"
    elif role in TENANT_ROLES and role in ROLES_NEEDING_APPROVAL and platform:
        return "a platform role is never held with a tenant role that reads personal data"
    return None
