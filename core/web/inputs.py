"""Input no handler should see: integers past 32 bits, times without a zone, JSON nested deep.

One app-wide guard, run after the access gate, gives every route (the core's and the plugins')
the same answer, 400 in the project's error shape naming the field, where the database (an
``offset`` of 10**30 overflows both engines), a comparison with a stored time (a ``since``
without a zone) or the JSON decoder (a body nested 100,000 deep exhausts the recursion limit)
would otherwise answer 500. It reads the parameters the handler declares, so a text parameter
that happens to hold digits is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ParamType
from litestar.handlers.base import BaseRouteHandler
from litestar.params import ParameterKwarg, PathParameter, QueryParameter
from litestar.typing import FieldDefinition

from core.web.errors import ApiError

__all__ = [
    "INT_MAX",
    "MAX_JSON_DEPTH",
    "Offset",
    "RowId",
    "json_depth_exceeds",
    "refuse_unbounded_input",
]

# the INTEGER columns' range on PostgreSQL (ids, counts): the narrowest a parameter meets
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# a row's id in a path, and how many rows to skip in a list: declared with their range, so the
# document states it and validation refuses what lies outside (400 naming the parameter)
RowId = Annotated[int, PathParameter(ge=1, le=INT_MAX)]
Offset = Annotated[int, QueryParameter(ge=0, le=INT_MAX)]
MAX_JSON_DEPTH = 32  # a manifest, the deepest body the API takes, nests 5 levels
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string may hold brackets
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_PLAN = "_input_checks"  # handler.opt key: the plan, worked out on the first request


@dataclass(frozen=True)
class _Checked:
    """One declared parameter to check: where it comes from, its name there, its kind."""

    source: ParamType
    name: str
    kind: type


def _kind(field: FieldDefinition) -> type | None:
    """``int`` or ``datetime`` for a parameter of that type (optional or not), else None."""
    types = get_args(field.annotation) if field.is_union else (field.annotation,)
    for candidate in types:
        if candidate is bool:
            return None
        if isinstance(candidate, type) and issubclass(candidate, datetime):
            return datetime
        if isinstance(candidate, type) and issubclass(candidate, int):
            return int
    return None


def _plan(handler: BaseRouteHandler) -> tuple[tuple[_Checked, ...], bool]:
    """The query and path parameters to check, and whether the handler takes a body."""
    planned = handler.opt.get(_PLAN)
    if planned is None:
        checks = []
        parameters = handler.parsed_fn_signature.parameters
        for name, field in parameters.items():
            kwarg = field.kwarg_definition
            kind = _kind(field)
            if kind is None or not isinstance(kwarg, ParameterKwarg):
                continue
            if kwarg.param_type in (ParamType.QUERY, ParamType.PATH):
                source_name = (kwarg.query if kwarg.param_type == ParamType.QUERY else None) or name
                checks.append(_Checked(kwarg.param_type, source_name, kind))
        planned = handler.opt[_PLAN] = (tuple(checks), "data" in parameters)
    return planned


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects more than ``limit`` deep (malformed text
    is left to the decoder). Counting brackets first keeps an ordinary body to two scans."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            return True
    return False


def _refuse_value(check: _Checked, value: Any) -> None:
    if check.kind is int:
        number = value if isinstance(value, int) else _int_or_none(value)
        if number is not None and not INT_MIN <= number <= INT_MAX:
            raise ApiError(400, f"{check.name} is out of range.", field=check.name)
        return
    when = value if isinstance(value, datetime) else _datetime_or_none(value)
    # RFC 3339, as the document says (format date-time): a number is not a time, and a time
    # without a zone means a different instant on every server
    if when is None or when.tzinfo is None:
        raise ApiError(
            400,
            f"{check.name} needs a date, a time and a time zone (such as "
            "2026-12-03T09:00:00+09:00).",
            field=check.name,
        )
    try:
        when.astimezone(UTC)
    except OverflowError:  # year 1 with a zone east of UTC: before the first instant there is
        raise ApiError(400, f"{check.name} is out of range.", field=check.name) from None


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None  # not a number: the handler's own validation answers 400


def _datetime_or_none(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


async def refuse_unbounded_input(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    checks, takes_body = _plan(handler)
    for check in checks:
        if check.source == ParamType.PATH:
            if check.name in connection.path_params:
                _refuse_value(check, connection.path_params[check.name])
            continue
        for raw in connection.query_params.getall(check.name, []):
            _refuse_value(check, raw)
    content_type = connection.headers.get("content-type", "")
    if takes_body and not content_type.startswith(_FORMS):
        body = await Request(connection.scope, connection.receive).body()  # cached for the handler
        if json_depth_exceeds(body):
            raise ApiError(400, f"The JSON body nests more than {MAX_JSON_DEPTH} levels deep.")
