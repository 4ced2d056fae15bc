"""The pluggy markers, and the warning a deprecated hook gives. Plugins import them from
``core``."""

import pluggy

PROJECT = "madoguchi"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class MadoguchiDeprecationWarning(DeprecationWarning):
    """Something a plugin uses is deprecated and goes away in the next minor version.

    A deprecated hookspec carries one as ``@hookspec(warn_on_impl=...)``: pluggy issues it,
    pointing at the implementing function, when a plugin implementing the hook registers
    (``docs/plugin_hooks.md``, "Deprecation")."""


__all__ = ["PROJECT", "MadoguchiDeprecationWarning", "hookimpl", "hookspec"]
