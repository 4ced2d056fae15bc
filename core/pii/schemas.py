"""API shapes for customers. Personal fields are plain strings on the way in and masked on
the way out, except in a reveal."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.audit.purposes import NOTE_MAX_LENGTH, REVEAL_PURPOSES

__all__ = ["CustomerIn", "CustomerOut", "CustomerSearch", "MergeRequest", "RevealRequest"]


class CustomerIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    name_kana: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=500)
    birth_date: str | None = Field(default=None, max_length=20)
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


class CustomerSearch(BaseModel):
    """Lookups go in the body: a phone number or e-mail never belongs in a URL."""

    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)


class RevealRequest(BaseModel):
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


class MergeRequest(BaseModel):
    into: str = Field(min_length=1, max_length=36)
