"""Every hook is documented under its exact signature, and every spec says what it returns."""

from __future__ import annotations

from pathlib import Path

from core.plugins.signatures import hook_signature, hookspec_functions

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugin_hooks.md"


def test_every_hook_has_a_section_headed_by_its_signature() -> None:
    headings = {
        line[3:].strip().strip("`")
        for line in DOCS.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    specs = hookspec_functions()
    assert len(specs) >= 7
    missing = [hook_signature(fn) for fn in specs.values() if hook_signature(fn) not in headings]
    assert not missing, f"undocumented (or changed) hooks: {missing}"
    stale = {h for h in headings if "(" in h} - {hook_signature(fn) for fn in specs.values()}
    assert not stale, f"documented hooks that no longer exist: {stale}"


def test_every_hookspec_has_a_docstring() -> None:
    for name, fn in hookspec_functions().items():
        assert fn.__doc__ and len(fn.__doc__.split()) > 10, name
