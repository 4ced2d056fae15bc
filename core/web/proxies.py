"""The client's address: the connection's peer, or what a trusted reverse proxy says it is.

``X-Forwarded-For`` is anyone's to write, so it counts only when the peer is one of the
proxies ``MADOGUCHI_TRUSTED_PROXIES`` names; the client is then the last address in it that is
not one of them (each proxy appends the address it received the request from). The login
throttle and the audit events read the address from here, through ``scope["client"]``.
"""

from __future__ import annotations

from typing import Any, cast

from litestar.middleware import DefineMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from core.settings import Settings

__all__ = ["trusted_proxy_middleware"]


def trusted_proxy_middleware(settings: Settings) -> list[DefineMiddleware]:
    """The middleware that takes the client's address from the trusted proxies' headers; none
    when no proxy is trusted. The ASGI server must not do it as well (``madoguchi serve``
    turns uvicorn's own handling off: it trusts 127.0.0.1 by default)."""
    if not settings.trusted_proxies:
        return []
    # uvicorn's ASGI types are its own, not Litestar's: the same protocol
    middleware = cast(Any, ProxyHeadersMiddleware)
    return [DefineMiddleware(middleware, trusted_hosts=list(settings.trusted_proxies))]
