"""The base of the JSON request bodies (defined at the bottom of the core's layers, in
:mod:`core.strict_body`, because every area's request bodies inherit it)."""

from core.strict_body import StrictBody

__all__ = ["StrictBody"]
