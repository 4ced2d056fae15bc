"""Every route declares its permission or is explicitly public; the app refuses otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import get

from core import PluginManifest, hookimpl
from core.app import create_app
from core.plugins.host import PluginHost
from core.settings import Settings
from core.web.access import AUTHENTICATED, route_permission

# The public routes, by path. A new public route must be added here on purpose.
PUBLIC = {
    "/",
    "/healthz",
    "/readyz",
    "/api/v1/auth/login",
    "/login",
    "/language",
    "/static/{file_path:path}",
    "/static/swagger-ui/{file_path:path}",  # the API documentation's scripts (core.web.openapi_ui)
    "/t/{tenant:str}/theme.css",
    "/t/{tenant:str}/contact",
    # a customer's side: the chat token or the one-time link is the credential
    "/api/v1/t/{tenant:str}/chat/conversations",
    "/api/v1/t/{tenant:str}/chat/messages",
    "/t/{tenant:str}/verify/{token:str}",
    # a new account's owner chooses their password; the one-time link is the credential
    "/invite/{token:str}",
}
# Routes open to any signed-in caller (inside a tenant: any member of that tenant).
ANY_USER = {
    "/api/v1/auth/logout",
    "/api/v1/auth/me",
    "/logout",
    "/account",
    "/account/password",
    "/switch",
    # each person's own API tokens
    "/api/v1/auth/tokens",
    "/api/v1/auth/tokens/{token_id:int}/revoke",
    "/account/tokens",
    "/account/tokens/{token_id:int}/revoke",
}


def test_every_route_declares_a_permission(settings: Settings, host: PluginHost) -> None:
    app = create_app(settings, host=host)
    declared = {}
    for route in app.routes:
        for handler in route.route_handlers:  # type: ignore[union-attr]
            if handler.handler_name == "options_handler" or route.path.startswith("/schema"):
                continue
            declared[(route.path, tuple(sorted(handler.http_methods)))] = route_permission(handler)
    public = {path for (path, _), permission in declared.items() if permission is None}
    assert public == PUBLIC
    assert declared[("/api/v1/admin/tenants", ("POST",))] == "tenant:create"
    any_user = {path for (path, _), permission in declared.items() if permission == AUTHENTICATED}
    assert any_user == ANY_USER
    assert all(p in (None, AUTHENTICATED) or ":" in p for p in declared.values())


def test_app_refuses_to_start_with_an_undeclared_route(settings: Settings) -> None:
    @get("/api/v1/t/{tenant:str}/leaky")
    async def leaky() -> dict[str, Any]:
        return {}

    class Leaky:
        @hookimpl
        def register_routes(self) -> list[Any]:
            return [leaky]

    host = PluginHost()
    host.register(Leaky(), PluginManifest(id="leaky", name="Leaky", version="1.0"))
    with pytest.raises(RuntimeError, match="declares no permission"):
        create_app(settings, host=host)
