"""The plugin API is small, documented and typed, and the built-in plugins keep to it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"


def _documented() -> list[str]:
    return re.findall(r"^### `([^`]+)`$", API_DOC.read_text(encoding="utf-8"), re.M)


def test_every_public_name_is_documented_and_every_section_is_public() -> None:
    documented = _documented()
    assert len(documented) == len(set(documented)), "a name has two sections in docs/api.md"
    missing = sorted(set(core.__all__) - set(documented))
    assert not missing, f"public names without a section in docs/api.md: {missing}"
    stale = sorted(set(documented) - set(core.__all__))
    assert not stale, f"docs/api.md documents names core no longer exports: {stale}"


def test_the_engine_objects_are_not_public() -> None:
    for engine in ("Database", "KeyRing", "PluginHost", "CliRuntime", "enabled_plugins"):
        assert engine not in core.__all__ and not hasattr(core, engine), engine


def test_the_package_says_it_is_typed() -> None:
    assert (ROOT / "core" / "py.typed").is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["core"]


def test_built_in_plugins_reach_no_engine_object_through_the_request() -> None:
    """Besides importing only ``core``'s names (import-linter), a plugin must not take the
    engine's objects from the app's state: the plugin context and its siblings give what a
    plugin needs."""
    found = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bapp\.state\b|\bstate\.(core|tenant|principal|access_claim)\b", line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    # the intake writer, until it moves onto the batched-write facility (issue 13 item 2)
    known = [f for f in found if "intake/writer.py" in f or "state.access_claim" in f]
    assert found == known, sorted(set(found) - set(known))
