"""Every hook is documented under its exact signature, and every spec says what it returns:
the core's in ``docs/plugin_hooks.md``, a plugin's own (``register_hookspecs``) in the README
next to the module that declares them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.plugins.host import PluginHost
from core.plugins.signatures import hook_signature, hookspec_functions

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugin_hooks.md"


def _hook_headings(path: Path) -> set[str]:
    """Headings (any level) that name a hook: ``## `name(...) -> T` ``."""
    headings = (
        line.lstrip("#").strip().strip("`")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    )
    return {h for h in headings if "(" in h and "->" in h}


def _check_documented(path: Path, specs: dict[str, Callable[..., Any]]) -> None:
    headings = _hook_headings(path)
    signatures = {hook_signature(fn) for fn in specs.values()}
    missing = sorted(signatures - headings)
    assert not missing, f"undocumented (or changed) hooks in {path.name}: {missing}"
    stale = headings - signatures
    assert not stale, f"documented hooks that {path.name}'s owner does not declare: {stale}"


def _plugin_hookspecs() -> dict[Path, dict[str, Callable[..., Any]]]:
    """For each README, the hookspecs the modules next to it declare (built-in plugins)."""
    host = PluginHost()
    host.load_builtins()
    host.check()
    found: dict[Path, dict[str, Callable[..., Any]]] = {}
    for namespaces in host.declared.values():
        for namespace in namespaces:
            readme = Path(inspect.getfile(namespace)).parent / "README.md"
            found.setdefault(readme, {}).update(hookspec_functions(namespace))
    return found


def test_every_core_hook_has_a_section_headed_by_its_signature() -> None:
    specs = hookspec_functions()
    assert len(specs) >= 7
    _check_documented(DOCS, specs)


def test_every_hook_a_plugin_declares_is_documented_in_its_readme() -> None:
    declared = _plugin_hookspecs()
    intake = {name for specs in declared.values() for name in specs}
    assert {"resolve_queue", "on_inquiry_created", "on_call_logged"} <= intake
    for readme, specs in declared.items():
        _check_documented(readme, specs)


def test_every_hookspec_has_a_docstring() -> None:
    every = dict(hookspec_functions())
    for specs in _plugin_hookspecs().values():
        every.update(specs)
    for name, fn in every.items():
        assert fn.__doc__ and len(fn.__doc__.split()) > 10, name
