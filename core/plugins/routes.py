"""Mounting plugin routes and pages once at startup, each marked with the plugin that owns it;
collecting their menu items and portal sections."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

from litestar import Router

from core.plugins.api import MenuItem, PortalSection
from core.plugins.host import PluginHost

__all__ = ["plugin_menu_items", "plugin_portal_sections", "plugin_routers", "plugin_ui_dirs"]


def plugin_routers(host: PluginHost) -> list[Router]:
    """One router per plugin (API routes and pages); its ``opt["plugin"]`` lets the access
    gate answer 404 for a tenant that has not enabled the plugin, without remounting."""
    handlers: dict[str, list[object]] = {}
    for hook in ("register_routes", "register_pages"):
        for plugin_id, found in host.collect_by_plugin(hook).items():
            handlers.setdefault(plugin_id, []).extend(found)
    return [
        Router(path="/", route_handlers=found, opt={"plugin": plugin_id})  # type: ignore[arg-type]
        for plugin_id, found in sorted(handlers.items())
        if found
    ]


def plugin_menu_items(host: PluginHost) -> list[MenuItem]:
    return [
        dataclasses.replace(item, plugin_id=plugin_id)
        for plugin_id, items in sorted(host.collect_by_plugin("register_menu_items").items())
        for item in items
    ]


def plugin_portal_sections(host: PluginHost) -> list[PortalSection]:
    return [
        dataclasses.replace(section, plugin_id=plugin_id)
        for plugin_id, sections in sorted(
            host.collect_by_plugin("register_portal_sections").items()
        )
        for section in sections
    ]


def plugin_ui_dirs(host: PluginHost, folder: str) -> list[Path]:
    """Each registered plugin package's ``templates`` (or ``locale``) folder, if it has one."""
    found = []
    for plugin in host.pm.get_plugins():
        module_name = getattr(plugin, "__name__", type(plugin).__module__)
        package = module_name.rsplit(".", 1)[0] if module_name.endswith(".hooks") else module_name
        try:
            module = importlib.import_module(package)
        except ImportError:
            continue
        if getattr(module, "__file__", None):
            candidate = Path(module.__file__).parent / folder  # type: ignore[arg-type]
            if candidate.is_dir():
                found.append(candidate)
    return found
