"""Readable signatures of the hookspecs, as the docs head each section."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from core.plugins import hookspecs

__all__ = ["hook_signature", "hookspec_functions"]


def hookspec_functions() -> dict[str, Callable[..., Any]]:
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if callable(fn) and hasattr(fn, "madoguchi_spec")
    }


def hook_signature(fn: Callable[..., Any]) -> str:
    """``name(arg: Type, ...) -> Return`` with the annotations as written in the source."""
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"
