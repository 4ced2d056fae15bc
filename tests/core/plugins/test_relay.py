"""A plugin a tenant has not enabled never hears of that tenant."""

from __future__ import annotations

from typing import Any

from core import PluginManifest, TenantContext, hookimpl
from core.db.engine import Database
from core.plugins.host import PluginHost
from tests.conftest import make_tenant


class Recorder:
    """A plugin that writes down every notification it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    @hookimpl
    def on_tenant_onboarded(self, ctx: TenantContext) -> None:
        self.calls.append(("onboarded", ctx.slug, None))

    @hookimpl
    def on_plugin_enabled(
        self, ctx: TenantContext, plugin_id: str, settings: dict[str, Any]
    ) -> None:
        self.calls.append(("enabled", ctx.slug, plugin_id))


def recording_host() -> tuple[PluginHost, Recorder]:
    host = PluginHost()
    host.load_builtins()
    recorder = Recorder()
    host.register(recorder, PluginManifest(id="recorder", name="Recorder", version="1.0"))
    host.check()
    return host, recorder


async def test_disabled_plugin_receives_none_of_the_tenants_hook_calls(db: Database) -> None:
    host, recorder = recording_host()
    await make_tenant(db, host, "with-recorder", {"recorder": {"enabled": True}, "voc": {}})
    await make_tenant(db, host, "without-recorder", {"voc": {"enabled": True}})
    await make_tenant(db, host, "recorder-off", {"recorder": {"enabled": False}})
    assert ("onboarded", "with-recorder", None) in recorder.calls
    assert ("enabled", "with-recorder", "voc") in recorder.calls
    assert {slug for _, slug, _ in recorder.calls} == {"with-recorder"}


async def test_enabling_later_reaches_the_plugin_from_then_on(db: Database) -> None:
    host, recorder = recording_host()
    ctx = await make_tenant(db, host, "late", {"voc": {"enabled": True}})
    assert recorder.calls == []
    relay_before = host.relay(ctx, {"voc"})
    await make_tenant(db, host, "late", {"voc": {"enabled": True}, "recorder": {"enabled": True}})
    assert recorder.calls == [("enabled", "late", "recorder")]
    await relay_before.notify(
        "on_tenant_onboarded", ctx=ctx, services=None
    )  # built before: stays narrow
    assert recorder.calls == [("enabled", "late", "recorder")]


def test_relay_is_cached_per_enabled_set_and_dropped_on_register() -> None:
    host, _ = recording_host()
    ctx = TenantContext(id=7, slug="x", display_name="x")
    first = host.relay(ctx, {"voc"})
    assert host.relay(ctx, {"voc"}) is first
    assert host.relay(ctx, {"voc", "recorder"}) is not first
    again = host.relay(ctx, {"voc"})
    host.register(Recorder(), PluginManifest(id="second", name="Second", version="1.0"))
    assert host.relay(ctx, {"voc"}) is not again
