"""The admin console: tenants and their plugins, users and grants, API tokens, security
alerts and export approvals, audit verification. Platform roles only; no personal data."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlmodel import col, select

from core.approvals.service import pending_security_change
from core.audit.checkpoint import verify_all
from core.audit.purposes import describe
from core.authz.roles import PLATFORM_DOMAIN
from core.identity.models import User
from core.identity.service import Principal
from core.plugins.api import PluginManifest, SettingsError
from core.security.models import ExportRequest, SecurityAlert
from core.tenancy.manifest import SECURITY_KEYS, ManifestError, parse_manifest
from core.tenancy.models import Tenant
from core.tenancy.service import (
    TenantChange,
    apply_specs,
    as_manifest,
    get_tenant,
    list_tenants,
    read_tenant,
)
from core.web.api.approvals import request_outs
from core.web.errors import ApiError
from core.web.state import CoreState
from core.web.ui.forms import form_data, redirect
from core.web.ui.i18n import translator
from core.web.ui.render import page, request_locale

__all__ = ["ADMIN_PAGES"]

REVIEW = "security-review"


def _can(core: CoreState, principal: Principal, permission: str) -> bool:
    return core.authorizer.allows(principal.roles_in(PLATFORM_DOMAIN), PLATFORM_DOMAIN, permission)


async def _tenant_rows(core: CoreState) -> list[dict[str, Any]]:
    rows = []
    async with core.db.session() as session:
        for tenant in await list_tenants(session):
            read = await read_tenant(session, tenant)
            rows.append(
                {
                    "slug": read.slug,
                    "display_name": read.display_name,
                    "status": read.status,
                    "color": read.color,
                    "plugins": [p.id for p in read.plugins if p.enabled],
                }
            )
    return rows


@get("/admin", opt={"permission": "tenant:list"}, include_in_schema=False)
async def dashboard(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Template:
    t = translator(request_locale(request))
    can = {
        "tenants": _can(core, principal, "tenant:update"),
        "users": _can(core, principal, "user:manage"),
        "tokens": _can(core, principal, "token:manage"),
        "approvals": _can(core, principal, "approval:read"),
        "security": _can(core, principal, "alert:read"),
        "verify": _can(core, principal, "audit:verify"),
    }
    return await page(
        request,
        "admin/dashboard.html",
        title=t.gettext("Admin console"),
        can=can,
        tenants=await _tenant_rows(core),
    )


@get("/admin/tenants", opt={"permission": "tenant:list"}, include_in_schema=False)
async def tenants_page(
    request: Request[Any, Any, Any], core: NamedDependency[CoreState]
) -> Template:
    t = translator(request_locale(request))
    return await page(
        request, "admin/tenants.html", title=t.gettext("Tenants"), tenants=await _tenant_rows(core)
    )


def _form_values(data: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: data.get(k, "").strip()
        for k in ("display_name", "display_name_en", "color", "working_hours")
    }
    retention = data.get("retention_days", "").strip()
    values["retention_days"] = int(retention) if retention.isdigit() else retention or 1095
    security: dict[str, Any] = {}
    for name in SECURITY_KEYS:
        raw = data.get(f"security.{name}", "").strip()
        if raw:
            security[name] = int(raw) if raw.isdigit() else raw  # the manifest check names it
    if security:
        values["security"] = security
    return values


@get("/admin/tenants/new", opt={"permission": "tenant:create"}, include_in_schema=False)
async def tenant_new(request: Request[Any, Any, Any]) -> Template:
    t = translator(request_locale(request))
    return await page(
        request,
        "admin/tenant_form.html",
        title=t.gettext("Onboard a new client"),
        heading=t.gettext("Onboard a new client"),
        action="/admin/tenants",
        creating=True,
        values={},
    )


@post(
    "/admin/tenants", opt={"permission": "tenant:create"}, include_in_schema=False, status_code=200
)
async def tenant_create(request: Request[Any, Any, Any], core: NamedDependency[CoreState]) -> Any:
    data = await form_data(request)
    t = translator(request_locale(request))
    values = {"slug": data.get("slug", "").strip(), **_form_values(data)}
    try:
        spec = parse_manifest(values, core.host)
        async with core.db.session() as session:
            if await get_tenant(session, spec.slug) is not None:
                raise ManifestError("form", "slug", t.gettext("this slug is taken"))
        await apply_specs(core.db, core.host, [spec], services=core.services)
    except ManifestError as exc:
        return await page(
            request,
            "admin/tenant_form.html",
            title=t.gettext("Onboard a new client"),
            heading=t.gettext("Onboard a new client"),
            action="/admin/tenants",
            creating=True,
            values=values,
            status_code=422,
            error=f"{exc.field}: {exc.message}",
        )
    return redirect(f"/admin/tenants/{spec.slug}")


def _plugin_fields(manifest: PluginManifest, settings: dict[str, Any]) -> list[dict[str, Any]]:
    current = {**manifest.default_settings(), **settings}
    return [
        {
            "name": name,
            "type": spec.type,
            "description": spec.description,
            "choices": spec.choices,
            "value": current.get(name),
        }
        for name, spec in manifest.settings.items()
    ]


async def _edit_page(
    request: Request[Any, Any, Any],
    core: CoreState,
    slug: str,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    async with core.db.session() as session:
        tenant = await get_tenant(session, slug)
        if tenant is None:
            raise ApiError(404, "No such tenant.")
        read = await read_tenant(session, tenant)
        pending = await pending_security_change(session, tenant.id or 0)
        [pending_out] = await request_outs(session, [pending]) if pending else [None]
    states = {p.id: p for p in read.plugins}
    plugins = [
        {
            "id": m.id,
            "name": m.name,
            "enabled": bool(states.get(m.id) and states[m.id].enabled),
            "fields": _plugin_fields(m, states[m.id].settings if m.id in states else {}),
        }
        for m in sorted(core.host.manifests.values(), key=lambda m: m.id)
    ]
    return await page(
        request,
        "admin/tenant_form.html",
        title=read.display_name,
        heading=f"{read.display_name} ({read.slug})",
        action=f"/admin/tenants/{slug}",
        creating=False,
        values=read.model_dump(),
        plugins=plugins,
        slug=slug,
        error=error,
        status_code=status_code,
        pending=pending_out,
    )


@get("/admin/tenants/{slug:str}", opt={"permission": "tenant:read"}, include_in_schema=False)
async def tenant_edit(
    request: Request[Any, Any, Any], slug: FromPath[str], core: NamedDependency[CoreState]
) -> Template:
    return await _edit_page(request, core, slug)


async def _apply_change(core: CoreState, slug: str, change: dict[str, Any]) -> TenantChange:
    async with core.db.session() as session:
        tenant = await get_tenant(session, slug)
        if tenant is None:
            raise ApiError(404, "No such tenant.")
        merged = as_manifest(await read_tenant(session, tenant))
    plugins = change.pop("plugins", {})
    merged["security"] = {**merged["security"], **change.pop("security", {})}
    merged.update(change)
    for plugin_id, entry in plugins.items():
        merged["plugins"][plugin_id] = entry
    [applied] = await apply_specs(
        core.db, core.host, [parse_manifest(merged, core.host)], services=core.services
    )
    return applied


@post(
    "/admin/tenants/{slug:str}",
    opt={"permission": "tenant:update"},
    include_in_schema=False,
    status_code=200,
)
async def tenant_update(
    request: Request[Any, Any, Any], slug: FromPath[str], core: NamedDependency[CoreState]
) -> Any:
    data = await form_data(request)
    try:
        applied = await _apply_change(core, slug, _form_values(data))
    except ManifestError as exc:
        return await _edit_page(request, core, slug, f"{exc.field}: {exc.message}", 422)
    if applied.pending is not None:
        return await _edit_page(request, core, slug)  # shows the request awaiting approval
    return redirect(f"/admin/tenants/{slug}")


def _setting_value(kind: str, raw: str | None) -> Any:
    if kind == "bool":
        return raw == "1"
    if raw is None:
        return None
    if kind == "list[str]":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if kind == "int":
        return int(raw) if raw.strip().lstrip("-").isdigit() else raw
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            return raw
    return raw


@post(
    "/admin/tenants/{slug:str}/plugins/{plugin_id:str}",
    opt={"permission": "tenant:update"},
    include_in_schema=False,
    status_code=200,
)
async def tenant_plugin(
    request: Request[Any, Any, Any],
    slug: FromPath[str],
    plugin_id: FromPath[str],
    core: NamedDependency[CoreState],
) -> Any:
    """Enable or disable a plugin for the client; its settings form is made from the plugin's
    settings schema and validated the same way as a manifest."""
    data = await form_data(request)
    if plugin_id not in core.host.manifests:
        raise ApiError(404, "No such plugin.")
    manifest = core.host.manifest(plugin_id)
    form = await request.form()
    settings = {}
    for name, spec in manifest.settings.items():
        if spec.type == "list[str]" and spec.choices:  # one checkbox per choice
            if f"setting.{name}.shown" in data:
                checked = form.getall(f"setting.{name}")
                settings[name] = [v for v in checked if isinstance(v, str)]
            continue
        value = _setting_value(spec.type, data.get(f"setting.{name}"))
        if value is not None:
            settings[name] = value
    try:
        manifest.validate_settings(settings)
        await _apply_change(
            core,
            slug,
            {"plugins": {plugin_id: {"enabled": data.get("enabled") == "1", "settings": settings}}},
        )
    except SettingsError as exc:
        return await _edit_page(request, core, slug, f"{plugin_id}.{exc.field}: {exc.message}", 422)
    except ManifestError as exc:
        return await _edit_page(request, core, slug, f"{exc.field}: {exc.message}", 422)
    return redirect(f"/admin/tenants/{slug}")


@get("/admin/security", opt={"permission": "alert:read"}, include_in_schema=False)
async def security_page(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Template:
    t = translator(request_locale(request))
    async with core.db.session(cross_tenant=REVIEW) as session:
        alerts = (
            await session.exec(
                select(SecurityAlert).order_by(col(SecurityAlert.at).desc()).limit(200)
            )
        ).all()
        pending = (
            await session.exec(select(ExportRequest).where(ExportRequest.status == "pending"))
        ).all()
    async with core.db.session() as session:
        slugs = {x.id: x.slug for x in (await session.exec(select(Tenant))).all()}
        emails = {u.id: u.email for u in (await session.exec(select(User))).all()}
    return await page(
        request,
        "admin/security.html",
        title=t.gettext("Security alerts and export approvals"),
        alerts=[
            {
                "at": a.at,
                "tenant": slugs.get(a.tenant_id),
                "kind": a.kind,
                "severity": a.severity,
                "user": emails.get(a.user_id or 0),
                "detail": a.detail,
            }
            for a in alerts
        ],
        exports=[
            {
                "id": e.id,
                "tenant": slugs.get(e.tenant_id),
                "purpose": describe(e.reason),
                "requested_at": e.requested_at,
            }
            for e in pending
        ],
        can_approve="security_officer" in principal.roles_in(PLATFORM_DOMAIN),
    )


@get("/admin/audit", opt={"permission": "audit:verify"}, include_in_schema=False)
async def audit_page(request: Request[Any, Any, Any], core: NamedDependency[CoreState]) -> Template:
    t = translator(request_locale(request))
    result = await verify_all(core.db, core.settings)
    async with core.db.session() as session:
        slugs = {f"t:{x.id}": x.slug for x in (await session.exec(select(Tenant))).all()}
    reports = [
        {
            "label": slugs.get(r.chain, r.chain),
            "events": r.events,
            "ok": r.ok,
            "first_bad_seq": r.first_bad_seq,
            "reason": r.reason,
        }
        for r in result.reports
    ]
    return await page(
        request,
        "admin/audit.html",
        title=t.gettext("Audit verification"),
        reports=reports,
        checkpoint=result.checkpoint,
    )


ADMIN_PAGES = [
    dashboard,
    tenants_page,
    tenant_new,
    tenant_create,
    tenant_edit,
    tenant_update,
    tenant_plugin,
    security_page,
    audit_page,
]
