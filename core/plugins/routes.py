"""Mounting plugin routes once at startup, each marked with the plugin that owns it."""

from __future__ import annotations

from litestar import Router

from core.plugins.host import PluginHost

__all__ = ["plugin_routers"]


def plugin_routers(host: PluginHost) -> list[Router]:
    """One router per plugin; its ``opt["plugin"]`` lets the access gate answer 404 for a
    tenant that has not enabled the plugin, without remounting anything."""
    routers = []
    for plugin_id, handlers in sorted(host.collect_by_plugin("register_routes").items()):
        if handlers:
            routers.append(Router(path="/", route_handlers=handlers, opt={"plugin": plugin_id}))
    return routers
