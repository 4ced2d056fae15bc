# mypy: disable-error-code="empty-body"
"""Every hook a plugin can implement.

Families, as datasette and pytest group them:

* ``register_*`` are called once at startup with no tenant; each implementation returns a list
  and the host concatenates them.
* ``on_*`` are notifications for one tenant, sent after commit; return values are ignored;
  an implementation may be a coroutine function. They reach only the plugins that tenant
  enabled (through the per-tenant relay), each on its own: one plugin's failure is logged
  and does not keep the others from hearing (:meth:`~core.plugins.host.TenantRelay.notify`).
* ``resolve_*`` are ``firstresult``: the first non-None answer wins.
* ``check_*`` run inside a write transaction, on the one plugin concerned, and may refuse it.

A plugin may declare hooks of its own (:func:`register_hookspecs`, as pytest's
``pytest_addhooks``): the intake plugin declares ``resolve_queue`` and the inquiry
notifications in ``plugins/intake/hookspecs.py``.

Every tenant-scoped hook takes the :class:`~core.tenancy.context.TenantContext` first.
``docs/plugin_hooks.md`` has one section per hook headed by its exact signature;
``tests/core/plugins/test_hook_docs.py`` fails when one is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.plugins.markers import hookspec

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from types import ModuleType

    import click
    from litestar.types import ControllerRouterHandler
    from sqlmodel.ext.asyncio.session import AsyncSession

    from core.jobs.registry import JobHandler, TenantServices
    from core.plugins.api import MenuItem, PermissionSpec, PortalSection
    from core.tenant_context import TenantContext


# ---------------------------------------------------------------------------------------
# register_*: startup, no tenant, lists collected from every registered plugin
# ---------------------------------------------------------------------------------------


@hookspec
def register_hookspecs() -> list[ModuleType | type]:
    """Return the modules (or classes) holding the hookspecs this plugin declares, for other
    plugins to implement.

    Called on the plugin alone, as it registers, before any plugin registered after it is
    checked against those specs (pytest's ``pytest_addhooks``). A hook name declared twice
    (by the core or another plugin) stops the start-up. Implemented by plugins that send
    notifications or ask questions of their own, such as the intake plugin's
    ``on_inquiry_created`` and ``resolve_queue``.
    """


@hookspec
def register_routes() -> list[ControllerRouterHandler]:
    """Return Litestar route handlers (functions, controllers or routers) this plugin serves.

    Called once at startup. Handlers are mounted as given, so tenant-scoped routes put
    ``{tenant:str}`` in their path under ``/t/`` or ``/api/v1/t/``. Each handler must declare
    ``opt={"permission": "object:action"}`` (or ``opt={"public": True}``): the app refuses to
    start otherwise. The host marks them with the plugin's id, and a tenant that has not
    enabled the plugin gets 404 from them. Implemented by plugins that serve HTTP.
    """


@hookspec
def register_permissions() -> list[PermissionSpec]:
    """Return the permissions (``object:action``) this plugin adds, with descriptions.

    Called once at startup. Role templates in tenant manifests may grant only permissions
    that some plugin or the core registered. Implemented by plugins that add routes or data.
    """


@hookspec
def register_pages() -> list[ControllerRouterHandler]:
    """Return Litestar handlers that render HTML pages (``core.page(...)``) under
    ``/t/{tenant:str}/...``.

    Called once at startup and mounted like :func:`register_routes`: the same permission
    declaration is required, and a tenant that has not enabled the plugin gets 404. Templates
    live in the plugin's ``templates/<plugin id>/`` folder. Implemented by plugins with a UI.
    """


@hookspec
def register_menu_items() -> list[MenuItem]:
    """Return entries for the tenant menu of the operator workspace.

    Called once at startup; an entry is shown only in tenants that enabled the plugin and to
    users holding its permission. Implemented by plugins that register pages.
    """


@hookspec
def register_portal_sections() -> list[PortalSection]:
    """Return sections for the client portal's home page (``/t/{tenant}/portal``).

    Called once at startup; a section is shown only in tenants that enabled the plugin and to
    users holding its permission; its ``load`` runs with a session bound to the tenant.
    Implemented by plugins with something to report to the client.
    """


@hookspec
def register_jobs() -> list[JobHandler]:
    """Return the background job kinds this plugin handles.

    Called once at startup. Each :class:`~core.jobs.registry.JobHandler` names a kind unique
    across all plugins (prefix it with the plugin id) and an async function called as
    ``handler(ctx, payload)`` with the job's tenant context. Implemented by plugins that do
    slow or retried work (OCR, outbound mail, report rendering).
    """


@hookspec
def register_cli_commands() -> list[click.Command]:
    """Return click commands to add under ``madoguchi``.

    Called once when the CLI starts. Name commands after the plugin (``madoguchi intake ...``)
    so that two plugins cannot clash. Implemented by plugins with operator tooling.
    """


# ---------------------------------------------------------------------------------------
# on_*: notifications for one tenant, only to the plugins that tenant enabled; sent with
# TenantRelay.notify after commit, each implementation on its own (a failure is logged).
# ``services`` (core.TenantServices: a session bound to the tenant, personal data, settings,
# jobs) may be left out of an implementation's arguments, as any hook argument may.
# ---------------------------------------------------------------------------------------


@hookspec
def on_tenant_onboarded(ctx: TenantContext, services: TenantServices) -> Awaitable[None] | None:
    """Called after a tenant is created (from a manifest, the API or the console).

    Runs after the creating transaction committed, once per new tenant, for the plugins the
    new tenant enabled. May be a coroutine function (awaited); the return value is ignored.
    Implement it to create per-tenant defaults (queues, templates): ``services`` (a
    :class:`core.TenantServices`) gives a session bound to the new tenant and jobs.
    """


@hookspec
def on_plugin_enabled(
    ctx: TenantContext, plugin_id: str, settings: dict[str, Any], services: TenantServices
) -> Awaitable[None] | None:
    """Called after a plugin is enabled for a tenant, or its settings change while enabled.

    Sent to every plugin the tenant has enabled (including the one just enabled), after the
    change committed; ``settings`` are the validated settings with defaults filled in,
    ``services`` the tenant's :class:`core.TenantServices`. May be a coroutine function
    (awaited); the return value is ignored.
    """


# ---------------------------------------------------------------------------------------
# check_*: inside the write transaction, on the one plugin concerned; may refuse the write
# ---------------------------------------------------------------------------------------


@hookspec
def check_plugin_settings(
    ctx: TenantContext, session: AsyncSession, enabled: bool, settings: dict[str, Any]
) -> Awaitable[None] | None:
    """Check, and record, this plugin's settings for a tenant inside the transaction that
    saves them.

    Called only on the plugin whose settings they are, each time a tenant's manifest is
    applied (``madoguchi tenant apply``, the admin API, the console), after the settings
    passed the manifest's schema; ``settings`` are those validated settings with defaults,
    ``enabled`` whether the tenant has the plugin enabled after this save, ``session`` the
    saving transaction, bound to the tenant. Raise :class:`~core.plugins.api.SettingsError`
    to refuse: nothing of the save is stored, and the caller gets a manifest error naming
    ``plugins.<id>.settings.<field>``. Write here the rows the settings imply (a unique row
    makes a claim across tenants race-free: of two tenants saving at once, one wins). May be
    a coroutine function; the return value is otherwise ignored. Implemented by plugins whose
    settings must be checked against data, such as an address no other tenant may hold.
    """
