"""``OPTIONS`` answers with every method of the route in ``Allow``.

Litestar 2 builds a path's automatic OPTIONS answer when the path's first handler is
registered and never updates it, so a path with GET and POST answered ``Allow: OPTIONS,
POST`` (litestar-org/litestar#4169, fixed in Litestar 3). Its 405 answers are right; this
makes OPTIONS agree with them and with the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["allow_every_method_middleware"]


def _allowed(app: Any) -> dict[str, str]:
    """Route template -> its methods, as ``Allow`` lists them (worked out once per app)."""
    allowed: dict[str, str] | None = getattr(app.state, "allowed_methods", None)
    if allowed is None:
        methods: dict[str, set[str]] = {}
        for route in app.routes:
            if isinstance(route, HTTPRoute):
                methods.setdefault(route.path_format, set()).update(route.methods)
        allowed = {path: ", ".join(sorted(m)) for path, m in methods.items()}
        app.state.allowed_methods = allowed
    return allowed


def allow_every_method_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "OPTIONS":
            await app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))  # type: ignore[call-overload]
            if message["type"] == "http.response.start" and any(
                k.lower() == b"allow" for k, _ in headers
            ):  # the automatic OPTIONS answer (a refusal has no Allow)
                allow = _allowed(scope["app"]).get(str(scope.get("path_template", "")))
                if allow is not None:
                    kept = [(k, v) for k, v in headers if k.lower() != b"allow"]
                    message["headers"] = [*kept, (b"allow", allow.encode())]
            await send(message)

        await app(scope, receive, send_wrapper)

    return middleware
