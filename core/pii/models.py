"""Per-tenant data keys and the tenant's end customers, whose personal fields are sealed."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from core.db.base import TenantScoped, TZDateTime, tenant_id_field, utcnow

__all__ = ["Canary", "Customer", "PurposeNote", "TenantKey"]


class TenantKey(TenantScoped, table=True):
    """A tenant's data key, wrapped by the master key. Destroying it is crypto-shredding."""

    __tablename__ = "tenant_key"
    __tenant_config__: ClassVar[bool] = True  # writes move the tenant's config_version on
    __table_args__ = (sa.UniqueConstraint("tenant_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(default=1)
    wrapped: str | None = Field(default=None, max_length=200)  # None once destroyed
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    rewrapped_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    destroyed_at: datetime | None = Field(default=None, sa_type=TZDateTime)


class Customer(TenantScoped, table=True):
    """An end customer of the tenant. Every personal field is AES-256-GCM ciphertext bound to
    (tenant, table, column, uid); phone and e-mail also have keyed blind indexes for lookups."""

    __tablename__ = "customer"
    # lookups by blind index are always within one tenant: these serve them directly (the
    # single-column tenant index would otherwise be chosen and scan the tenant's customers)
    __table_args__ = (
        sa.Index("ix_customer_tenant_phone", "tenant_id", "phone_index"),
        sa.Index("ix_customer_tenant_email", "tenant_id", "email_index"),
    )
    __pii__: ClassVar[dict[str, str]] = {
        "name": "name",
        "name_kana": "name",
        "phone": "phone",
        "email": "email",
        "address": "address",
        "birth_date": "birth_date",
        "note": "free_text",
    }

    tenant_id: int = tenant_id_field(index=False)  # the two lookup indexes lead with it
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=36, unique=True, index=True)
    name: str | None = Field(default=None, sa_type=sa.Text)
    name_kana: str | None = Field(default=None, sa_type=sa.Text)
    phone: str | None = Field(default=None, sa_type=sa.Text)
    email: str | None = Field(default=None, sa_type=sa.Text)
    address: str | None = Field(default=None, sa_type=sa.Text)
    birth_date: str | None = Field(default=None, sa_type=sa.Text)
    note: str | None = Field(default=None, sa_type=sa.Text)
    phone_index: str | None = Field(default=None, max_length=64)  # indexed with tenant_id
    email_index: str | None = Field(default=None, max_length=64)
    # a duplicate merged into another record: kept (its history points here), never shown
    merged_into_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)


class Canary(TenantScoped, table=True):
    """A honeytoken customer: touching it in a reveal or export raises an alert at once."""

    __tablename__ = "canary"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")


class PurposeNote(TenantScoped, table=True):
    """The free-text note given with a purpose (:mod:`core.audit.purposes`), sealed: its audit
    event names it by ``uid`` (so the chain covers which note belongs to the event) and the
    seal is bound to that uid (so the text cannot be edited or moved to another event)."""

    __tablename__ = "purpose_note"
    __sealed_text__: ClassVar[tuple[str, ...]] = ("note",)

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=36, unique=True)
    note: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
