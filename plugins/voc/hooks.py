"""Hook implementations of the voc plugin."""

from __future__ import annotations

from typing import Any

from core import PageSpec, hookimpl
from plugins.voc import routes


@hookimpl
def register_routes() -> list[Any]:
    return [routes.report_schedule]


@hookimpl
def register_pages() -> list[PageSpec]:
    return [
        PageSpec(
            path="/voc",
            title="VOCレポート",
            title_en="VOC reports",
            permission="report:read",
            plugin_id="voc",
        )
    ]
