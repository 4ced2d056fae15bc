"""Intake tables: queues, inquiries, their messages, and idempotency records.

Free text (subjects, message bodies) may hold personal data, so it is sealed like a customer's
fields (``PersonalData.seal_text``), bound to (tenant, table, column, uid).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Column, Field

from core import JSONType, TenantScoped, TZDateTime, tenant_id_field, utcnow

__all__ = [
    "Attachment",
    "CallRecord",
    "CannedReply",
    "ChatSession",
    "IdempotencyRecord",
    "InboundAddress",
    "Inquiry",
    "InquiryMessage",
    "InquiryStatus",
    "Queue",
    "Verification",
    "VocabularyTerm",
]


class InquiryStatus:
    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"  # waiting for the customer
    RESOLVED = "resolved"
    CLOSED = "closed"
    ALL = (NEW, OPEN, WAITING, RESOLVED, CLOSED)
    ACTIVE = (NEW, OPEN, WAITING)


class Queue(TenantScoped, table=True):
    __tablename__ = "intake_queue"
    __tenant_config__: ClassVar[bool] = True  # writes move the tenant's config_version on
    __table_args__ = (sa.UniqueConstraint("tenant_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=63)
    name: str = Field(max_length=200)
    channels: list[str] = Field(default_factory=list, sa_column=Column(JSONType))
    categories: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONType, nullable=False, server_default=sa.text("'[]'")),
    )
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSONType))
    position: int = Field(default=100)  # routing order: lower first


class Inquiry(TenantScoped, table=True):
    __tablename__ = "intake_inquiry"
    __sealed_text__: ClassVar[tuple[str, ...]] = ("subject",)  # re-sealed by key rotation
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "receipt_no"),
        sa.Index(
            "ix_intake_inquiry_work", "tenant_id", "queue_id", "status", "priority", "created_at"
        ),
        # take-next: the unassigned ones of a tenant, already in the order they are taken
        sa.Index(
            "ix_intake_inquiry_next",
            "tenant_id",
            "priority",
            "first_response_due",
            "id",
            postgresql_where=sa.text("assignee_id IS NULL"),
            sqlite_where=sa.text("assignee_id IS NULL"),
        ),
    )
    tenant_id: int = tenant_id_field(index=False)  # the indexes above lead with it

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=36, unique=True, index=True)
    receipt_no: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    status: str = Field(default=InquiryStatus.NEW, max_length=16)
    priority: int = Field(default=3)  # 1 most urgent
    queue_id: int | None = Field(default=None, foreign_key="intake_queue.id")
    category: str = Field(default="", max_length=64)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType))
    subject: str | None = Field(default=None, sa_type=sa.Text)  # sealed
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    assignee_id: int | None = Field(default=None)
    first_response_due: datetime | None = Field(default=None, sa_type=TZDateTime)
    resolution_due: datetime | None = Field(default=None, sa_type=TZDateTime)
    first_responded_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    sla_warned_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    sla_breached_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)


class InquiryMessage(TenantScoped, table=True):
    __tablename__ = "intake_message"
    __sealed_text__: ClassVar[tuple[str, ...]] = ("body",)  # re-sealed by key rotation

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=36, unique=True)
    inquiry_id: int = Field(foreign_key="intake_inquiry.id", index=True)
    kind: str = Field(max_length=16)  # inbound, reply, note
    channel: str = Field(max_length=16)
    body: str | None = Field(default=None, sa_type=sa.Text)  # sealed
    author_user_id: int | None = Field(default=None)
    message_id: str | None = Field(default=None, max_length=250, index=True)  # e-mail threading
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    # a reply by e-mail: queued, retrying, sent or failed, and why (a reason code, never the
    # relay's text, which may quote the address)
    delivery: str | None = Field(default=None, max_length=16)
    delivery_error: str | None = Field(default=None, max_length=32)


class IdempotencyRecord(TenantScoped, table=True):
    """One per Idempotency-Key: the request's hash, and once done its stored response."""

    __tablename__ = "intake_idempotency"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "key"),)
    tenant_id: int = tenant_id_field(index=False)  # the unique key leads with it

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    state: str = Field(default="in_flight", max_length=16)
    response_status: int | None = Field(default=None)
    response_body: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)


