"""The API documentation (/schema) is served from the package, under the app's CSP."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.web.ui.headers import CSP


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_the_schema_page_loads_nothing_from_elsewhere_and_carries_the_csp(
    app: Any, path: str
) -> None:
    page = await app.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "<script>" not in page.text and "<style" not in page.text  # the CSP allows neither
    urls = re.findall(r'(?:src|href|data-spec-url)="([^"]+)"', page.text)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert not re.search(r"https?://", page.text)
    for url in urls:
        asset = await app.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-security-policy"] == CSP
