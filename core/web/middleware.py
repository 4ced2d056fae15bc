"""Request ids and one log line per request (method, route, status, duration; no bodies).

The line names the route's template (``/t/{tenant}/verify/{token}``), never the path: a path
may carry a secret (an identity-verification link) or a customer's identifier."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["request_context_middleware"]

log = structlog.get_logger("madoguchi.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request_finished",
                method=scope.get("method"),
                route=scope.get("path_template") or "-",  # never the path or query string
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()

    return middleware
