"""Hook implementations of the hotline plugin."""

from __future__ import annotations

from typing import Any

from core import MenuItem, PortalSection, hookimpl
from plugins.hotline import pages, routes


@hookimpl
def register_routes() -> list[Any]:
    return [routes.hotline_status]


@hookimpl
def register_pages() -> list[Any]:
    return [pages.hotline_page]


@hookimpl
def register_menu_items() -> list[MenuItem]:
    return [
        MenuItem(
            path="/hotline",
            label="専用窓口",
            label_en="Incident hotline",
            permission="hotline:read",
        )
    ]


@hookimpl
def register_portal_sections() -> list[PortalSection]:
    return [
        PortalSection(
            key="hotline",
            title="専用窓口の状況",
            title_en="Hotline status",
            permission="hotline:read",
            template="hotline/portal_section.html",
            load=pages.portal_section,
        )
    ]
