"""The audit log: one hash chain per tenant, and one for the platform.

Tenant events are tenant-scoped (the client reads its own slice through the usual filter, and
row-level security guards them on PostgreSQL); platform events (tenant onboarding, platform
grants, failed logins of unknown users) live in their own table. Events hold ids, names and
purposes, never a personal value. Signed checkpoints of each chain's head are kept beside
the chains (:mod:`core.audit.checkpoint`), tenant ones tenant-scoped so that each client can
download its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db.base import JSONType, TenantScoped, TZDateTime, tenant_id_field

__all__ = [
    "GENESIS",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "PlatformAuditCheckpoint",
    "PlatformAuditEvent",
    "PlatformAuditHead",
]

GENESIS = "0" * 64


class AuditColumns(SQLModel):
    seq: int = Field(nullable=False)
    at: datetime = Field(sa_type=TZDateTime)
    actor_user_id: int | None = Field(default=None)
    actor_roles: list[str] = Field(default_factory=list, sa_type=JSONType)
    action: str = Field(max_length=64)
    object_type: str = Field(default="", max_length=64)
    object_id: str = Field(default="", max_length=128)
    fields: list[str] = Field(default_factory=list, sa_type=JSONType)
    purpose: str = Field(default="", max_length=500)
    outcome: str = Field(default="ok", max_length=32)
    request_id: str = Field(default="", max_length=64)
    client_addr: str = Field(default="", max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditEvent(TenantScoped, AuditColumns, table=True):
    __tablename__ = "audit_event"
    # the security officer and `audit verify` read every tenant's chain; nothing else may
    __cross_tenant__: ClassVar[str | None] = "audit-review"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "seq"),)
    tenant_id: int = tenant_id_field(index=False)  # the unique key leads with it

    id: int | None = Field(default=None, primary_key=True)


class PlatformAuditEvent(AuditColumns, table=True):
    __tablename__ = "platform_audit_event"
    __table_args__ = (sa.UniqueConstraint("seq"),)

    id: int | None = Field(default=None, primary_key=True)


class AuditHead(TenantScoped, table=True):
    """The last event of a tenant's chain; updated in the event's own transaction."""

    __tablename__ = "audit_head"
    __cross_tenant__: ClassVar[str | None] = "audit-review"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)
    tenant_id: int = tenant_id_field(index=False)  # unique

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(default=0)
    hash: str = Field(default=GENESIS, max_length=64)


class PlatformAuditHead(SQLModel, table=True):
    __tablename__ = "platform_audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0)
    hash: str = Field(default=GENESIS, max_length=64)


class CheckpointColumns(SQLModel):
    """A chain's event ``seq`` had ``hash``, signed at ``signed_at`` (see
    :func:`core.audit.signing.checkpoint_message` for the exact bytes signed)."""

    seq: int = Field(nullable=False)
    hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_type=TZDateTime)
    signature: str = Field(max_length=100)  # base64 of the 64-byte Ed25519 signature


class AuditCheckpoint(TenantScoped, CheckpointColumns, table=True):
    __tablename__ = "audit_checkpoint"
    __cross_tenant__: ClassVar[str | None] = "audit-review"
    # one checkpoint per event: processes that sign the same head at once store it once
    __table_args__ = (sa.UniqueConstraint("tenant_id", "seq"),)
    tenant_id: int = tenant_id_field(index=False)  # the unique key leads with it

    id: int | None = Field(default=None, primary_key=True)


class PlatformAuditCheckpoint(CheckpointColumns, table=True):
    __tablename__ = "platform_audit_checkpoint"
    __table_args__ = (sa.UniqueConstraint("seq"),)

    id: int | None = Field(default=None, primary_key=True)
