"""Errors as JSON with one stable shape, never a stack trace.

``{"error": {"status": 404, "code": "not_found", "message": "...", "request_id": "..."}}``
(plus ``field`` when one input field is at fault).
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from core.tenancy.manifest import ManifestError

__all__ = ["ApiError", "exception_handlers"]

log = structlog.get_logger("madoguchi.web")

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}


_UNKNOWN_FIELD = "Extra inputs are not permitted"  # pydantic's message for extra="forbid"
_PATTERN_MISMATCH = re.compile(r"String should match pattern '(.*)'", re.DOTALL)


class ApiError(HTTPException):
    """An HTTP error with a machine-readable code and, optionally, the field at fault."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, status_code=status_code, headers=headers)
        self.code = code or _CODES.get(status_code, "error")
        self.field = field


def _page_or_body(
    request: Request[Any, Any, Any], status: int, code: str, message: str, field: str | None = None
) -> Response[Any]:
    from core.web.ui.render import error_page, wants_html

    if not wants_html(request):
        return _body(request, status, code, message, field)
    if status == 401:
        expired = "&expired=1" if code == "session_expired" else ""
        return Redirect(path=f"/login?next={quote(request.url.path)}{expired}", status_code=303)
    request_id = request.scope.get("state", {}).get("request_id")
    return error_page(request, status, request_id)


def _body(
    request: Request[Any, Any, Any], status: int, code: str, message: str, field: str | None = None
) -> Response[dict[str, Any]]:
    error: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": message,
        # routing errors (404/405) happen before the request-id middleware runs
        "request_id": request.scope.get("state", {}).get("request_id") or uuid.uuid4().hex,
    }
    if field:
        error["field"] = field
    return Response({"error": error}, status_code=status)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    response = _answer(request, exc)
    for name, value in (exc.headers or {}).items():  # Retry-After; Allow with a 405
        response.headers[name] = value
    return response


def _answer(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ApiError):
        return _page_or_body(request, exc.status_code, exc.code, exc.detail, exc.field)
    field = None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        errors = [e for e in exc.extra if isinstance(e, dict)]
        unknown = [e for e in errors if e.get("message") == _UNKNOWN_FIELD]
        if unknown:  # a field the body does not declare (core.web.schemas.StrictBody)
            field = str(unknown[0].get("key", ""))
            return _page_or_body(request, 422, "unknown_field", f"Unknown field {field}.", field)
        first = errors[0] if errors else {}
        field = first.get("key")
        message = str(first.get("message", exc.detail))
        if pattern := _PATTERN_MISMATCH.fullmatch(message):  # say what it is, not only the regex
            message = (
                f"{field or 'The value'} is not in the form this field takes: a character it "
                f"refuses (a line break, for one) or the wrong shape (pattern {pattern[1]})."
            )
        return _page_or_body(request, 400, "bad_request", message, field)
    return _page_or_body(request, exc.status_code, _CODES.get(exc.status_code, "error"), exc.detail)


def _manifest(request: Request[Any, Any, Any], exc: ManifestError) -> Response[Any]:
    return _page_or_body(request, 422, "invalid", exc.message, exc.field)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("request_failed", error=type(exc).__name__)
    return _page_or_body(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "The server could not complete the request.",
    )


exception_handlers: ExceptionHandlersMap = {
    HTTPException: _http,
    ManifestError: _manifest,
    Exception: _unexpected,
}
