"""Registration rules of the plugin host."""

from __future__ import annotations

import pytest
from pluggy import PluginValidationError

from core import PluginManifest, Setting, SettingsError, hookimpl
from core.plugins.host import PluginError, PluginHost


def test_builtin_plugins_register_and_pass_check_pending() -> None:
    host = PluginHost()
    host.load_builtins()
    host.check()
    assert set(host.manifests) == {"intake", "hotline", "knowledge", "voc"}


def test_misspelt_hook_is_caught_by_check() -> None:
    class Typo:
        @hookimpl
        def on_tenant_onbaorded(self, ctx: object) -> None: ...

    host = PluginHost()
    host.register(Typo(), PluginManifest(id="typo", name="Typo", version="1.0"))
    with pytest.raises(PluginValidationError):
        host.check()


def test_duplicate_id_and_too_new_core_requirement_are_refused() -> None:
    host = PluginHost()
    host.register(object(), PluginManifest(id="one", name="One", version="1.0"))
    with pytest.raises(PluginError, match="twice"):
        host.register(object(), PluginManifest(id="one", name="One again", version="1.0"))
    with pytest.raises(PluginError, match="needs core"):
        host.register(
            object(), PluginManifest(id="future", name="F", version="1.0", requires_core=">=99")
        )


def test_settings_are_validated_with_defaults_filled_in() -> None:
    manifest = PluginManifest(
        id="s",
        name="S",
        version="1.0",
        settings={
            "limit": Setting("int", default=5),
            "mode": Setting("str", default="a", choices=("a", "b")),
            "inbox": Setting("str", required=True),
        },
    )
    assert manifest.validate_settings({"inbox": "x"}) == {"limit": 5, "mode": "a", "inbox": "x"}
    for bad, field in (
        ({"inbox": "x", "limit": "5"}, "limit"),
        ({"inbox": "x", "mode": "c"}, "mode"),
        ({}, "inbox"),
        ({"inbox": "x", "other": 1}, "other"),
        ({"inbox": "x", "limit": True}, "limit"),
    ):
        with pytest.raises(SettingsError) as info:
            manifest.validate_settings(bad)
        assert info.value.field == field
