"""API shapes for customers. Personal fields are plain strings on the way in and masked on
the way out, except in a reveal. Bodies refuse fields they do not declare (422 naming the
field); single-line fields refuse line breaks and control characters, and an e-mail field
holds exactly one address (400 naming the field; the message never repeats the value)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from core.audit.purposes import NOTE_MAX_LENGTH, REVEAL_PURPOSES
from core.pii.fields import one_line, single_address
from core.web.schemas import StrictBody

__all__ = ["CustomerIn", "CustomerOut", "CustomerSearch", "MergeRequest", "RevealRequest"]

OneLine = Annotated[str, AfterValidator(one_line)]
Address = Annotated[str, AfterValidator(single_address)]


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
    """Lookups go in the body: a phone number or e-mail never belongs in a URL."""

    phone: OneLine | None = Field(default=None, max_length=40)
    email: Address | None = Field(default=None, max_length=254)


class RevealRequest(StrictBody):
    fields: list[str] = Field(min_length=1, max_length=7)
    purpose: str = Field(
        min_length=1,
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
