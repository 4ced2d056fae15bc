"""API shapes of the intake plugin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

__all__ = [
    "InquiryCreate",
    "InquiryDetail",
    "InquiryRead",
    "InquiryUpdate",
    "MessageCreate",
    "MessageRead",
]


class InquiryCreate(BaseModel):
    channel: str = Field(default="web", max_length=16)
    subject: str | None = Field(default=None, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    category: str = Field(default="", max_length=64)
    priority: int = Field(default=3, ge=1, le=5)
    name: str | None = Field(default=None, max_length=200)
    name_kana: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    tags: list[str] = Field(default_factory=list, max_length=20)


class InquiryRead(BaseModel):
    uid: str
    receipt_no: str
    channel: str
    status: str
    priority: int
    queue: str | None
    category: str
    assignee_id: int | None
    customer_uid: str | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    created_at: datetime


class MessageRead(BaseModel):
    uid: str
    kind: str
    channel: str
    body: str | None
    author_user_id: int | None
    created_at: datetime


class InquiryDetail(InquiryRead):
    subject: str | None
    messages: list[MessageRead]


class InquiryUpdate(BaseModel):
    status: str | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    category: str | None = Field(default=None, max_length=64)
    queue: str | None = Field(default=None, max_length=63)
    assignee_id: int | None = None
    unassign: bool = False


class MessageCreate(BaseModel):
    kind: str = Field(pattern="^(reply|note)$")
    body: str = Field(min_length=1, max_length=20_000)


class QueueConfig(BaseModel):
    """A queue's name and routing: lower ``position`` first; an inquiry of one of
    ``categories`` lands here, else one whose text holds one of ``keywords``, else one that
    came by one of ``channels``; the queue with the highest position takes the rest."""

    name: str = Field(min_length=1, max_length=200)
    position: int = Field(default=100, ge=0, le=1_000_000)
    channels: list[str] = Field(default_factory=list, max_length=4)
    categories: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
