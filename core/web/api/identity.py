"""Signing in and out, and who am I."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from pydantic import Field
from sqlmodel import select

from core.audit.log import Actor, acting_as
from core.identity.service import Principal
from core.identity.sessions import (
    COOKIE,
    SignInError,
    clear_session_cookie,
    end_session,
    session_cookie,
    sign_in,
)
from core.tenancy.models import Tenant
from core.web.errors import ApiError
from core.web.openapi import refusals
from core.web.schemas import StrictBody
from core.web.state import CoreState

__all__ = ["AuthController"]

_STATUS = {"invalid": 401, "throttled": 429}


class LoginIn(StrictBody):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    totp: str | None = Field(default=None, max_length=12)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ("auth",)

    @post(
        "/login",
        opt={"public": True, "per_client_per_minute": 30},
        status_code=200,
        responses=refusals(401, s401="The e-mail address, password or code is wrong."),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginIn],
        core: NamedDependency[CoreState],
    ) -> Response[dict[str, Any]]:
        client = request.client.host if request.client else ""
        request_id = str(request.scope.get("state", {}).get("request_id", ""))
        with acting_as(Actor(request_id=request_id, client_addr=client, via="api")):
            try:
                signed = await sign_in(
                    core.db, core.keyring, data.email, data.password, data.totp, client
                )
            except SignInError as exc:
                wait = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
                raise ApiError(_STATUS[exc.code], str(exc), code=exc.code, headers=wait) from exc
        cookie = session_cookie(signed.token, secure=core.settings.secure_cookies)
        return Response(
            {"csrf_token": signed.csrf_token, "expires_at": signed.expires_at_iso},
            cookies=[cookie],
            headers={"Cache-Control": "no-store"},
        )

    @post("/logout", opt={"authenticated": True}, status_code=200)
    async def logout(
        self, request: Request[Any, Any, Any], core: NamedDependency[CoreState]
    ) -> Response[dict[str, bool]]:
        token = request.cookies.get(COOKIE)
        ended = await end_session(core.db, token) if token else False
        return Response({"signed_out": ended}, cookies=[clear_session_cookie()])

    @get("/me", opt={"authenticated": True})
    async def me(
        self, principal: NamedDependency[Principal], core: NamedDependency[CoreState]
    ) -> dict[str, Any]:
        async with core.db.session() as session:
            slugs = {f"t:{t.id}": t.slug for t in (await session.exec(select(Tenant))).all()}
        return {
            "user_id": principal.user_id,
            "email": principal.email,
            "roles": {
                slugs.get(domain, domain): sorted(roles)
                for domain, roles in principal.roles.items()
            },
        }
