"""The client portal: the client's own staff see their reports, their access log, their
export approvals and their viewers, and nothing of any other client."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.approvals.models import Status
from core.approvals.rules import ApprovalError
from core.approvals.service import Requester, request_grant, requests, revoke
from core.audit.log import record
from core.audit.models import AuditEvent
from core.audit.purposes import describe
from core.identity.models import RoleGrant, User
from core.identity.service import Principal, tenant_domain
from core.plugins.models import TenantPlugin
from core.security import exports
from core.security.models import ExportRequest
from core.tenancy.context import TenantContext
from core.web.api.approvals import invitation_url
from core.web.api.audit import _events, _query
from core.web.errors import ApiError
from core.web.state import CoreState
from core.web.ui.forms import form_data, redirect
from core.web.ui.i18n import TOKYO, translator
from core.web.ui.render import page, request_locale

__all__ = ["PORTAL_PAGES"]

DAYS = 14


def _allowed(
    request: Request[Any, Any, Any], core: CoreState, principal: Principal, permission: str
) -> bool:
    tenant = request.state.tenant
    domain = tenant_domain(tenant.ctx.id)
    roles = principal.roles_in(domain) | (
        {"security_officer"} if "security_officer" in principal.roles_in("platform") else set()
    )
    return core.authorizer.allows(
        roles, domain, permission, version=tenant.version, templates=tenant.role_templates
    )


async def _chart(session: AsyncSession) -> dict[str, Any]:
    today = datetime.now(TOKYO).date()
    start = datetime.combine(today - timedelta(days=DAYS - 1), time.min, TOKYO)
    rows = (
        await session.exec(
            select(AuditEvent.at)
            .where(col(AuditEvent.action).startswith("pii."), col(AuditEvent.at) >= start)
            .limit(200_000)
        )
    ).all()
    counts: dict[date, int] = {}
    for at in rows:
        day = at.astimezone(TOKYO).date()
        counts[day] = counts.get(day, 0) + 1
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    peak = max([counts.get(d, 0) for d in days] + [1])
    width, height, gap = 560, 160, 6
    bar_w = (width - gap * (DAYS + 1)) / DAYS
    bars = []
    for i, day in enumerate(days):
        value = counts.get(day, 0)
        h = round((height - 40) * value / peak, 1)
        bars.append(
            {
                "x": round(gap + i * (bar_w + gap), 1),
                "w": round(bar_w, 1),
                "h": h,
                "y": round(height - 18 - h, 1),
                "value": value,
                "label": day.isoformat(),
                "short": f"{day.month}/{day.day}",
            }
        )
    return {"width": width, "height": height, "bars": bars, "total": sum(counts.values())}


@get("/t/{tenant:str}/portal", opt={"permission": "audit:read"}, include_in_schema=False)
async def portal_home(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
    principal: NamedDependency[Principal],
) -> Template:
    t = translator(request_locale(request))
    enabled = request.state.tenant.enabled
    settings = {
        row.plugin_id: row.settings for row in (await session.exec(select(TenantPlugin))).all()
    }
    sections = []
    for section in core.portal_sections:
        if section.plugin_id in enabled and _allowed(request, core, principal, section.permission):
            manifest = core.host.manifest(section.plugin_id)
            data = await section.load(
                ctx, session, manifest.validate_settings(settings.get(section.plugin_id))
            )
            sections.append(
                {
                    "key": section.key,
                    "template": section.template,
                    "title": section.title if t.locale == "ja" else section.title_en,
                    **data,
                }
            )
    return await page(
        request,
        "portal/home.html",
        title=t.gettext("Client portal"),
        chart=await _chart(session),
        sections=sections,
        can_approve=_allowed(request, core, principal, "export:approve"),
        can_manage=_allowed(request, core, principal, "viewer:manage"),
        pending_requests=await _pending_requests(core, ctx.id),
    )


async def _pending_requests(core: CoreState, tenant_id: int) -> int:
    async with core.db.session() as platform:
        return len(await requests(platform, tenant_id=tenant_id, status=Status.PENDING))


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time.min, TOKYO)
    except ValueError:
        return None


@get("/t/{tenant:str}/portal/access-log", opt={"permission": "audit:read"}, include_in_schema=False)
async def access_log(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
    action: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> Template:
    t = translator(request_locale(request))
    start, end = _day(since), _day(until)
    if end is not None:
        end += timedelta(days=1)
    events = await _events(core, session, _query(action or None, None, start, end, None).limit(500))
    await record(session, "audit.read", object_type="audit", fields=[f"rows:{len(events)}"])
    query = {
        k: v
        for k, v in {
            "action": action,
            "since": start.isoformat() if start else None,
            "until": end.isoformat() if end else None,
        }.items()
        if v
    }
    actions = [
        ("pii.", t.gettext("Personal data read or revealed")),
        ("pii.reveal", t.gettext("Reveals only")),
        ("export.", t.gettext("Exports")),
        ("access.denied", t.gettext("Refused access")),
        ("auth.", t.gettext("Sign-ins")),
    ]
    return await page(
        request,
        "portal/access_log.html",
        title=t.gettext("Access log"),
        events=events,
        actions=actions,
        action=action,
        since=since,
        until=until,
        csv_href=f"/api/v1/t/{ctx.slug}/audit/events.csv?{urlencode(query)}",
    )


async def _user_names(core: CoreState, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    async with core.db.session() as platform:
        users = (await platform.exec(select(User).where(col(User.id).in_(ids)))).all()
    return {u.id: u.email for u in users if u.id is not None}


@get(
    "/t/{tenant:str}/portal/exports", opt={"permission": "export:approve"}, include_in_schema=False
)
async def export_list(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    session: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
) -> Template:
    t = translator(request_locale(request))
    rows = (await session.exec(select(ExportRequest).order_by(col(ExportRequest.id).desc()))).all()
    names = await _user_names(core, {r.requested_by for r in rows})
    items = [
        {
            "id": r.id,
            "requested_at": r.requested_at,
            "requester": names.get(r.requested_by, "?"),
            "purpose": describe(r.reason),
            "status": r.status,
        }
        for r in rows
    ]
    return await page(
        request,
        "portal/exports.html",
        title=t.gettext("Export requests"),
        exports=items,
        can_approve=True,
    )


async def _decide(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    ctx: TenantContext,
    export_id: int,
    accept: bool,
) -> Redirect:
    try:
        await exports.approve(session, export_id, accept)
    except exports.ExportError as exc:
        raise ApiError(exc.status, str(exc)) from exc
    return redirect(f"/t/{ctx.slug}/portal/exports")


@post(
    "/t/{tenant:str}/portal/exports/{export_id:int}/approve",
    opt={"permission": "export:approve"},
    include_in_schema=False,
)
async def export_approve(
    request: Request[Any, Any, Any],
    export_id: FromPath[int],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    return await _decide(request, session, ctx, export_id, True)


@post(
    "/t/{tenant:str}/portal/exports/{export_id:int}/reject",
    opt={"permission": "export:approve"},
    include_in_schema=False,
)
async def export_reject(
    request: Request[Any, Any, Any],
    export_id: FromPath[int],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    return await _decide(request, session, ctx, export_id, False)


async def _viewers(core: CoreState, tenant_id: int) -> list[User]:
    async with core.db.session() as platform:
        rows = (
            await platform.exec(
                select(User)
                .join(RoleGrant, col(RoleGrant.user_id) == col(User.id))
                .where(RoleGrant.role == "client_viewer", RoleGrant.tenant_id == tenant_id)
                .order_by(col(User.email))
            )
        ).all()
    return list(rows)


@get("/t/{tenant:str}/portal/viewers", opt={"permission": "viewer:manage"}, include_in_schema=False)
async def viewer_list(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    ctx: NamedDependency[TenantContext],
) -> Template:
    t = translator(request_locale(request))
    return await page(
        request,
        "portal/viewers.html",
        title=t.gettext("Our viewers"),
        viewers=await _viewers(core, ctx.id),
    )


@post(
    "/t/{tenant:str}/portal/viewers",
    opt={"permission": "viewer:manage"},
    include_in_schema=False,
    status_code=200,
)
async def viewer_add(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    ctx: NamedDependency[TenantContext],
    principal: NamedDependency[Principal],
) -> Template:
    """Add a viewer of this client only (masked reports and the access log). A new account
    gets a one-time invitation link with which the viewer chooses their own password."""
    from core.identity.service import IdentityError, create_user, invite

    data = await form_data(request)
    t = translator(request_locale(request))
    email = data.get("email", "").strip().lower()
    invitation = None
    try:
        async with core.db.session() as platform:
            user = (await platform.exec(select(User).where(User.email == email))).first()
            if user is None:
                user = await create_user(
                    platform, email, data.get("name", ""), created_by=principal.user_id
                )
                invitation = invitation_url(
                    request, await invite(platform, user, created_by=principal.user_id)
                )
            await request_grant(
                platform, Requester(principal.user_id, "web"), email, "client_viewer", ctx.slug
            )
    except (IdentityError, ApprovalError) as exc:
        return await page(
            request,
            "portal/viewers.html",
            title=t.gettext("Our viewers"),
            viewers=await _viewers(core, ctx.id),
            flash=exc.message if isinstance(exc, ApprovalError) else str(exc),
            flash_kind="error",
            status_code=422,
        )
    return await page(
        request,
        "portal/viewers.html",
        title=t.gettext("Our viewers"),
        viewers=await _viewers(core, ctx.id),
        invitation=invitation,
        flash=None if invitation else t.gettext("The viewer was added."),
        flash_kind="ok",
    )


@post(
    "/t/{tenant:str}/portal/viewers/{user_id:int}/remove",
    opt={"permission": "viewer:manage"},
    include_in_schema=False,
)
async def viewer_remove(
    request: Request[Any, Any, Any],
    user_id: FromPath[int],
    core: NamedDependency[CoreState],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    async with core.db.session() as platform:
        user = await platform.get(User, user_id)
        if user is None:
            raise ApiError(404, "No such viewer.")
        # only this client's viewer role, never anything else the person holds
        if not await revoke(platform, user.email, "client_viewer", ctx.slug):
            raise ApiError(404, "No such viewer.")
    return redirect(f"/t/{ctx.slug}/portal/viewers")


PORTAL_PAGES = [
    portal_home,
    access_log,
    export_list,
    export_approve,
    export_reject,
    viewer_list,
    viewer_add,
    viewer_remove,
]