class Attachment(TenantScoped, table=True):
    """A file that came with a message; its name and content are sealed like free text."""

    __tablename__ = "intake_attachment"
    __sealed_text__: ClassVar[tuple[str, ...]] = ("filename", "content")

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=36, unique=True)
    message_id: int = Field(foreign_key="intake_message.id", index=True)
    filename: str | None = Field(default=None, sa_type=sa.Text)  # sealed
    content_type: str = Field(max_length=120)
    size: int = Field(default=0)
    content: str | None = Field(default=None, sa_type=sa.Text)  # sealed base64


class CallRecord(TenantScoped, table=True):
    """A phone call from the contact-centre system (webhook or CSV), attached to an inquiry."""

    __tablename__ = "intake_call"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "call_id"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(max_length=100)
    inquiry_id: int = Field(foreign_key="intake_inquiry.id", index=True)
    queue: str = Field(default="", max_length=100)
    started_at: datetime = Field(sa_type=TZDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    outcome: str = Field(default="", max_length=32)
    operator_email: str = Field(default="", max_length=254)


class ChatSession(TenantScoped, table=True):
    """A customer's side of a chat: one token, one inquiry, nothing else reachable with it."""

    __tablename__ = "intake_chat"

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="intake_inquiry.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    expires_at: datetime = Field(sa_type=TZDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=TZDateTime)


class Verification(TenantScoped, table=True):
    """A one-time link for identity verification (本人確認): the customer enters their data
    on a secure form; the operator sees only the result and masked values."""

    __tablename__ = "intake_verification"

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="intake_inquiry.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    requested_by: int
    expires_at: datetime = Field(sa_type=TZDateTime)
    used_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    result: str = Field(default="pending", max_length=16)  # pending, verified, mismatch
    # per field the customer entered: match, mismatch or not_on_file (never a value)
    checks: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSONType, nullable=False, server_default=sa.text("'{}'")),
    )


class CannedReply(TenantScoped, table=True):
    """A reply the desk sends often (定型文), kept by the tenant's supervisors. Written by
    staff for every customer alike, so it holds no personal data and is stored plain."""

    __tablename__ = "intake_canned_reply"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "title"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=100)
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)


class InboundAddress(TenantScoped, table=True):
    """An e-mail address the SMTP listener accepts mail at, for one tenant. Unique across
    tenants, so that one client's customer mail can never land in another client; written in
    the transaction that saves the tenant's intake settings (``check_plugin_settings``), so
    that of two tenants saving one address at once, one wins and the other is refused."""

    __tablename__ = "intake_inbound_address"
    __table_args__ = (
        sa.UniqueConstraint("address"),
        sa.Index("ix_intake_inbound_address_tenant", "tenant_id", "address"),
    )
    tenant_id: int = tenant_id_field(index=False)  # the index above leads with it

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=254)  # lower-case
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)


class VocabularyTerm(TenantScoped, table=True):
    """A label an inquiry may carry: a ``category`` (one per inquiry, also what queues route
    by) or a ``tag`` (several). Kept by the tenant's supervisors; staff-made labels for every
    customer alike, so stored plain (free text never is). Tenant configuration: the group
    writer keeps the vocabulary with the queues until the tenant's config_version moves."""

    __tablename__ = "intake_vocabulary"
    __tenant_config__: ClassVar[bool] = True
    __table_args__ = (sa.UniqueConstraint("tenant_id", "kind", "label"),)
    tenant_id: int = tenant_id_field(index=False)  # the unique key leads with it

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # category, tag
    label: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
