"""A plugin declares hooks of its own (``register_hookspecs``); intake's exist only with intake."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pluggy import PluginValidationError

from core import PluginManifest, TenantContext, hookimpl, hookspec
from core.app import create_app
from core.db.engine import Database
from core.plugins import hookspecs as core_hookspecs
from core.plugins.builtin import BUILTIN_PLUGINS
from core.plugins.host import PluginError, PluginHost
from core.settings import Settings
from tests.conftest import make_tenant

INTAKE_HOOKS = (
    "resolve_queue",
    "on_inquiry_created",
    "on_inquiry_updated",
    "on_inquiry_resolved",
    "on_call_logged",
)
WITHOUT_INTAKE = tuple(name for name in BUILTIN_PLUGINS if name != "plugins.intake")


def manifest(plugin_id: str) -> PluginManifest:
    return PluginManifest(id=plugin_id, name=plugin_id, version="1.0")


class MustHaveIntake:
    @hookimpl
    def on_inquiry_created(self, ctx: TenantContext, inquiry_uid: str) -> None: ...


class IntakeOptional:
    def __init__(self) -> None:
        self.heard: list[str] = []

    @hookimpl(optionalhook=True)
    async def on_inquiry_created(self, ctx: TenantContext, inquiry_uid: str) -> None:
        self.heard.append(inquiry_uid)


class WrongArguments:
    @hookimpl(optionalhook=True)
    def on_inquiry_created(self, ctx: TenantContext, inquiry_id: int) -> None: ...


def test_intakes_hooks_are_declared_by_intake_and_absent_without_it() -> None:
    assert not [name for name in INTAKE_HOOKS if hasattr(core_hookspecs, name)]
    host = PluginHost()
    host.load_builtins()
    host.check()
    declared = {name for ns in host.declared["intake"] for name in dir(ns)}
    assert set(INTAKE_HOOKS) <= declared
    without = PluginHost()
    without.load_builtins(WITHOUT_INTAKE)
    without.check()
    assert not [name for name in INTAKE_HOOKS if hasattr(without.pm.hook, name)]


def test_without_intake_only_an_optional_implementation_of_its_hook_passes_the_check() -> None:
    strict = PluginHost()
    strict.load_builtins(WITHOUT_INTAKE)
    strict.register(MustHaveIntake(), manifest("needs-intake"))
    with pytest.raises(PluginValidationError, match="on_inquiry_created"):
        strict.check()
    lenient = PluginHost()
    lenient.load_builtins(WITHOUT_INTAKE)
    lenient.register(IntakeOptional(), manifest("likes-intake"))
    lenient.check()
    # the same plugins with intake: both pass, and a wrong signature is caught even if optional
    with_intake = PluginHost()
    with_intake.load_builtins()
    with_intake.register(MustHaveIntake(), manifest("needs-intake"))
    with_intake.register(IntakeOptional(), manifest("likes-intake"))
    with_intake.check()
    with pytest.raises(PluginValidationError, match="inquiry_id"):
        with_intake.register(WrongArguments(), manifest("wrong"))


async def test_an_app_without_intake_starts_and_onboards_a_tenant_with_the_optional_plugin(
    settings: Settings, db: Database
) -> None:
    host = PluginHost()
    host.load_builtins(WITHOUT_INTAKE)
    listener = IntakeOptional()
    host.register(listener, manifest("likes-intake"))
    host.check()
    await make_tenant(db, host, "no-intake", {"likes-intake": {}, "voc": {}})
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        assert (await client.get("/healthz")).status_code == 200
    assert listener.heard == []


class SurveySpecs:
    """A test plugin's own hooks."""

    @staticmethod
    @hookspec
    def on_survey_answered(ctx: TenantContext, score: int) -> None:
        """A customer answered the survey; ``score`` is 1-5. Sent after commit."""


class Survey:
    @hookimpl
    def register_hookspecs(self) -> list[Any]:
        return [SurveySpecs]


class SurveyListener:
    def __init__(self) -> None:
        self.scores: list[int] = []

    @hookimpl
    async def on_survey_answered(self, ctx: TenantContext, score: int) -> None:
        self.scores.append(score)


class SurveyMisread:
    @hookimpl
    def on_survey_answered(self, ctx: TenantContext, rating: int) -> None: ...


async def test_a_plugins_own_hooks_are_checked_and_called_whatever_the_registration_order() -> None:
    host = PluginHost()
    host.load_builtins()
    listener = SurveyListener()
    host.register(listener, manifest("listener"))  # before the hook is declared
    with pytest.raises(PluginValidationError):
        host.check()
    host.register(Survey(), manifest("survey"))
    host.check()
    with pytest.raises(PluginValidationError, match="rating"):
        host.register(SurveyMisread(), manifest("misread"))
    ctx = TenantContext(id=3, slug="s", display_name="s")
    await host.relay(ctx, {"survey", "listener"}).notify("on_survey_answered", ctx=ctx, score=4)
    assert listener.scores == [4]
    await host.relay(ctx, {"survey"}).notify("on_survey_answered", ctx=ctx, score=5)
    assert listener.scores == [4]  # not enabled for the tenant: not told


def test_a_hook_declared_twice_is_refused_and_the_plugin_not_registered() -> None:
    class Again:
        @staticmethod
        @hookspec
        def on_inquiry_created(ctx: TenantContext, inquiry_uid: str) -> None:
            """Declared a second time, by a plugin that is not intake: refused at start-up."""

    class Claimant:
        @hookimpl
        def register_hookspecs(self) -> list[Any]:
            return [Again]

    host = PluginHost()
    host.load_builtins()
    with pytest.raises(PluginError, match=r"on_inquiry_created.*intake"):
        host.register(Claimant(), manifest("claimant"))
    assert "claimant" not in host.manifests
    assert host.pm.get_plugin("claimant") is None
    host.check()
