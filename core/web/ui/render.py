"""Rendering a page: the template plus what every page needs (the user, the language, the
CSRF token, the client banner, the menu, the tenant switcher)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request
from litestar.response import Template
from sqlmodel import col, select

from core.authz.roles import PLATFORM_DOMAIN, PLATFORM_ROLES
from core.identity.service import Principal, tenant_domain
from core.tenancy.models import Tenant
from core.web.state import RequestTenant, core_state
from core.web.ui.i18n import DEFAULT_LOCALE, LOCALES, translator

__all__ = [
    "LANG_COOKIE",
    "MenuEntry",
    "error_page",
    "jinja_environment",
    "page",
    "request_locale",
    "wants_html",
]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANG_COOKIE = "madoguchi_lang"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class MenuEntry:
    label: str
    href: str
    active: bool = False


def jinja_environment(extra_dirs: list[Path]) -> Environment:
    env = Environment(
        loader=FileSystemLoader([TEMPLATES, *extra_dirs]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def request_locale(request: Request[Any, Any, Any]) -> str:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None and principal.language in LOCALES:
        return principal.language
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


async def my_tenants(request: Request[Any, Any, Any], principal: Principal) -> list[Tenant]:
    ids = [int(d[2:]) for d in principal.roles if d.startswith("t:")]
    if not ids:
        return []
    async with core_state(request.app.state).db.session() as session:
        rows = (
            await session.exec(
                select(Tenant).where(col(Tenant.id).in_(ids)).order_by(col(Tenant.slug))
            )
        ).all()
    return [t for t in rows if t.status == "active"]


def _tenant_menu(
    request: Request[Any, Any, Any], tenant: RequestTenant, principal: Principal, _: Any
) -> list[MenuEntry]:
    core = core_state(request.app.state)
    domain = tenant_domain(tenant.ctx.id)
    roles = principal.roles_in(domain)

    def allowed(permission: str) -> bool:
        return core.authorizer.allows(
            roles, domain, permission, version=tenant.version, templates=tenant.role_templates
        )

    base = f"/t/{tenant.ctx.slug}"
    entries = [(_("Home"), f"{base}/", "customer:read")]
    entries.append((_("Customers"), f"{base}/customers", "customer:read"))
    for item in core.menu_items:
        if item.plugin_id in tenant.enabled:
            label = item.label if request_locale(request) == "ja" else item.label_en
            entries.append((label, f"{base}{item.path}", item.permission))
    entries.append((_("Client portal"), f"{base}/portal", "audit:read"))
    path = request.url.path
    return [
        MenuEntry(label, href, path == href or (href != f"{base}/" and path.startswith(href)))
        for label, href, permission in entries
        if allowed(permission)
    ]


async def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    title: str,
    status_code: int = 200,
    personal: bool = False,
    **context: Any,
) -> Template:
    """Render ``template``. ``personal`` pages (customer data) are never stored by the browser."""
    locale = request_locale(request)
    t = translator(locale)
    principal: Principal | None = getattr(request.state, "principal", None)
    tenant: RequestTenant | None = getattr(request.state, "tenant", None)
    common: dict[str, Any] = {
        "_": t.gettext,
        "t": t,
        "lang": locale,
        "title": title,
        "user": principal,
        "csrf": getattr(request.state, "csrf", None)
        or request.cookies.get("madoguchi_login_csrf", ""),
        "tenant": tenant.ctx if tenant else None,
        "menu": [],
        "my_tenants": [],
        "is_platform": bool(
            principal and principal.roles_in(PLATFORM_DOMAIN) & set(PLATFORM_ROLES)
        ),
        "path": request.url.path,
    }
    if principal is not None:
        common["my_tenants"] = await my_tenants(request, principal)
        if tenant is not None:
            common["menu"] = _tenant_menu(request, tenant, principal, t.gettext)
    headers = dict(NO_STORE) if personal or principal is not None else {}
    return Template(
        template_name=template,
        context={**common, **context},
        status_code=status_code,
        headers=headers,
        media_type=MediaType.HTML,
    )


def wants_html(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/schema", "/healthz", "/readyz", "/static/"))


def error_page(
    request: Request[Any, Any, Any], status_code: int, request_id: str | None
) -> Template:
    """An error people understand, in their language, with no stack trace."""
    t = translator(request_locale(request))
    headings = {
        403: t.gettext("You do not have permission for this page"),
        404: t.gettext("Page not found"),
        429: t.gettext("Too many requests"),
    }
    messages = {
        403: t.gettext("Ask an administrator if you need access."),
        404: t.gettext("The page does not exist, or you have no access to it."),
        429: t.gettext("You reached the hourly limit. Try again later, or ask a supervisor."),
    }
    heading = headings.get(status_code, t.gettext("Something went wrong"))
    message = messages.get(
        status_code,
        t.gettext(
            "Please try again. If it happens again, tell the support desk the reference below."
        ),
    )
    principal = getattr(request.state, "principal", None)
    context: dict[str, Any] = {
        "_": t.gettext,
        "t": t,
        "lang": t.locale,
        "title": heading,
        "user": principal,
        "csrf": getattr(request.state, "csrf", None) or "",
        "tenant": None,
        "menu": [],
        "my_tenants": [],
        "is_platform": False,
        "path": request.url.path,
        "heading": heading,
        "message": message,
        "request_id": request_id,
    }
    return Template(
        template_name="error.html",
        context=context,
        status_code=status_code,
        headers=dict(NO_STORE),
        media_type=MediaType.HTML,
    )
