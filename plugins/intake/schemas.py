"""API shapes of the intake plugin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core import ApiError

__all__ = [
    "Delivery",
    "InquiryCreate",
    "InquiryDetail",
    "InquiryRead",
    "InquiryUpdate",
    "MessageCreate",
    "MessageRead",
    "QueueConfig",
    "StrictBody",
    "VocabularyUpdate",
]

CATEGORY_LENGTH, TAG_LENGTH, MAX_TAGS = 64, 32, 20  # as the vocabularies allow


class StrictBody(BaseModel):
    """A request body that refuses a field it does not declare, with 422 naming it: a field
    dropped without a word is data lost (a nested ``customer`` object once was, and the
    inquiry was stored without its customer)."""

    model_config = ConfigDict(extra="forbid")
    _declared: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._declared = frozenset(cls.model_fields)  # one set test per body, on the hot path

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.keys() <= cls._declared:
            name = sorted(str(k) for k in data if k not in cls._declared)[0][:64]
            # raised past pydantic (not a ValueError), so the answer is 422, not 400
            raise ApiError(422, f"{name}: unknown field", field=name)
        return data


class InquiryCreate(StrictBody):
    channel: str = Field(default="web", max_length=16)
    subject: str | None = Field(default=None, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    category: str = Field(default="", max_length=CATEGORY_LENGTH)
    priority: int = Field(default=3, ge=1, le=5)
    name: str | None = Field(default=None, max_length=200)
    name_kana: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    tags: list[Annotated[str, Field(max_length=TAG_LENGTH)]] = Field(
        default_factory=list, max_length=MAX_TAGS
    )


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


class Delivery(BaseModel):
    """Where a reply by e-mail stands: ``queued``, ``retrying`` or ``sent``, or ``failed``
    with the reason (``no_relay``, ``no_address``, ``invalid_address``, ``relay_refused``,
    ``relay_unreachable``, ``relay_error``), so that the operator sees one that did not go."""

    state: str
    reason: str | None = None


class MessageRead(BaseModel):
    uid: str
    kind: str
    channel: str
    body: str | None
    author_user_id: int | None
    created_at: datetime
    delivery: Delivery | None = None


class InquiryDetail(InquiryRead):
    subject: str | None
    messages: list[MessageRead]


class InquiryUpdate(StrictBody):
    status: str | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    category: str | None = Field(default=None, max_length=CATEGORY_LENGTH)
    tags: list[Annotated[str, Field(max_length=TAG_LENGTH)]] | None = Field(
        default=None, max_length=MAX_TAGS
    )
    queue: str | None = Field(default=None, max_length=63)
    assignee_id: int | None = None  # someone who works the queues (422 otherwise)
    unassign: bool = False


class MessageCreate(StrictBody):
    kind: str = Field(pattern="^(reply|note)$")
    body: str = Field(min_length=1, max_length=20_000)


class QueueConfig(StrictBody):
    """A queue's name and routing: lower ``position`` first; an inquiry of one of
    ``categories`` lands here, else one whose text holds one of ``keywords``, else one that
    came by one of ``channels``; the queue with the highest position takes the rest."""

    name: str = Field(min_length=1, max_length=200)
    position: int = Field(default=100, ge=0, le=1_000_000)
    channels: list[str] = Field(default_factory=list, max_length=4)
    categories: list[Annotated[str, Field(min_length=1, max_length=CATEGORY_LENGTH)]] = Field(
        default_factory=list, max_length=50
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )


class VocabularyUpdate(StrictBody):
    """Every term of one kind, in the order to show them; terms left out are removed."""

    labels: list[Annotated[str, Field(max_length=CATEGORY_LENGTH)]] = Field(max_length=200)
