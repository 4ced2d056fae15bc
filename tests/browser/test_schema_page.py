"""The API documentation renders in Chromium under the app's CSP, with nothing from elsewhere."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Server


def test_the_schema_page_renders_every_operation_under_the_csp(page: Any, server: Server) -> None:
    console: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(server.url) else elsewhere.append(request.url)
        ),
    )
    page.goto("/schema")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 20
    assert page.get_by_text("/api/v1/auth/login").count() > 0
    assert [m for m in console if "Content Security Policy" in m] == []
    assert elsewhere == []
