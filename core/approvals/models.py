"""Requests for privileged changes, and their decisions: a platform table.

Every role grant and every change of a tenant's security settings is a row here, whether it
needed a second person or not, so the table is the whole history of who was given access to
which tenant, asked for by whom and approved by whom. ``tenant_id`` is a scope (which tenant
the change concerns), not client data: the table is read before any tenant is in context.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from core.db.base import JSONType, TZDateTime, utcnow

__all__ = ["Basis", "ChangeKind", "ChangeRequest", "Status", "open_key"]


class ChangeKind:
    ROLE_GRANT = "role.grant"
    TENANT_SECURITY = "tenant.security"


class Status:
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # by the person who asked, or replaced by a newer request
    ALL = (PENDING, APPROVED, REJECTED, WITHDRAWN)


class Basis:
    """Why an approved change took effect."""

    APPROVAL = "approval"  # a second person approved it
    ONBOARDING = "onboarding"  # a new tenant's first client_admin
    NO_APPROVAL_NEEDED = "no_approval_needed"  # e.g. a viewer of masked reports
    CONSOLE = "console"  # the server's own console bootstrapped a platform role
    TENANT_CREATED = "tenant_created"  # the security settings a tenant was created with
    BEFORE_APPROVALS = "before_approvals"  # held before approvals existed (the migration)


def open_key(kind: str, tenant_id: int | None, subject: int | None, role: str | None) -> str:
    return f"{kind}|{tenant_id or 0}|{subject or 0}|{role or ''}"


class ChangeRequest(SQLModel, table=True):
    __tablename__ = "change_request"
    __table_args__ = (sa.Index("ix_change_request_tenant_id_status", "tenant_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    tenant_id: int | None = Field(default=None, foreign_key="tenant.id")
    subject_user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    role: str | None = Field(default=None, max_length=40)
    # tenant.security: {setting: new value}; never a personal value
    changes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    status: str = Field(default=Status.PENDING, max_length=16)
    # set while the request is open, cleared when it is decided: its uniqueness is what keeps
    # two identical open requests from existing, even when both are made at the same moment
    open_key: str | None = Field(default=None, max_length=160, unique=True)
    basis: str = Field(default="", max_length=32)
    requested_by: int | None = Field(default=None, foreign_key="user_account.id")
    requested_via: str = Field(default="api", max_length=16)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    decided_by: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    expires_at: datetime = Field(sa_type=TZDateTime)
