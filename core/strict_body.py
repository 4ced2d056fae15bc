"""The base of the JSON request bodies the API takes: a field it does not declare is refused,
never dropped, and a value of another JSON type than the one declared is refused, never
converted."""

from __future__ import annotations

from datetime import datetime
from types import NoneType, UnionType
from typing import Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["StrictBody"]


def _json_kind(annotation: Any) -> type | None:
    """``int``, ``bool`` or ``datetime`` for a field of that type (optional or not)."""
    if get_origin(annotation) in (Union, UnionType):
        kinds = [a for a in get_args(annotation) if a is not NoneType]
        return _json_kind(kinds[0]) if len(kinds) == 1 else None
    if annotation in (int, bool, datetime):
        return annotation
    return None


def _wrong_type(kind: type, value: Any) -> str | None:
    """Why ``value`` is not of the JSON type the document gives ``kind``; None if it is."""
    if value is None:
        return None
    if kind is int and isinstance(value, bool):
        return "a number, not true or false"
    if kind is bool and not isinstance(value, bool):
        return "true or false"
    if kind is datetime and not isinstance(value, str | datetime):
        return "a date and time as text (RFC 3339), not a number"
    return None


class StrictBody(BaseModel):
    """A request body that refuses undeclared fields with 422 naming the first one: a misspelt
    or misplaced field (a nested ``customer`` object) must not be stored as if it were absent.

    Pydantic would also take ``true`` for a number, ``1`` or ``"yes"`` for true and a number
    for a time; the document says a JSON number, a JSON boolean and an RFC 3339 text, so
    those are refused (400 naming the field) rather than converted."""

    model_config = ConfigDict(extra="forbid")
    _typed: ClassVar[tuple[tuple[str, type], ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._typed = tuple(
            (name, kind)
            for name, field in cls.model_fields.items()
            if (kind := _json_kind(field.annotation)) is not None
        )

    @model_validator(mode="before")
    @classmethod
    def _refuse_other_json_types(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, kind in cls._typed:
                if name in data and (why := _wrong_type(kind, data[name])) is not None:
                    raise ValueError(f"{name}: {why}")
        return data
