"""API shapes for accounts, grants and approvals (staff e-mail addresses, never a customer's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.web.schemas import StrictBody

__all__ = [
    "AccessGrant",
    "ChangeRequestOut",
    "GrantIn",
    "UserCreated",
    "UserIn",
    "UserOut",
]


class UserIn(StrictBody):
    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(default="", max_length=200)


class GrantIn(StrictBody):
    email: str = Field(min_length=3, max_length=254)
    role: str = Field(max_length=40)
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
