"""A deprecated hook warns the plugin that implements it, and keeps working meanwhile."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from core import MadoguchiDeprecationWarning, PluginManifest, TenantContext, hookimpl, hookspec
from core.plugins.host import PluginHost


class LegacySpecs:
    """A test plugin's hooks: one deprecated whole, one with a deprecated argument."""

    @staticmethod
    @hookspec(
        warn_on_impl=MadoguchiDeprecationWarning(
            "on_legacy_event is deprecated since 0.3 and removed in 0.4: implement on_event"
        )
    )
    def on_legacy_event(ctx: TenantContext) -> None:
        """The old name of :func:`on_event`; called as long as it is kept."""

    @staticmethod
    @hookspec(
        warn_on_impl_args={
            "kind": MadoguchiDeprecationWarning("on_event's kind is deprecated since 0.3")
        }
    )
    def on_event(ctx: TenantContext, kind: str, label: str) -> None:
        """Something happened; ``kind`` is the old name of ``label``, kept for a version."""


class Legacy:
    @hookimpl
    def register_hookspecs(self) -> list[Any]:
        return [LegacySpecs]


class OldStyle:
    def __init__(self) -> None:
        self.heard: list[str] = []

    @hookimpl
    def on_legacy_event(self, ctx: TenantContext) -> None:
        self.heard.append(ctx.slug)

    @hookimpl
    def on_event(self, ctx: TenantContext, kind: str) -> None:
        self.heard.append(kind)


class NewStyle:
    @hookimpl
    def on_event(self, ctx: TenantContext, label: str) -> None: ...


def manifest(plugin_id: str) -> PluginManifest:
    return PluginManifest(id=plugin_id, name=plugin_id, version="1.0")


async def test_implementing_a_deprecated_hook_warns_at_registration_and_still_works() -> None:
    host = PluginHost()
    host.load_builtins()
    host.register(Legacy(), manifest("legacy"))
    old = OldStyle()
    with pytest.warns(MadoguchiDeprecationWarning) as caught:
        host.register(old, manifest("old-style"))
    messages = sorted(str(w.message) for w in caught)
    assert messages == [
        "on_event's kind is deprecated since 0.3",
        "on_legacy_event is deprecated since 0.3 and removed in 0.4: implement on_event",
    ]
    assert all(w.filename == __file__ for w in caught)  # points at the implementation
    assert issubclass(MadoguchiDeprecationWarning, DeprecationWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        host.register(NewStyle(), manifest("new-style"))  # the current form does not warn
    host.check()
    ctx = TenantContext(id=1, slug="still-called", display_name="x")
    relay = host.relay(ctx, {"legacy", "old-style", "new-style"})
    await relay.notify("on_legacy_event", ctx=ctx)
    await relay.notify("on_event", ctx=ctx, kind="k", label="l")
    assert old.heard == ["still-called", "k"]
