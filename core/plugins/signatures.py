"""Readable signatures of the hookspecs, as the docs head each section."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from core.plugins import hookspecs
from core.plugins.markers import PROJECT

__all__ = ["hook_signature", "hookspec_functions"]


def hookspec_functions(namespace: object = hookspecs) -> dict[str, Callable[..., Any]]:
    """The hookspecs in a module or class (the core's by default), by name."""
    found = {name: getattr(namespace, name) for name in dir(namespace)}  # as pluggy reads them
    return {
        name: fn for name, fn in found.items() if callable(fn) and hasattr(fn, f"{PROJECT}_spec")
    }


def hook_signature(fn: Callable[..., Any]) -> str:
    """``name(arg: Type, ...) -> Return`` with the annotations as written in the source."""
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"
