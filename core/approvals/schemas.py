"""API shapes for accounts, grants and approvals (staff e-mail addresses, never a customer's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.authz.roles import PLATFORM_ROLES, TENANT_ROLES
from core.identity.service import EMAIL_RE
from core.strict_body import StrictBody

__all__ = [
    "AccessGrant",
    "ChangeRequestOut",
    "GrantIn",
    "UserCreated",
    "UserIn",
    "UserOut",
]


StatusName = Literal["pending", "approved", "rejected", "withdrawn"]
# one staff address as the accounts keep it (core.identity.service.EMAIL_RE, which sees it
# lower-cased: either case here)
EMAIL_PATTERN = "^" + EMAIL_RE.pattern.replace("a-z0-9", "A-Za-z0-9") + "$"
_EMAIL = Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)


class UserIn(StrictBody):
    email: str = _EMAIL
    display_name: str = Field(default="", max_length=200)


class GrantIn(StrictBody):
    """A platform role is held on the platform (no ``tenant``), a tenant role in one tenant
    (422 naming the field otherwise)."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"role": {"enum": list(PLATFORM_ROLES)}}},
            "then": {"properties": {"tenant": {"type": "null"}}},
            "else": {"required": ["tenant"], "properties": {"tenant": {"type": "string"}}},
        }
    )

    email: str = _EMAIL
    role: str = Field(max_length=40, json_schema_extra={"enum": [*PLATFORM_ROLES, *TENANT_ROLES]})
    tenant: str | None = Field(default=None, max_length=63, description="for tenant roles")


class UserOut(BaseModel):
    id: int
    email: str
    display_name: str
    is_active: bool
    activated: bool
    created_at: datetime
    created_by: str | None
    roles: dict[str, list[str]]  # tenant slug (or "platform") -> roles


class UserCreated(BaseModel):
    user: UserOut
    invitation_url: str = Field(
        description="shown once: the person opens it to choose their own password (72 hours)"
    )


class ChangeRequestOut(BaseModel):
    id: int
    kind: str
    tenant: str | None
    subject: str | None  # the person a grant is for
    role: str | None
    changes: dict[str, Any]
    status: str
    basis: str
    requested_by: str | None  # None: the server's console
    requested_via: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime


class AccessGrant(BaseModel):
    """Who holds a role in a tenant, and how they came to hold it."""

    user: str
    display_name: str
    role: str
    since: datetime
    basis: str
    requested_by: str | None
    approved_by: str | None
    request_id: int | None
