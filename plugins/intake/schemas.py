"""API shapes of the intake plugin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, Field, model_validator

from core import INT_MAX, ApiError
from core import StrictBody as CoreStrictBody
from plugins.intake.normalize import EMAIL_PATTERN, ONE_LINE_PATTERN, PHONE_PATTERN

__all__ = [
    "CategoriesUpdate",
    "Channel",
    "Delivery",
    "InquiryCreate",
    "InquiryDetail",
    "InquiryRead",
    "InquiryUpdate",
    "MessageCreate",
    "MessageRead",
    "QueueConfig",
    "StatusName",
    "StrictBody",
    "TagsUpdate",
]

CATEGORY_LENGTH, TAG_LENGTH, MAX_TAGS = 64, 32, 20  # as the vocabularies allow
MAX_TERMS = 200  # per kind: a vocabulary, not a store of text

Channel = Literal["web", "email", "chat", "phone"]
StatusName = Literal["new", "open", "waiting", "resolved", "closed"]
CHANNELS: tuple[str, ...] = get_args(Channel)
STATUSES: tuple[str, ...] = get_args(StatusName)
# What the handlers check themselves (422 naming the field), as the document states it: one
# line, a phone number and an address in their canonical forms (folded input is accepted too),
# a choice from a list.
OneLine = Annotated[str, Field(json_schema_extra={"pattern": ONE_LINE_PATTERN})]
Phone = Annotated[str, Field(json_schema_extra={"pattern": PHONE_PATTERN})]
Email = Annotated[str, Field(json_schema_extra={"pattern": EMAIL_PATTERN})]
ChannelName = Annotated[str, Field(max_length=16, json_schema_extra={"enum": list(CHANNELS)})]


class StrictBody(CoreStrictBody):
    """A request body that refuses a field it does not declare, with 422 naming it: a field
    dropped without a word is data lost (a nested ``customer`` object once was, and the
    inquiry was stored without its customer). Named in the answer's ``field``, checked with
    one set test (the inquiry route is the hot path)."""

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
    """``category`` and ``tags`` come from the tenant's vocabulary (422 naming one it lacks)."""

    channel: ChannelName = "web"
    subject: OneLine | None = Field(default=None, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    category: str = Field(default="", max_length=CATEGORY_LENGTH)
    priority: int = Field(default=3, ge=1, le=5)
    name: OneLine | None = Field(default=None, max_length=200)
    name_kana: OneLine | None = Field(default=None, max_length=200)
    phone: Phone | None = Field(default=None, max_length=40)
    email: Email | None = Field(default=None, max_length=254)
    tags: list[Annotated[str, Field(max_length=TAG_LENGTH)]] = Field(
        default_factory=list, max_length=MAX_TAGS
    )


class InquiryRead(BaseModel):
    uid: str
    receipt_no: str
    channel: Channel
    status: StatusName
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
    """``category``, ``tags``, ``queue`` and ``assignee_id`` name what the tenant has: its
    vocabulary, its queues, someone who works them (422 naming the field otherwise)."""

    status: str | None = Field(
        default=None, max_length=16, json_schema_extra={"enum": [*STATUSES, None]}
    )
    priority: int | None = Field(default=None, ge=1, le=5)
    category: str | None = Field(default=None, max_length=CATEGORY_LENGTH)
    tags: list[Annotated[str, Field(max_length=TAG_LENGTH)]] | None = Field(
        default=None, max_length=MAX_TAGS
    )
    queue: str | None = Field(default=None, max_length=63)
    assignee_id: int | None = Field(default=None, ge=1, le=INT_MAX)
    unassign: bool = False


class MessageCreate(StrictBody):
    kind: Literal["reply", "note"]
    body: str = Field(min_length=1, max_length=20_000)


class QueueConfig(StrictBody):
    """A queue's name and routing: lower ``position`` first; an inquiry of one of
    ``categories`` lands here, else one whose text holds one of ``keywords``, else one that
    came by one of ``channels``; the queue with the highest position takes the rest."""

    name: str = Field(min_length=1, max_length=200)
    position: int = Field(default=100, ge=0, le=1_000_000)
    channels: list[ChannelName] = Field(default_factory=list, max_length=4)
    categories: list[Annotated[str, Field(min_length=1, max_length=CATEGORY_LENGTH)]] = Field(
        default_factory=list, max_length=50
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )


def _label(longest: int) -> Any:
    """One term: a line with something in it, NFKC-folded and trimmed to 1-``longest``."""
    breaks = ONE_LINE_PATTERN[3:-3]
    return Annotated[
        str,
        Field(
            min_length=1,
            max_length=longest,
            pattern=rf"^[^{breaks}]*[^\s{breaks}][^{breaks}]*$",
        ),
    ]


class CategoriesUpdate(StrictBody):
    """Every category, in the order to show them; those left out are removed, except one a
    queue routes by or the web form offers (422 naming it)."""

    labels: list[_label(CATEGORY_LENGTH)] = Field(max_length=MAX_TERMS)  # type: ignore[valid-type]


class TagsUpdate(StrictBody):
    """Every tag, in the order to show them; those left out are removed."""

    labels: list[_label(TAG_LENGTH)] = Field(max_length=MAX_TERMS)  # type: ignore[valid-type]
