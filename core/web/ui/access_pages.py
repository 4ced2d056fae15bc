"""Pages of separation of duties: accounts, grants and approvals in the admin console, each
person's own API tokens, and the one-time invitation with which a new account's owner chooses
their password. The rules live in :mod:`core.approvals.service`; these pages only ask."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import col, select

from core.approvals.models import Status
from core.approvals.rules import ApprovalError
from core.approvals.service import (
    Requester,
    decide,
    held_roles,
    request_grant,
    requests,
    revoke,
    withdraw,
)
from core.authz.roles import PLATFORM_ROLES, TENANT_ROLES
from core.identity.models import ApiToken, User
from core.identity.passwords import PasswordPolicyError
from core.identity.service import (
    IdentityError,
    Principal,
    accept_invitation,
    create_token,
    create_user,
    invite,
    revoke_token,
)
from core.tenancy.service import list_tenants
from core.web.api.approvals import invitation_url, request_outs, user_outs
from core.web.api.tokens import token_outs
from core.web.errors import ApiError
from core.web.state import CoreState
from core.web.ui.forms import form_data, redirect
from core.web.ui.i18n import translator
from core.web.ui.render import my_tenants, page, request_locale

__all__ = ["ACCESS_PAGES"]


async def _tenant_choices(core: CoreState) -> list[dict[str, str]]:
    async with core.db.session() as session:
        return [
            {"slug": t.slug, "display_name": t.display_name}
            for t in await list_tenants(session)
            if t.status != "offboarded"
        ]


async def _users_page(request: Request[Any, Any, Any], core: CoreState, **extra: Any) -> Template:
    t = translator(request_locale(request))
    async with core.db.session() as session:
        users = list((await session.exec(select(User).order_by(col(User.email)))).all())
        rows = await user_outs(session, users)
        pending = await request_outs(session, await requests(session, status=Status.PENDING))
    return await page(
        request,
        "admin/users.html",
        title=t.gettext("Users and roles"),
        users=rows,
        pending=[p for p in pending if p.kind == "role.grant"],
        roles=[*PLATFORM_ROLES, *TENANT_ROLES],
        tenants=await _tenant_choices(core),
        **extra,
    )


@get("/admin/users", opt={"permission": "user:manage"}, include_in_schema=False)
async def users_page(request: Request[Any, Any, Any], core: NamedDependency[CoreState]) -> Template:
    return await _users_page(request, core)


@post("/admin/users", opt={"permission": "user:manage"}, include_in_schema=False, status_code=200)
async def user_create(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Template:
    """A new account and its one-time invitation link: the person chooses their own
    password, so whoever made the account never knows it."""
    data = await form_data(request)
    try:
        async with core.db.session() as session:
            user = await create_user(
                session, data.get("email", ""), data.get("name", ""), created_by=principal.user_id
            )
            token = await invite(session, user, created_by=principal.user_id)
    except IdentityError as exc:
        return await _users_page(request, core, flash=str(exc), flash_kind="error", status_code=422)
    return await _users_page(
        request, core, invitation=invitation_url(request, token), invited=user.email
    )


@post("/admin/grants", opt={"permission": "user:manage"}, include_in_schema=False, status_code=200)
async def grant_create(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Template:
    data = await form_data(request)
    t = translator(request_locale(request))
    try:
        async with core.db.session() as session:
            row = await request_grant(
                session,
                Requester(principal.user_id, "web"),
                data.get("email", ""),
                data.get("role", ""),
                data.get("tenant") or None,
            )
    except ApprovalError as exc:
        return await _users_page(
            request, core, flash=exc.message, flash_kind="error", status_code=exc.status
        )
    if row.status == Status.PENDING:
        message = t.gettext(
            "Requested: it takes effect once the client's client_admin or a security officer approves it."
        )
    else:
        message = t.gettext("Granted.")
    return await _users_page(request, core, flash=message, flash_kind="ok")


@post(
    "/admin/users/{user_id:int}/revoke", opt={"permission": "user:manage"}, include_in_schema=False
)
async def grant_revoke(
    request: Request[Any, Any, Any], user_id: FromPath[int], core: NamedDependency[CoreState]
) -> Redirect:
    data = await form_data(request)
    async with core.db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise ApiError(404, "No such user.")
        try:
            await revoke(session, user.email, data.get("role", ""), data.get("tenant") or None)
        except ApprovalError as exc:
            raise ApiError(exc.status, exc.message) from exc
    return redirect("/admin/users")


@get("/admin/approvals", opt={"permission": "approval:read"}, include_in_schema=False)
async def approvals_page(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Template:
    t = translator(request_locale(request))
    async with core.db.session() as session:
        rows = await request_outs(session, await requests(session))
        held = await held_roles(session, principal.user_id)
    return await page(
        request,
        "admin/approvals.html",
        title=t.gettext("Approvals"),
        requests=rows,
        me=principal.email,
        can_decide="security_officer" in held.get(None, set()),
        action_base="/admin/approvals",
        show_tenant=True,
    )


async def _decide_page(
    core: CoreState, request_id: int, user_id: int, accept: bool, tenant_id: int | None = None
) -> None:
    async with core.db.session() as session:
        try:
            await decide(session, request_id, user_id, accept=accept, tenant_id=tenant_id)
        except ApprovalError as exc:
            raise ApiError(exc.status, exc.message) from exc


@post(
    "/admin/approvals/{request_id:int}/approve",
    opt={"permission": "approval:decide"},
    include_in_schema=False,
)
async def approval_approve(
    request_id: FromPath[int],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Redirect:
    await _decide_page(core, request_id, principal.user_id, True)
    return redirect("/admin/approvals")


@post(
    "/admin/approvals/{request_id:int}/reject",
    opt={"permission": "approval:decide"},
    include_in_schema=False,
)
async def approval_reject(
    request_id: FromPath[int],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Redirect:
    await _decide_page(core, request_id, principal.user_id, False)
    return redirect("/admin/approvals")


@post(
    "/admin/approvals/{request_id:int}/withdraw",
    opt={"permission": "approval:read"},
    include_in_schema=False,
)
async def approval_withdraw(
    request_id: FromPath[int],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Redirect:
    async with core.db.session() as session:
        try:
            await withdraw(session, request_id, principal.user_id)
        except ApprovalError as exc:
            raise ApiError(exc.status, exc.message) from exc
    return redirect("/admin/approvals")


@get("/admin/tokens", opt={"permission": "token:manage"}, include_in_schema=False)
async def tokens_page(
    request: Request[Any, Any, Any], core: NamedDependency[CoreState]
) -> Template:
    """Every token, to see and revoke; none is made here (each person makes their own)."""
    t = translator(request_locale(request))
    async with core.db.session() as session:
        rows = (await session.exec(select(ApiToken).order_by(col(ApiToken.id).desc()))).all()
        tokens = await token_outs(session, list(rows))
    return await page(request, "admin/tokens.html", title=t.gettext("API tokens"), tokens=tokens)


@post(
    "/admin/tokens/{token_id:int}/revoke",
    opt={"permission": "token:manage"},
    include_in_schema=False,
)
async def token_revoke(token_id: FromPath[int], core: NamedDependency[CoreState]) -> Redirect:
    async with core.db.session() as session:
        if not await revoke_token(session, token_id):
            raise ApiError(404, "No such live token.")
    return redirect("/admin/tokens")


async def _own_tokens_page(
    request: Request[Any, Any, Any], core: CoreState, principal: Principal, **extra: Any
) -> Template:
    t = translator(request_locale(request))
    async with core.db.session() as session:
        rows = (
            await session.exec(
                select(ApiToken)
                .where(ApiToken.user_id == principal.user_id)
                .order_by(col(ApiToken.id).desc())
            )
        ).all()
        tokens = await token_outs(session, list(rows))
    return await page(
        request,
        "account_tokens.html",
        title=t.gettext("My API tokens"),
        tokens=tokens,
        tenants=await my_tenants(request, principal),
        **extra,
    )


@get("/account/tokens", opt={"authenticated": True}, include_in_schema=False)
async def own_tokens(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Template:
    return await _own_tokens_page(request, core, principal)


@post("/account/tokens", opt={"authenticated": True}, include_in_schema=False, status_code=200)
async def own_token_create(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Template:
    data = await form_data(request)
    days = data.get("days", "30")
    slug = data.get("tenant") or None
    if slug is not None and slug not in {t.slug for t in await my_tenants(request, principal)}:
        raise ApiError(422, "You hold no role in that client.", field="tenant")
    async with core.db.session() as session:
        token = await create_token(
            session,
            principal.email,
            tenant_slug=slug,
            expires_days=min(int(days), 365) if days.isdigit() and int(days) > 0 else 30,
        )
    return await _own_tokens_page(request, core, principal, new_token=token)


@post(
    "/account/tokens/{token_id:int}/revoke",
    opt={"authenticated": True},
    include_in_schema=False,
)
async def own_token_revoke(
    token_id: FromPath[int],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Redirect:
    async with core.db.session() as session:
        if not await revoke_token(session, token_id, owner=principal.user_id):
            raise ApiError(404, "No such live token of yours.")
    return redirect("/account/tokens")


@get("/invite/{token:str}", opt={"public": True}, include_in_schema=False)
async def invitation_form(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    t = translator(request_locale(request))
    request.state.csrf = ""  # the link itself is the secret; no session exists yet
    return await page(request, "invite.html", title=t.gettext("Choose your password"))


@post(
    "/invite/{token:str}",
    opt={"public": True, "per_client_per_minute": 10},
    include_in_schema=False,
    status_code=200,
)
async def invitation_accept(
    request: Request[Any, Any, Any], token: FromPath[str], core: NamedDependency[CoreState]
) -> Any:
    data = await form_data(request)
    t = translator(request_locale(request))

    async def again(message: str, status: int) -> Template:
        request.state.csrf = ""
        return await page(
            request,
            "invite.html",
            title=t.gettext("Choose your password"),
            flash=message,
            flash_kind="error",
            status_code=status,
        )

    if data.get("password") != data.get("again"):
        return await again(t.gettext("The two new passwords differ."), 400)
    try:
        async with core.db.session() as session:
            await accept_invitation(session, token, data.get("password", ""))
    except PasswordPolicyError:
        return await again(t.gettext("A password needs at least 12 characters."), 400)
    except IdentityError:
        return await again(t.gettext("This invitation link is unknown, used or expired."), 410)
    return redirect("/login")


ACCESS_PAGES = [
    users_page,
    user_create,
    grant_create,
    grant_revoke,
    approvals_page,
    approval_approve,
    approval_reject,
    approval_withdraw,
    tokens_page,
    token_revoke,
    own_tokens,
    own_token_create,
    own_token_revoke,
    invitation_form,
    invitation_accept,
]
