"""The pages under /t/{tenant} are not in the OpenAPI document, so they get a matrix of
their own, from the app's routing table: no role of tenant A opens a page of tenant B."""

from __future__ import annotations

from typing import Any

from core.app import create_app
from core.settings import Settings
from core.web.access import route_permission
from tests.canaries import CUSTOMER_B
from tests.conftest import ROLES, World


async def test_no_role_of_one_tenant_opens_another_tenants_pages(
    app: Any, settings: Settings, host: Any, world: World
) -> None:
    routes = create_app(settings, host=host).routes
    handlers = [
        (route.path, handler)
        for route in routes
        for handler in route.route_handlers  # type: ignore[union-attr]
        if route.path.startswith("/t/{tenant")
        and not handler.include_in_schema
        and handler.handler_name != "options_handler"
    ]
    # the customer's contact form and the colour sheet are public by design; nothing else
    public = {path for path, handler in handlers if route_permission(handler) is None}
    assert public == {
        "/t/{tenant:str}/contact",
        "/t/{tenant:str}/theme.css",
        "/t/{tenant:str}/verify/{token:str}",
    }
    pages = sorted(
        {
            (method, path)
            for path, handler in handlers
            if path not in public
            for method in handler.http_methods
            if method not in ("OPTIONS", "HEAD")
        }
    )
    assert len(pages) >= 15
    ids = {
        "{tenant:str}": world.b.slug,
        "{uid:str}": world.customer_b,
        "{export_id:int}": "1",
        "{user_id:int}": "1",
        "{reply_id:int}": "1",
        "{request_id:int}": "1",
    }
    successes, leaks = [], []
    for method, path in pages:
        url = path
        for placeholder, value in ids.items():
            url = url.replace(placeholder, value)
        assert "{" not in url, path
        for caller in [f"a:{role}" for role in ROLES] + ["platform_admin"]:
            response = await app.request(
                method,
                url,
                headers=world.headers[caller],
                data={"purpose": "identity", "fields": "phone"},
            )
            if response.status_code < 400:
                successes.append((caller, method, path))
            if any(v in response.text for v in CUSTOMER_B.values()):
                leaks.append((caller, method, path))
    assert successes == []
    assert leaks == []
