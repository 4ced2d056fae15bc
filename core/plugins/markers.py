"""The pluggy markers. Plugins import ``hookimpl`` from ``core``."""

import pluggy

PROJECT = "madoguchi"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "hookimpl", "hookspec"]
