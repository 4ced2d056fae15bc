"""Hook implementations of the voc plugin."""

from __future__ import annotations

from typing import Any

from core import MenuItem, PortalSection, hookimpl
from plugins.voc import pages, routes


@hookimpl
def register_routes() -> list[Any]:
    return [routes.report_schedule]


@hookimpl
def register_pages() -> list[Any]:
    return [pages.voc_page]


@hookimpl
def register_menu_items() -> list[MenuItem]:
    return [
        MenuItem(path="/voc", label="VOCレポート", label_en="VOC reports", permission="report:read")
    ]


@hookimpl
def register_portal_sections() -> list[PortalSection]:
    return [
        PortalSection(
            key="voc",
            title="VOCレポート",
            title_en="Voice of customer",
            permission="report:read",
            template="voc/portal_section.html",
            load=pages.portal_section,
        )
    ]
