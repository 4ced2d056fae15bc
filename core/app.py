"""Assembles the Litestar app: settings, database, plugin host, routes, the access gate."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from core.audit.checkpointer import Checkpointer
from core.audit.signing import load_signing_key
from core.authz.policy import Authorizer
from core.db.engine import Database
from core.jobs.worker import Worker
from core.logging import configure_logging
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.plugins.routes import (
    plugin_menu_items,
    plugin_portal_sections,
    plugin_routers,
    plugin_ui_dirs,
)
from core.settings import Settings, load_settings
from core.tenancy.routes import TenantAdminController, TenantPluginsController
from core.version import __version__
from core.web.access import enforce_access, route_permission
from core.web.api.approvals import (
    AdminApprovalsController,
    AdminUsersController,
    TenantAccessController,
)
from core.web.api.audit import AccessLogController
from core.web.api.identity import AuthController
from core.web.api.pii import CustomerController
from core.web.api.security import ExportController, SecurityAdminController
from core.web.api.tokens import AdminTokensController, OwnTokensController
from core.web.context import provide_plugin_context
from core.web.deps import dependencies
from core.web.errors import exception_handlers
from core.web.health import healthz, readyz
from core.web.inputs import refuse_unbounded_input
from core.web.middleware import request_context_middleware
from core.web.openapi import StrictSchemaPlugin, components, document_answers
from core.web.openapi_ui import assets_router, render_plugins
from core.web.options import allow_every_method_middleware
from core.web.proxies import trusted_proxy_middleware
from core.web.state import CoreState
from core.web.ui.access_pages import ACCESS_PAGES
from core.web.ui.admin_pages import ADMIN_PAGES
from core.web.ui.auth_pages import AUTH_PAGES
from core.web.ui.headers import security_headers_middleware
from core.web.ui.i18n import add_catalogue_dir
from core.web.ui.portal_access_pages import PORTAL_ACCESS_PAGES
from core.web.ui.portal_pages import PORTAL_PAGES
from core.web.ui.render import jinja_environment
from core.web.ui.workspace_pages import WORKSPACE_PAGES

__all__ = ["SCHEMA_PATH", "build_host", "create_app"]

SCHEMA_PATH = "/schema"
STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"


def build_host(settings: Settings) -> PluginHost:
    host = PluginHost(trace=settings.trace_hooks)
    host.load_builtins()
    host.load_entry_points()
    host.check()
    return host


def _plugin_grants(host: PluginHost) -> dict[str, list[str]]:
    grants: dict[str, list[str]] = {}
    for manifest in host.manifests.values():
        for role, permissions in manifest.role_grants.items():
            grants.setdefault(role, []).extend(permissions)
    return grants


def _check_route_permissions(app: Litestar, schema_path: str) -> None:
    """Refuse to start if any route declares no permission.

    The framework's own routes are declared public here, by name: the automatic OPTIONS
    answers and the OpenAPI document (which lists routes, never data).
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if (
                "permission" not in handler.opt
                and "public" not in handler.opt
                and "authenticated" not in handler.opt
                and (
                    handler.handler_name == "options_handler"
                    or route.path == schema_path
                    or route.path.startswith(schema_path + "/")
                )
            ):
                handler.opt["public"] = True
            route_permission(handler)  # raises for a route that declares nothing


def create_app(
    settings: Settings | None = None,
    *,
    host: PluginHost | None = None,
    run_worker: bool = False,
) -> Litestar:
    """The app. The database must already be migrated (``madoguchi serve`` does that).

    Also the factory for an ASGI server's own workers (``uvicorn --factory
    core.app:create_app --workers N``): logging is set up here unless the CLI did it."""
    settings = settings or load_settings()
    if not structlog.is_configured():
        configure_logging(settings.log_format)
    host = host or build_host(settings)
    signing_key = load_signing_key(settings)  # refuses a key kept in the data directory
    db = Database(settings.database_url)
    core = CoreState(
        settings=settings,
        db=db,
        host=host,
        authorizer=Authorizer(_plugin_grants(host)),
        keyring=KeyRing(settings),
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        worker_task = None
        worker = None
        # what is alive now (modules, routes, models, compiled statements) lives as long as
        # the process: out of the collector's way, so that its full collections do not scan
        # it again and again under load
        gc.collect()
        gc.freeze()
        if run_worker:
            worker = Worker(db, host, keyring=core.keyring)
            worker_task = asyncio.create_task(worker.run())
        checkpointer = Checkpointer(db, signing_key)
        checkpoints = asyncio.create_task(checkpointer.run())
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                await worker_task
            checkpointer.stop()  # after the worker: its last events are signed too
            await checkpoints
            await db.dispose()

    core.menu_items = plugin_menu_items(host)
    core.portal_sections = plugin_portal_sections(host)
    for folder in plugin_ui_dirs(host, "locale"):
        add_catalogue_dir(folder)
    templates = jinja_environment(plugin_ui_dirs(host, "templates"))

    app = Litestar(
        route_handlers=[
            *AUTH_PAGES,
            *ADMIN_PAGES,
            *ACCESS_PAGES,
            *WORKSPACE_PAGES,
            *PORTAL_PAGES,
            *PORTAL_ACCESS_PAGES,
            create_static_files_router(
                path="/static",
                directories=[STATIC_DIR],
                opt={"public": True},
                include_in_schema=False,
            ),
            assets_router(),
            healthz,
            readyz,
            TenantAdminController,
            AuthController,
            OwnTokensController,
            AdminTokensController,
            AdminUsersController,
            AdminApprovalsController,
            TenantAccessController,
            CustomerController,
            ExportController,
            SecurityAdminController,
            AccessLogController,
            TenantPluginsController,
            *plugin_routers(host),
        ],
        dependencies={**dependencies, "plugin": Provide(provide_plugin_context)},
        guards=[enforce_access, refuse_unbounded_input],  # in this order: 401/404 first
        exception_handlers=exception_handlers,
        middleware=[
            *trusted_proxy_middleware(settings),
            request_context_middleware,
            security_headers_middleware,
            allow_every_method_middleware,
        ],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(templates)),
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Madoguchi API",
            version=__version__,
            path=SCHEMA_PATH,
            render_plugins=render_plugins(),
            components=components(),
        ),
        plugins=[StrictSchemaPlugin()],
        request_max_body_size=1024 * 1024,
        logging_config=None,
        debug=False,
    )
    app.state.core = core
    _check_route_permissions(app, SCHEMA_PATH)
    document_answers(app)
    return app
