"""The plugin host: one pluggy manager per app, and a cached relay per tenant.

A tenant's relay is the same manager with a smaller active set (``subset_hook_caller``, as
pytest narrows hooks per directory): a plugin the tenant has not enabled never sees that
tenant's events. Relays are cached per (tenant, configuration version) and dropped whenever a
plugin registers or a tenant's enabling changes.

Plugins may declare hooks of their own (``register_hookspecs``): the host adds them as the
plugin registers, so that every plugin registered after it is checked against them, and
:meth:`PluginHost.check` refuses, at start-up, implementations of hooks nobody declares unless
they are marked ``optionalhook=True`` (meant for another plugin that may be absent).

``on_*`` notifications go through :meth:`TenantRelay.notify`: each implementation is called on
its own in pluggy's order, awaited when it is a coroutine, and one that raises is logged (hook,
plugin, exception type) without keeping the others from hearing.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pluggy
import structlog

from core.plugins import hookspecs
from core.plugins.api import PermissionSpec, PluginManifest
from core.plugins.builtin import BUILTIN_PLUGINS
from core.plugins.markers import PROJECT
from core.plugins.signatures import hookspec_functions
from core.tenant_context import TenantContext
from core.version import __version__

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "PluginHost", "TenantRelay"]

ENTRY_POINT_GROUP = "madoguchi.plugins"
log = structlog.get_logger("madoguchi.plugins")


class PluginError(RuntimeError):
    """A plugin could not be registered (bad manifest, duplicate id, core too old)."""


_Trace = Callable[[str, Sequence[pluggy.HookImpl], Mapping[str, Any]], None]


class TenantRelay:
    """Hook callers limited to one tenant's enabled plugins: ``relay.resolve_queue(...)``
    calls as pluggy does; ``await relay.notify("on_tenant_onboarded", ctx=ctx)`` sends a
    notification."""

    def __init__(
        self, pm: pluggy.PluginManager, enabled: frozenset[str], trace: _Trace | None = None
    ) -> None:
        self.enabled = enabled
        self._remove = [p for name, p in pm.list_name_plugin() if name not in enabled]
        self._pm = pm
        self._callers: dict[str, Any] = {}
        self._trace = trace

    async def notify(self, hook: str, **kwargs: Any) -> None:
        """Call every enabled plugin's implementation of the ``on_*`` hook ``hook``, in
        pluggy's order (``tryfirst`` ones first, then the last registered first, ``trylast``
        ones last), one at a time; await those that are coroutine functions. One that raises
        is logged as ``hook_failed`` (hook, plugin id, exception type: never the message,
        which may quote personal data) and the next one is called. A hook no registered plugin
        declares (the intake plugin's, without intake) reaches nobody."""
        if not hasattr(self._pm.hook, hook):
            return
        caller = getattr(self, hook)
        if caller.spec is not None:
            missing = set(caller.spec.argnames) - kwargs.keys()
            if missing:
                raise TypeError(f"{hook} needs {sorted(missing)}")
        impls = list(reversed(caller.get_hookimpls()))  # the order pluggy calls them in
        if self._trace is not None:
            self._trace(hook, impls, kwargs)
        for impl in impls:
            try:
                result = impl.function(*(kwargs[name] for name in impl.argnames))
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.error(
                    "hook_failed",
                    hook=hook,
                    plugin=impl.plugin_name,
                    error=type(exc).__name__,
                )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        caller = self._callers.get(name)
        if caller is None:
            caller = self._pm.subset_hook_caller(name, self._remove)
            self._callers[name] = caller
        return caller


class PluginHost:
    def __init__(self, *, trace: bool = False) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.manifests: dict[str, PluginManifest] = {}
        # the hookspec namespaces each plugin declared (register_hookspecs), and who declared
        # each hook name ("core" for the core's own)
        self.declared: dict[str, list[ModuleType | type]] = {}
        self._hook_owner = dict.fromkeys(hookspec_functions(hookspecs), "core")
        self._relays: dict[tuple[int, frozenset[str]], TenantRelay] = {}
        self._trace: _Trace | None = self._trace_before if trace else None
        if trace:
            self.pm.add_hookcall_monitoring(self._trace_before, self._trace_after)

    # -- registration ------------------------------------------------------------------

    def register(self, plugin: ModuleType | object, manifest: PluginManifest) -> None:
        if manifest.id in self.manifests:
            raise PluginError(f"plugin id {manifest.id!r} is registered twice")
        if not manifest.supports_core(__version__):
            raise PluginError(
                f"plugin {manifest.id} needs core {manifest.requires_core}, this is {__version__}"
            )
        self.pm.register(plugin, name=manifest.id)
        try:
            self._add_hookspecs(manifest.id)
        except Exception:
            self.pm.unregister(name=manifest.id)
            raise
        self.manifests[manifest.id] = manifest
        self.invalidate()

    def _add_hookspecs(self, plugin_id: str) -> None:
        """Add the hookspecs the plugin just registered declares (``register_hookspecs``)."""
        namespaces: list[ModuleType | type] = []
        for impl in self.pm.hook.register_hookspecs.get_hookimpls():
            if impl.plugin_name == plugin_id:
                namespaces.extend(cast("list[ModuleType | type]", impl.function() or []))
        for namespace in namespaces:
            for name in hookspec_functions(namespace):
                owner = self._hook_owner.get(name)
                if owner is not None:
                    raise PluginError(
                        f"plugin {plugin_id} declares hook {name}, which {owner} declares"
                    )
            self.pm.add_hookspecs(namespace)
            self._hook_owner.update(dict.fromkeys(hookspec_functions(namespace), plugin_id))
        if namespaces:
            self.declared[plugin_id] = namespaces

    def register_package(self, package: ModuleType) -> None:
        """Register a plugin package: ``MANIFEST`` in it, hook implementations in ``.hooks``."""
        manifest = getattr(package, "MANIFEST", None)
        if not isinstance(manifest, PluginManifest):
            raise PluginError(f"{package.__name__} has no MANIFEST of type PluginManifest")
        try:
            hooks: ModuleType = importlib.import_module(f"{package.__name__}.hooks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package.__name__}.hooks":
                raise
            hooks = package
        self.register(hooks, manifest)

    def load_builtins(self, names: Iterable[str] = BUILTIN_PLUGINS) -> None:
        for name in names:
            self.register_package(importlib.import_module(name))

    def load_entry_points(self) -> list[str]:
        """Register every plugin installed under the ``madoguchi.plugins`` entry-point group."""
        loaded = []
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            target = entry.load()
            if not isinstance(target, ModuleType):
                raise PluginError(f"entry point {entry.name} must name a plugin package")
            self.register_package(target)
            loaded.append(entry.name)
        return loaded

    def check(self) -> None:
        """Fail on implementations of hooks that no registered plugin declares (misspelt
        names, or another plugin's hooks while it is absent) unless marked
        ``optionalhook=True``, and on ``on_*`` implementations that are wrappers (each
        notification is called on its own: there is nothing to wrap)."""
        self.pm.check_pending()
        for name, caller in vars(self.pm.hook).items():
            if not name.startswith("on_"):
                continue
            for impl in caller.get_hookimpls():
                if impl.wrapper or impl.hookwrapper:
                    raise PluginError(f"plugin {impl.plugin_name}: {name} cannot be a wrapper")

    # -- queries -----------------------------------------------------------------------

    def manifest(self, plugin_id: str) -> PluginManifest:
        try:
            return self.manifests[plugin_id]
        except KeyError:
            raise PluginError(f"unknown plugin {plugin_id!r}") from None

    def collect(self, hook: str) -> list[Any]:
        """Concatenate the lists every plugin returns from a ``register_*`` hook."""
        results: list[Any] = []
        for impl_result in getattr(self.pm.hook, hook)():
            results.extend(impl_result or [])
        return results

    def collect_by_plugin(self, hook: str) -> dict[str, list[Any]]:
        """Like :meth:`collect`, keyed by the id of the plugin that returned each list."""
        caller = getattr(self.pm.hook, hook)
        found: dict[str, list[Any]] = {}
        for impl in caller.get_hookimpls():
            found.setdefault(impl.plugin_name, []).extend(impl.function() or [])
        return found

    def migration_dirs(self) -> dict[str, Path]:
        """The plugins that ship their own migrations: id -> the folder of its revisions."""
        return {m.id: m.migrations for m in self.manifests.values() if m.migrations is not None}

    def permissions(self) -> list[PermissionSpec]:
        specs = list(self.collect("register_permissions"))
        for manifest in self.manifests.values():
            specs.extend(manifest.permissions)
        unique: dict[str, PermissionSpec] = {}
        for spec in specs:
            unique.setdefault(spec.name, spec)
        return sorted(unique.values(), key=lambda s: s.name)

    # -- one plugin's own hooks -----------------------------------------------------------

    async def check_settings(
        self, ctx: TenantContext, session: Any, plugin_id: str, enabled: bool, settings: Any
    ) -> None:
        """Ask ``plugin_id`` alone to check and record its settings for the tenant
        (``check_plugin_settings``) in the caller's transaction; a ``SettingsError`` it
        raises passes through to the caller."""
        others = [p for name, p in self.pm.list_name_plugin() if name != plugin_id]
        caller = self.pm.subset_hook_caller("check_plugin_settings", others)
        for result in caller(ctx=ctx, session=session, enabled=enabled, settings=settings):
            if inspect.isawaitable(result):
                await result

    # -- per-tenant relay --------------------------------------------------------------

    def relay(self, ctx: TenantContext, enabled: Iterable[str]) -> TenantRelay:
        key = (ctx.id, frozenset(p for p in enabled if p in self.manifests))
        relay = self._relays.get(key)
        if relay is None:
            for stale in [k for k in self._relays if k[0] == ctx.id]:
                del self._relays[stale]
            relay = TenantRelay(self.pm, key[1], self._trace)
            self._relays[key] = relay
        return relay

    def invalidate(self, tenant_id: int | None = None) -> None:
        if tenant_id is None:
            self._relays.clear()
        else:
            for key in [k for k in self._relays if k[0] == tenant_id]:
                del self._relays[key]

    # -- tracing (MADOGUCHI_TRACE_HOOKS=1) -------------------------------------------------

    @staticmethod
    def _trace_before(
        hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        ctx = kwargs.get("ctx")
        log.info(
            "hook_called",
            hook=hook_name,
            plugins=[impl.plugin_name for impl in impls],
            tenant=ctx.slug if isinstance(ctx, TenantContext) else None,
            arguments=sorted(kwargs),  # names only: values may hold personal data
        )

    @staticmethod
    def _trace_after(
        outcome: pluggy.Result[Any],
        hook_name: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        exc = outcome.exception
        if exc is not None:
            log.warning("hook_failed", hook=hook_name, error=type(exc).__name__)
