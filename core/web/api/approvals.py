"""The API of separation of duties: accounts, grants, approvals, and each tenant's view of them.

Platform routes live under ``/api/v1/admin``; a tenant's client_admin decides and every member
of the client reads its side under ``/api/v1/t/{tenant}``. The service
(:mod:`core.approvals.service`) applies the rules; these routes only say who may ask.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.approvals.models import ChangeRequest
from core.approvals.rules import ApprovalError
from core.approvals.schemas import (
    AccessGrant,
    ChangeRequestOut,
    GrantIn,
    StatusName,
    UserCreated,
    UserIn,
    UserOut,
)
from core.approvals.service import Requester, decide, request_grant, requests, revoke, withdraw
from core.identity.models import RoleGrant, User
from core.identity.service import IdentityError, Principal, UserExists, create_user, invite
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant
from core.web.errors import ApiError
from core.web.inputs import RowId
from core.web.openapi import refusals
from core.web.state import CoreState

__all__ = [
    "AdminApprovalsController",
    "AdminUsersController",
    "TenantAccessController",
    "invitation_url",
    "request_outs",
    "user_outs",
]


_DECISION_REFUSALS = refusals(
    404,
    409,
    s404="No such request (or none that concerns this tenant).",
    s409="The request was decided already, or has expired.",
)


def _fail(exc: ApprovalError | IdentityError) -> ApiError:
    if isinstance(exc, IdentityError):
        return ApiError(409 if isinstance(exc, UserExists) else 422, str(exc), field="email")
    return ApiError(exc.status, exc.message, field=exc.field)


def _via(request: Request[Any, Any, Any]) -> str:
    return "api" if request.headers.get("authorization") else "web"


def invitation_url(request: Request[Any, Any, Any], token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/invite/{token}"


async def _emails(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    users = (await session.exec(select(User).where(col(User.id).in_(wanted)))).all()
    return {u.id: u.email for u in users if u.id is not None}


async def _slugs(session: AsyncSession) -> dict[int, str]:
    return {t.id: t.slug for t in (await session.exec(select(Tenant))).all() if t.id is not None}


async def request_outs(session: AsyncSession, rows: list[ChangeRequest]) -> list[ChangeRequestOut]:
    names = await _emails(
        session, {i for r in rows for i in (r.subject_user_id, r.requested_by, r.decided_by)}
    )
    slugs = await _slugs(session)
    return [
        ChangeRequestOut(
            id=r.id or 0,
            kind=r.kind,
            tenant=slugs.get(r.tenant_id) if r.tenant_id else None,
            subject=names.get(r.subject_user_id or 0),
            role=r.role,
            changes=r.changes,
            status=r.status,
            basis=r.basis,
            requested_by=names.get(r.requested_by or 0),
            requested_via=r.requested_via,
            requested_at=r.requested_at,
            decided_by=names.get(r.decided_by or 0),
            decided_at=r.decided_at,
            expires_at=r.expires_at,
        )
        for r in rows
    ]


async def user_outs(session: AsyncSession, users: list[User]) -> list[UserOut]:
    ids = [u.id for u in users if u.id is not None]
    grants = (
        (await session.exec(select(RoleGrant).where(col(RoleGrant.user_id).in_(ids)))).all()
        if ids
        else []
    )
    slugs = await _slugs(session)
    makers = await _emails(session, {u.created_by for u in users})
    roles: dict[int, dict[str, list[str]]] = {}
    for g in grants:
        scope = slugs.get(g.tenant_id, "?") if g.tenant_id else "platform"
        roles.setdefault(g.user_id, {}).setdefault(scope, []).append(g.role)
    return [
        UserOut(
            id=u.id or 0,
            email=u.email,
            display_name=u.display_name,
            is_active=u.is_active,
            activated=u.activated_at is not None,
            created_at=u.created_at,
            created_by=makers.get(u.created_by or 0),
            roles={k: sorted(v) for k, v in roles.get(u.id or 0, {}).items()},
        )
        for u in users
    ]


class AdminUsersController(Controller):
    """Accounts and grants. Nobody who makes an account knows its password (the owner sets it
    through a one-time invitation); a grant of a role that reads personal data or approves
    exports waits for a second person."""

    path = "/api/v1/admin"
    tags = ("admin",)

    @get("/users", opt={"permission": "user:manage"})
    async def users(self, session: NamedDependency[AsyncSession]) -> list[UserOut]:
        users = list((await session.exec(select(User).order_by(col(User.email)))).all())
        return await user_outs(session, users)

    @post(
        "/users",
        opt={"permission": "user:manage"},
        responses=refusals(409, s409="An account with this e-mail address exists already."),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[UserIn],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Response[UserCreated]:
        try:
            user = await create_user(
                session, data.email, data.display_name, created_by=principal.user_id
            )
        except IdentityError as exc:
            raise _fail(exc) from exc
        token = await invite(session, user, created_by=principal.user_id)
        [out] = await user_outs(session, [user])
        return Response(
            UserCreated(user=out, invitation_url=invitation_url(request, token)),
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @post(
        "/grants",
        opt={"permission": "user:manage"},
        responses=refusals(
            404,
            409,
            s404="No such user, or no such tenant.",
            s409="The person holds the role already, a request for it is open, or the role "
            "conflicts with one they hold.",
        ),
    )
    async def grant(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[GrantIn],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Response[ChangeRequestOut]:
        """Ask for a role for someone. 201 with ``status`` ``approved`` when it took effect at
        once (a viewer of masked reports, a new tenant's first client_admin), ``pending``
        when it waits for the tenant's client_admin or a security_officer."""
        try:
            row = await request_grant(
                session,
                Requester(principal.user_id, _via(request)),
                data.email,
                data.role,
                data.tenant,
            )
        except (ApprovalError, IdentityError) as exc:
            raise _fail(exc) from exc
        [out] = await request_outs(session, [row])
        return Response(out, status_code=201)

    @post(
        "/grants/revoke",
        opt={"permission": "user:manage"},
        status_code=200,
        responses=refusals(404, s404="No such user, or no such tenant."),
    )
    async def revoke_grant(
        self, data: JSONBody[GrantIn], session: NamedDependency[AsyncSession]
    ) -> dict[str, bool]:
        """Take a role away; at once (less access needs no approval)."""
        try:
            return {"revoked": await revoke(session, data.email, data.role, data.tenant)}
        except ApprovalError as exc:
            raise _fail(exc) from exc


class AdminApprovalsController(Controller):
    """Requests across tenants. Anyone on the platform side sees them; a security_officer
    decides (never on their own request, nor on one that is for them)."""

    path = "/api/v1/admin/approvals"
    tags = ("admin",)

    @get("/", opt={"permission": "approval:read"})
    async def index(
        self,
        session: NamedDependency[AsyncSession],
        status: FromQuery[StatusName | None] = None,
    ) -> list[ChangeRequestOut]:
        return await request_outs(session, await requests(session, status=status))

    @post(
        "/{request_id:int}/approve",
        opt={"permission": "approval:decide"},
        status_code=200,
        responses=_DECISION_REFUSALS,
    )
    async def approve(
        self,
        request_id: RowId,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> ChangeRequestOut:
        return await _decide(session, request_id, principal.user_id, True)

    @post(
        "/{request_id:int}/reject",
        opt={"permission": "approval:decide"},
        status_code=200,
        responses=_DECISION_REFUSALS,
    )
    async def reject(
        self,
        request_id: RowId,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> ChangeRequestOut:
        return await _decide(session, request_id, principal.user_id, False)

    @post(
        "/{request_id:int}/withdraw",
        opt={"permission": "approval:read"},
        status_code=200,
        responses=refusals(
            404,
            409,
            s404="No such request.",
            s409="The request was decided already.",
        ),
    )
    async def withdraw(
        self,
        request_id: RowId,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> ChangeRequestOut:
        try:
            row = await withdraw(session, request_id, principal.user_id)
        except ApprovalError as exc:
            raise _fail(exc) from exc
        [out] = await request_outs(session, [row])
        return out


async def _decide(
    session: AsyncSession,
    request_id: int,
    user_id: int,
    accept: bool,
    tenant_id: int | None = None,
) -> ChangeRequestOut:
    try:
        row = await decide(session, request_id, user_id, accept=accept, tenant_id=tenant_id)
    except ApprovalError as exc:
        raise _fail(exc) from exc
    [out] = await request_outs(session, [row])
    return out


class TenantAccessController(Controller):
    """The client's side: who at the BPO holds which role in this tenant (asked for by whom,
    approved by whom), the requests that concern it, and its client_admin's decisions."""

    path = "/api/v1/t/{tenant:str}"
    tags = ("access",)

    @get("/access", opt={"permission": "audit:read"})
    async def access(
        self, core: NamedDependency[CoreState], ctx: NamedDependency[TenantContext]
    ) -> list[AccessGrant]:
        async with core.db.session() as platform:
            return await access_grants(platform, ctx.id)

    @get("/approvals", opt={"permission": "audit:read"})
    async def approvals(
        self,
        core: NamedDependency[CoreState],
        ctx: NamedDependency[TenantContext],
        status: FromQuery[StatusName | None] = None,
    ) -> list[ChangeRequestOut]:
        async with core.db.session() as platform:
            rows = await requests(platform, tenant_id=ctx.id, status=status)
            return await request_outs(platform, rows)

    @post(
        "/approvals/{request_id:int}/approve",
        opt={"permission": "approval:decide"},
        status_code=200,
        responses=_DECISION_REFUSALS,
    )
    async def approve(
        self,
        request_id: RowId,
        core: NamedDependency[CoreState],
        ctx: NamedDependency[TenantContext],
        principal: NamedDependency[Principal],
    ) -> ChangeRequestOut:
        async with core.db.session() as platform:
            return await _decide(platform, request_id, principal.user_id, True, ctx.id)

    @post(
        "/approvals/{request_id:int}/reject",
        opt={"permission": "approval:decide"},
        status_code=200,
        responses=_DECISION_REFUSALS,
    )
    async def reject(
        self,
        request_id: RowId,
        core: NamedDependency[CoreState],
        ctx: NamedDependency[TenantContext],
        principal: NamedDependency[Principal],
    ) -> ChangeRequestOut:
        async with core.db.session() as platform:
            return await _decide(platform, request_id, principal.user_id, False, ctx.id)


async def access_grants(session: AsyncSession, tenant_id: int) -> list[AccessGrant]:
    """Every role held in the tenant now, with the request that made it effective."""
    grants = (
        await session.exec(
            select(RoleGrant)
            .where(RoleGrant.tenant_id == tenant_id)
            .order_by(col(RoleGrant.created_at))
        )
    ).all()
    request_ids = {g.request_id for g in grants if g.request_id is not None}
    made = (
        {
            r.id: r
            for r in (
                await session.exec(
                    select(ChangeRequest).where(col(ChangeRequest.id).in_(request_ids))
                )
            ).all()
        }
        if request_ids
        else {}
    )
    people = (
        await session.exec(select(User).where(col(User.id).in_({g.user_id for g in grants})))
    ).all()
    by_id = {u.id: u for u in people}
    names = await _emails(
        session, {i for r in made.values() for i in (r.requested_by, r.decided_by)}
    )
    result = []
    for g in grants:
        source = made.get(g.request_id or 0)
        person = by_id.get(g.user_id)
        result.append(
            AccessGrant(
                user=person.email if person else "?",
                display_name=person.display_name if person else "",
                role=g.role,
                since=g.created_at,
                basis=source.basis if source else "",
                requested_by=names.get(source.requested_by or 0) if source else None,
                approved_by=names.get(source.decided_by or 0) if source else None,
                request_id=source.id if source else None,
            )
        )
    return result
