"""The client's supervision of its contractor (APPI Art. 25): who at the BPO holds which role
in this tenant, asked for by whom and approved by whom, and the requests awaiting the
client_admin's decision. Every member of the client sees it; a client_admin decides."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from core.approvals.rules import ApprovalError
from core.approvals.service import decide, requests
from core.identity.service import Principal, tenant_domain
from core.tenancy.context import TenantContext
from core.web.api.approvals import access_grants, request_outs
from core.web.errors import ApiError
from core.web.state import CoreState
from core.web.ui.forms import redirect
from core.web.ui.i18n import translator
from core.web.ui.render import page, request_locale

__all__ = ["PORTAL_ACCESS_PAGES"]


@get("/t/{tenant:str}/portal/access", opt={"permission": "audit:read"}, include_in_schema=False)
async def access_page(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    ctx: NamedDependency[TenantContext],
    principal: NamedDependency[Principal],
) -> Template:
    t = translator(request_locale(request))
    async with core.db.session() as platform:
        grants = await access_grants(platform, ctx.id)
        rows = await request_outs(platform, await requests(platform, tenant_id=ctx.id))
    roles = principal.roles_in(tenant_domain(ctx.id)) | (
        {"security_officer"} if "security_officer" in principal.roles_in("platform") else set()
    )
    return await page(
        request,
        "portal/access.html",
        title=t.gettext("Who can reach our customers"),
        grants=grants,
        requests=rows,
        me=principal.email,
        can_decide=bool(roles & {"client_admin", "security_officer"}),
        action_base=f"/t/{ctx.slug}/portal/approvals",
    )


async def _decide(
    core: CoreState, ctx: TenantContext, request_id: int, user: int, ok: bool
) -> None:
    async with core.db.session() as platform:
        try:
            await decide(platform, request_id, user, accept=ok, tenant_id=ctx.id)
        except ApprovalError as exc:
            raise ApiError(exc.status, exc.message) from exc


@post(
    "/t/{tenant:str}/portal/approvals/{request_id:int}/approve",
    opt={"permission": "approval:decide"},
    include_in_schema=False,
)
async def approve(
    request_id: FromPath[int],
    core: NamedDependency[CoreState],
    ctx: NamedDependency[TenantContext],
    principal: NamedDependency[Principal],
) -> Redirect:
    await _decide(core, ctx, request_id, principal.user_id, True)
    return redirect(f"/t/{ctx.slug}/portal/access")


@post(
    "/t/{tenant:str}/portal/approvals/{request_id:int}/reject",
    opt={"permission": "approval:decide"},
    include_in_schema=False,
)
async def reject(
    request_id: FromPath[int],
    core: NamedDependency[CoreState],
    ctx: NamedDependency[TenantContext],
    principal: NamedDependency[Principal],
) -> Redirect:
    await _decide(core, ctx, request_id, principal.user_id, False)
    return redirect(f"/t/{ctx.slug}/portal/access")


PORTAL_ACCESS_PAGES = [access_page, approve, reject]
