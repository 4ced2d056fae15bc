"""Plugins import from ``core`` only: its ``__all__`` is complete and importable."""

from __future__ import annotations

import core


def test_public_surface_is_complete_and_importable() -> None:
    for name in core.__all__:
        assert hasattr(core, name), name
    public = {
        n
        for n in vars(core)
        if not n.startswith("_") and not isinstance(getattr(core, n), type(core))
    }
    assert public <= set(core.__all__), public - set(core.__all__)
    for needed in ("hookimpl", "TenantContext", "PluginManifest", "PersonalData", "audit"):
        assert needed in core.__all__
