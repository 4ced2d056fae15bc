"""Pages for signing in and out, the account, the language switch and the client switcher."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlmodel import select

from core.audit.log import Actor, acting_as, record
from core.authz.roles import PLATFORM_DOMAIN
from core.identity.attempts import attempt_key, claim_attempt, clear_attempts
from core.identity.models import User
from core.identity.passwords import PasswordPolicyError, check_password, hash_password
from core.identity.service import Principal, principal_for
from core.identity.sessions import (
    COOKIE,
    SignInError,
    clear_session_cookie,
    csrf_matches,
    end_other_sessions,
    end_session,
    session_cookie,
    session_user,
    sign_in,
)
from core.tenancy.models import Tenant
from core.web.errors import ApiError
from core.web.state import CoreState
from core.web.ui.forms import form_data, redirect, safe_next
from core.web.ui.i18n import LOCALES, translator
from core.web.ui.render import LANG_COOKIE, my_tenants, page, request_locale

__all__ = ["AUTH_PAGES"]

LOGIN_CSRF = "madoguchi_login_csrf"
CLIENT_ROLES = {"client_admin", "client_viewer"}


async def home_for(request: Request[Any, Any, Any], principal: Principal) -> str:
    """Where a user starts: the admin console, their first client's workspace or portal."""
    if principal.roles_in(PLATFORM_DOMAIN):
        return "/admin"
    tenants = await my_tenants(request, principal)
    if not tenants:
        return "/account"
    first = tenants[0]
    roles = principal.roles_in(f"t:{first.id}")
    return f"/t/{first.slug}/portal" if roles <= CLIENT_ROLES else f"/t/{first.slug}/"


async def _signed_in(request: Request[Any, Any, Any], core: CoreState) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    live = await session_user(core.db, token)
    if live is None:
        return None
    async with core.db.session() as session:
        user = await session.get(User, live[0])
        return await principal_for(session, user) if user and user.is_active else None


@get("/", opt={"public": True}, include_in_schema=False)
async def start_page(
    request: Request[Any, Any, Any], core: NamedDependency[CoreState]
) -> Response[Any]:
    principal = await _signed_in(request, core)
    if principal is not None:
        request.state.principal = principal
        return redirect(await home_for(request, principal))
    async with core.db.session() as session:
        count = len((await session.exec(select(Tenant.id))).all())
    return await page(
        request,
        "home.html",
        title="窓口 Madoguchi",
        tenants=count,
        plugins=len(core.host.manifests),
    )


def _login_page_csrf(request: Request[Any, Any, Any]) -> str:
    return request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(24)


@get("/login", opt={"public": True}, include_in_schema=False)
async def login_form(
    request: Request[Any, Any, Any],
    next: FromQuery[str | None] = None,
    expired: FromQuery[int | None] = None,
) -> Template:
    token = _login_page_csrf(request)
    request.state.csrf = token
    t = translator(request_locale(request))
    response = await page(
        request,
        "login.html",
        title=t.gettext("Sign in"),
        next=safe_next(next, ""),
        expired=bool(expired),
    )
    response.cookies.append(
        Cookie(key=LOGIN_CSRF, value=token, httponly=True, samesite="strict", path="/")
    )
    return response


@post("/login", opt={"public": True, "per_client_per_minute": 30}, include_in_schema=False)
async def login_submit(
    request: Request[Any, Any, Any], core: NamedDependency[CoreState]
) -> Response[Any]:
    data = await form_data(request)
    t = translator(request_locale(request))
    if not csrf_matches(request.cookies.get(LOGIN_CSRF, ""), data.get("_csrf")) or not data.get(
        "_csrf"
    ):
        raise ApiError(403, t.gettext("The form has expired. Please try again."), code="csrf")
    client = request.client.host if request.client else ""
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    try:
        with acting_as(Actor(request_id=request_id, client_addr=client, via="web")):
            signed = await sign_in(
                core.db,
                core.keyring,
                data.get("email", ""),
                data.get("password", ""),
                data.get("totp") or None,
                client,
            )
    except SignInError as exc:
        throttled = exc.code == "throttled"
        # one answer for every other refusal: which check failed is not told (see sign_in)
        message = (
            t.gettext(
                "Too many failed sign-ins for this account from your address: please wait a few minutes."
            )
            if throttled
            else t.gettext(
                "The e-mail address, the password or the one-time code is wrong. Accounts with a platform role need the one-time code of their authenticator app (an administrator enrols it: madoguchi user totp)."
            )
        )
        refused = await page(
            request,
            "login.html",
            title=t.gettext("Sign in"),
            status_code=429 if throttled else 401,
            error=message,
            email=data.get("email", ""),
            next=safe_next(data.get("next"), ""),
        )
        if exc.retry_after:
            refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    async with core.db.session() as session:
        user = await session.get(User, signed.user_id)
        assert user is not None
        principal = await principal_for(session, user)
    request.state.principal = principal
    target = safe_next(data.get("next"), "") or await home_for(request, principal)
    response = redirect(target)
    response.cookies.append(session_cookie(signed.token, secure=core.settings.secure_cookies))
    response.cookies.append(Cookie(key=LOGIN_CSRF, value="", max_age=0, path="/"))
    return response


