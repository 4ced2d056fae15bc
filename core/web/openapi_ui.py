"""The API's documentation pages (``/schema``): Swagger UI served from the package, not a CDN.

Litestar's own pages load their scripts from CDNs and start them with inline scripts, which
the app's CSP forbids (and which would let a CDN run code on the API's origin). This page
loads the Swagger UI files that the ``swagger-ui-py`` package ships, from ``/static/``, and
starts them from a static file of our own, so it carries the same CSP as every other page.
"""

from __future__ import annotations

from html import escape
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router

__all__ = ["ASSETS_PATH", "SwaggerPage", "assets_router", "render_plugins"]

ASSETS_PATH = "/static/swagger-ui"


def _assets_dir() -> Path:
    """The package's folder of Swagger UI files, found without importing the package (its
    own code, integrations for other frameworks, is not used)."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class SwaggerPage(OpenAPIRenderPlugin):
    """Swagger UI from local files, with no inline script or style."""

    def __init__(self, path: str | list[str] = "/swagger") -> None:
        super().__init__(path=path, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        spec_url = escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec_url}"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="/static/openapi.js"></script>
</body>
</html>
""".encode()


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """``/schema`` (and ``/schema/swagger``) is the page; ``/schema/openapi.json`` the document."""
    return [SwaggerPage(path=["/", "/swagger"]), JsonRenderPlugin()]


def assets_router() -> Router:
    return create_static_files_router(
        path=ASSETS_PATH, directories=[_assets_dir()], opt={"public": True}, include_in_schema=False
    )
