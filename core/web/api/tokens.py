"""API tokens: each person makes their own; administrators list and revoke, never mint.

A token is created only while signed in with a password (the session cookie), never with
another token, so a leaked token cannot breed longer-lived ones. The server's console may
still create one for bootstrapping (``madoguchi token create``), audited like the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.identity.models import ApiToken, User
from core.identity.service import (
    IdentityError,
    Principal,
    create_token,
    hash_token,
    revoke_token,
)
from core.tenancy.models import Tenant
from core.web.errors import ApiError
from core.web.inputs import RowId
from core.web.openapi import refusals
from core.web.schemas import StrictBody

__all__ = ["AdminTokensController", "OwnTokensController", "TokenOut", "token_outs"]

MAX_DAYS = 365


class TokenIn(StrictBody):
    tenant: str | None = Field(default=None, max_length=63, description="bind it to one tenant")
    expires_days: int = Field(default=30, ge=1, le=MAX_DAYS)


class TokenOut(BaseModel):
    id: int
    prefix: str
    user: str
    tenant: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


class TokenCreated(BaseModel):
    token: str = Field(description="shown once; only its hash is stored")
    info: TokenOut


async def token_outs(session: AsyncSession, tokens: list[ApiToken]) -> list[TokenOut]:
    ids = {t.user_id for t in tokens}
    emails = (
        {u.id: u.email for u in (await session.exec(select(User).where(col(User.id).in_(ids))))}
        if ids
        else {}
    )
    slugs = {t.id: t.slug for t in (await session.exec(select(Tenant))).all()}
    return [
        TokenOut(
            id=t.id or 0,
            prefix=t.prefix,
            user=emails.get(t.user_id, "?"),
            tenant=slugs.get(t.tenant_id) if t.tenant_id else None,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked=t.revoked_at is not None,
        )
        for t in tokens
    ]


class OwnTokensController(Controller):
    path = "/api/v1/auth/tokens"
    tags = ("auth",)

    @get("/", opt={"authenticated": True})
    async def mine(
        self, session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> list[TokenOut]:
        rows = (
            await session.exec(
                select(ApiToken)
                .where(ApiToken.user_id == principal.user_id)
                .order_by(col(ApiToken.id).desc())
            )
        ).all()
        return await token_outs(session, list(rows))

    @post("/", opt={"authenticated": True})
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TokenIn],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Response[TokenCreated]:
        """A token for yourself. Needs the session of a sign-in (with its CSRF token), not
        another token."""
        if request.headers.get("authorization"):
            raise ApiError(
                403, "Tokens are made while signed in, not with another token.", code="sign_in"
            )
        try:
            token = await create_token(
                session, principal.email, tenant_slug=data.tenant, expires_days=data.expires_days
            )
        except IdentityError as exc:
            raise ApiError(422, str(exc), field="tenant") from exc
        row = (
            await session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        ).one()
        [info] = await token_outs(session, [row])
        return Response(
            TokenCreated(token=token, info=info),
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @post(
        "/{token_id:int}/revoke",
        opt={"authenticated": True},
        status_code=200,
        responses=refusals(404, s404="No such live token of yours."),
    )
    async def revoke(
        self,
        token_id: RowId,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> dict[str, bool]:
        if not await revoke_token(session, token_id, owner=principal.user_id):
            raise ApiError(404, "No such live token of yours.")
        return {"revoked": True}


class AdminTokensController(Controller):
    path = "/api/v1/admin/tokens"
    tags = ("admin",)

    @get("/", opt={"permission": "token:manage"})
    async def index(self, session: NamedDependency[AsyncSession]) -> list[TokenOut]:
        rows = (await session.exec(select(ApiToken).order_by(col(ApiToken.id).desc()))).all()
        return await token_outs(session, list(rows))

    @post(
        "/{token_id:int}/revoke",
        opt={"permission": "token:manage"},
        status_code=200,
        responses=refusals(404, s404="No such live token."),
    )
    async def revoke(
        self, token_id: RowId, session: NamedDependency[AsyncSession]
    ) -> dict[str, bool]:
        if not await revoke_token(session, token_id):
            raise ApiError(404, "No such live token.")
        return {"revoked": True}