@post("/logout", opt={"authenticated": True}, include_in_schema=False)
async def logout_submit(
    request: Request[Any, Any, Any], core: NamedDependency[CoreState]
) -> Redirect:
    token = request.cookies.get(COOKIE)
    if token:
        await end_session(core.db, token)
    response = redirect("/login")
    response.cookies.append(clear_session_cookie())
    return response


@post("/language", opt={"public": True}, include_in_schema=False)
async def switch_language(
    request: Request[Any, Any, Any], core: NamedDependency[CoreState]
) -> Redirect:
    """The language, remembered per user when signed in (and in a cookie either way)."""
    data = await form_data(request)
    lang = data.get("lang", "")
    if lang not in LOCALES:
        raise ApiError(400, "unknown language", field="lang")
    principal = await _signed_in(request, core)
    if principal is not None:
        live = await session_user(core.db, request.cookies.get(COOKIE, ""))
        if live is None or not csrf_matches(live[1], data.get("_csrf")):
            raise ApiError(403, "The CSRF token is missing or wrong.", code="csrf")
        async with core.db.session() as session:
            user = await session.get(User, principal.user_id)
            assert user is not None
            user.language = lang
    elif not csrf_matches(request.cookies.get(LOGIN_CSRF, "") or "-", data.get("_csrf")):
        raise ApiError(403, "The CSRF token is missing or wrong.", code="csrf")
    response = redirect(safe_next(data.get("next")))
    response.cookies.append(
        Cookie(key=LANG_COOKIE, value=lang, samesite="lax", path="/", max_age=3600 * 24 * 365)
    )
    return response


@get("/account", opt={"authenticated": True}, include_in_schema=False)
async def account(request: Request[Any, Any, Any]) -> Template:
    t = translator(request_locale(request))
    return await page(request, "account.html", title=t.gettext("My account"))


@post("/account/password", opt={"authenticated": True}, include_in_schema=False)
async def change_password(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    principal: NamedDependency[Principal],
) -> Template:
    data = await form_data(request)
    t = translator(request_locale(request))

    async def again(message: str, kind: str = "error", status: int = 400) -> Template:
        return await page(
            request,
            "account.html",
            title=t.gettext("My account"),
            flash=message,
            flash_kind=kind,
            status_code=status,
        )

    if data.get("new") != data.get("again"):
        return await again(t.gettext("The two new passwords differ."))
    # guesses of the current password are throttled like sign-ins (a stolen session must
    # not be a way to find the password); the count is per account and address
    key = attempt_key(principal.email, request.client.host if request.client else "")
    if await claim_attempt(core.db, key) is not None:
        return await again(
            t.gettext(
                "Too many failed sign-ins for this account from your address: please wait a few minutes."
            ),
            status=429,
        )
    async with core.db.session() as session:
        user = await session.get(User, principal.user_id)
        assert user is not None
        ok, _ = await asyncio.to_thread(check_password, user.password_hash, data.get("current", ""))
        if not ok:
            return await again(t.gettext("The current password is wrong."))
        await clear_attempts(session, key)
        try:
            user.password_hash = await asyncio.to_thread(hash_password, data.get("new", ""))
        except PasswordPolicyError:
            return await again(t.gettext("A password needs at least 12 characters."))
        # a session stolen before the change must not outlive the old password
        ended = await end_other_sessions(
            session, principal.user_id, keep=request.cookies.get(COOKIE)
        )
        await record(
            session,
            "user.password",
            object_type="user",
            object_id=principal.user_id,
            fields=[f"sessions_ended:{ended}"],
        )
    return await again(
        t.gettext("Your password was changed, and your other sessions were signed out."), "ok", 200
    )


@get("/switch", opt={"authenticated": True}, include_in_schema=False)
async def switch_client(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], to: FromQuery[str] = ""
) -> Redirect:
    for tenant in await my_tenants(request, principal):
        if tenant.slug == to:
            roles = principal.roles_in(f"t:{tenant.id}")
            return redirect(
                f"/t/{tenant.slug}/portal" if roles <= CLIENT_ROLES else f"/t/{tenant.slug}/"
            )
    raise ApiError(404, "No such tenant.")


@get("/t/{tenant:str}/theme.css", opt={"public": True}, include_in_schema=False)
async def tenant_theme(request: Request[Any, Any, Any]) -> Response[str]:
    color = request.state.tenant.ctx.color
    return Response(
        f":root {{ --client: {color}; }}\n",
        media_type="text/css",
        headers={"Cache-Control": "private, max-age=300"},
    )


AUTH_PAGES = [
    start_page,
    login_form,
    login_submit,
    logout_submit,
    switch_language,
    account,
    change_password,
    switch_client,
    tenant_theme,
]
