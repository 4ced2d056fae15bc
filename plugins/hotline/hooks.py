"""Hook implementations of the hotline plugin."""

from __future__ import annotations

from typing import Any

from core import hookimpl
from plugins.hotline import routes


@hookimpl
def register_routes() -> list[Any]:
    return [routes.hotline_status]
