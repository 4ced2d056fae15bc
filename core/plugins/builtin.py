"""The built-in plugins: registered by the core on the same hooks third-party plugins use."""

from __future__ import annotations

import importlib
import importlib.util

__all__ = ["BUILTIN_PLUGINS", "import_builtin_models"]

BUILTIN_PLUGINS: tuple[str, ...] = (
    "plugins.intake",
    "plugins.hotline",
    "plugins.knowledge",
    "plugins.voc",
)


def import_builtin_models() -> None:
    """Import each built-in plugin's ``models`` module, so its tables join the metadata."""
    for package in BUILTIN_PLUGINS:
        if importlib.util.find_spec(f"{package}.models") is not None:
            importlib.import_module(f"{package}.models")
