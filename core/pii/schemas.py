"""API shapes for customers. Personal fields are plain strings on the way in and masked on
the way out, except in a reveal. Bodies refuse fields they do not declare (422 naming the
field); single-line fields refuse line breaks and control characters, and an e-mail field
holds exactly one address (400 naming the field; the message never repeats the value)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.audit.purposes import NOTE_MAX_LENGTH, OTHER, REVEAL_PURPOSES
from core.pii.fields import ADDRESS_PATTERN, ONE_LINE_PATTERN, single_address
from core.strict_body import StrictBody

__all__ = ["CustomerIn", "CustomerOut", "CustomerSearch", "MergeRequest", "RevealRequest"]

OneLine = Annotated[str, Field(pattern=ONE_LINE_PATTERN)]
Address = Annotated[
    str,
    AfterValidator(single_address),
    Field(
        json_schema_extra={"pattern": ADDRESS_PATTERN},
        description="one address (full-width input is folded)",
    ),
]
# a choice from a list is checked by the accessor (422 naming the field), and documented here
PersonalField = Annotated[
    str,
    Field(
        json_schema_extra={
            "enum": ["name", "name_kana", "phone", "email", "address", "birth_date", "note"]
        }
    ),
]


class CustomerIn(StrictBody):
    name: OneLine | None = Field(default=None, max_length=200)
    name_kana: OneLine | None = Field(default=None, max_length=200)
    phone: OneLine | None = Field(default=None, max_length=40)
    email: Address | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=500)  # may run over two lines
    birth_date: OneLine | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, max_length=4000)


class CustomerOut(BaseModel):
    uid: str
    name: str | None
    name_kana: str | None
    phone: str | None
    email: str | None
    address: str | None
    birth_date: str | None
    note: str | None


class CustomerSearch(StrictBody):
    """Lookups go in the body: a phone number or e-mail never belongs in a URL. One of the
    two is needed."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "required": ["phone"],
                    "properties": {"phone": {"type": "string", "minLength": 1}},
                },
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
            ]
        }
    )

    phone: OneLine | None = Field(default=None, max_length=40)
    email: Address | None = Field(default=None, max_length=254)


class RevealRequest(StrictBody):
    """The purpose ``other`` says nothing without a note (422 naming ``note``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"purpose": {"const": OTHER.code}}},
            "then": {
                "required": ["note"],
                "properties": {"note": {"type": "string", "pattern": "\\S"}},
            },
        }
    )

    fields: list[PersonalField] = Field(min_length=1, max_length=7)
    purpose: str = Field(
        max_length=32,
        description="why: one of the codes of the reveal purposes",
        json_schema_extra={"enum": list(REVEAL_PURPOSES.codes)},
    )
    note: str | None = Field(
        default=None,
        max_length=NOTE_MAX_LENGTH,
        description="optional free text (required for other), sealed; the client sees only "
        "that there is a note",
    )


class MergeRequest(StrictBody):
    into: OneLine = Field(min_length=1, max_length=36)
