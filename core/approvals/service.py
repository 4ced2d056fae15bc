"""Requesting, approving and revoking access; requesting security-setting changes.

Every grant is a :class:`ChangeRequest`: one that needs a second person stays pending until
an eligible approver (the tenant's ``client_admin`` or a ``security_officer``, never the
requester nor the person it is for) decides; one that needs nobody is approved as it is made,
with the reason in ``basis``. Deciding is one conditional ``UPDATE ... WHERE status =
'pending'``, so two approvers racing cannot both apply it. Each step is audited in the
platform chain and in the chain of every tenant it concerns (:mod:`core.audit.trail`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.approvals.models import Basis, ChangeKind, ChangeRequest, Status, open_key
from core.approvals.rules import (
    APPROVERS_IN_TENANT,
    PLATFORM_APPROVER,
    REQUEST_VALID_FOR,
    SECURITY_SETTINGS,
    ApprovalError,
    role_conflict,
)
from core.audit.trail import record_for_tenants
from core.authz.roles import PLATFORM_ROLES, TENANT_ROLES
from core.db.base import utcnow
from core.identity.models import RoleGrant, User
from core.tenancy.models import Tenant, TenantStatus

__all__ = [
    "Requester",
    "decide",
    "held_roles",
    "request_grant",
    "request_security_change",
    "revoke",
    "withdraw",
]


@dataclass(frozen=True)
class Requester:
    """Who asks: a signed-in person, or the server's console (``user_id`` None)."""

    user_id: int | None
    via: str = "api"


async def _user(session: AsyncSession, email: str) -> User:
    user = (await session.exec(select(User).where(User.email == email.strip().lower()))).first()
    if user is None or user.id is None:
        raise ApprovalError(404, f"no user {email}", field="email")
    return user


async def _tenant(session: AsyncSession, slug: str | None) -> Tenant | None:
    if slug is None:
        return None
    tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).first()
    if tenant is None or tenant.status == TenantStatus.OFFBOARDED:
        raise ApprovalError(404, f"no tenant {slug}", field="tenant")
    return tenant


async def held_roles(session: AsyncSession, user_id: int) -> dict[int | None, set[str]]:
    """The roles a person holds now, by tenant id (None: the platform), read fresh."""
    held: dict[int | None, set[str]] = {}
    for grant in (await session.exec(select(RoleGrant).where(RoleGrant.user_id == user_id))).all():
        held.setdefault(grant.tenant_id, set()).add(grant.role)
    return held


async def _active_tenant_ids(session: AsyncSession) -> list[int]:
    rows = await session.exec(select(Tenant.id).where(Tenant.status != TenantStatus.OFFBOARDED))
    return [tid for tid in rows.all() if tid is not None]


async def _concerned(session: AsyncSession, row: ChangeRequest) -> list[int]:
    """The tenants whose chains a change is written to: its own, or for a platform role every
    tenant (an officer approves access to every tenant's customers)."""
    if row.tenant_id is not None:
        return [row.tenant_id]
    return await _active_tenant_ids(session)


def _check_scope(role: str, tenant: Tenant | None) -> None:
    if role in PLATFORM_ROLES and tenant is not None:
        raise ApprovalError(422, f"{role} is a platform role: give no tenant", field="tenant")
    if role in TENANT_ROLES and tenant is None:
        raise ApprovalError(422, f"{role} is a tenant role: give a tenant", field="tenant")
    if role not in PLATFORM_ROLES + TENANT_ROLES:
        raise ApprovalError(422, f"unknown role {role}", field="role")


async def _immediate_basis(
    session: AsyncSession, requester: Requester, role: str, tenant: Tenant | None, subject: int
) -> str | None:
    """Why a grant may take effect without a second person, or None when it needs one."""
    if tenant is None:
        return Basis.CONSOLE if requester.user_id is None else None
    if role == "client_viewer" and "client_viewer" not in (tenant.role_templates or {}):
        return Basis.NO_APPROVAL_NEEDED  # masked reports only (a custom template may add more)
    if role == "client_admin" and tenant.onboarding_admin_id is None:
        # the tenant's first client_admin, once: taken atomically, so two requests racing
        # for the exception cannot both have it
        claimed = await session.exec(
            sa.update(Tenant)
            .where(col(Tenant.id) == tenant.id, col(Tenant.onboarding_admin_id).is_(None))
            .values(onboarding_admin_id=subject)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:
            return Basis.ONBOARDING
    return None


async def request_grant(
    session: AsyncSession,
    requester: Requester,
    email: str,
    role: str,
    tenant_slug: str | None = None,
) -> ChangeRequest:
    """Ask for ``role`` (in ``tenant_slug``, or on the platform) for the person ``email``.

    Refused: a grant to oneself, a role the person holds, a role that does not mix with one
    they hold, one already asked for. Granted at once (returned approved) when no second
    person is needed; else returned pending. ``session`` is a platform session."""
    tenant = await _tenant(session, tenant_slug)
    _check_scope(role, tenant)
    subject = await _user(session, email)
    assert subject.id is not None
    if requester.user_id == subject.id:
        raise ApprovalError(403, "Nobody grants a role to themselves.", field="email")
    held = await held_roles(session, subject.id)
    tenant_id = tenant.id if tenant else None
    if role in held.get(tenant_id, set()):
        raise ApprovalError(409, f"{subject.email} holds {role} there already.", field="role")
    conflict = role_conflict(role, held)
    if conflict:
        raise ApprovalError(409, conflict, field="role")
    basis = await _immediate_basis(session, requester, role, tenant, subject.id)
    now = utcnow()
    row = ChangeRequest(
        kind=ChangeKind.ROLE_GRANT,
        tenant_id=tenant_id,
        subject_user_id=subject.id,
        role=role,
        status=Status.APPROVED if basis else Status.PENDING,
        basis=basis or "",
        requested_by=requester.user_id,
        requested_via=requester.via,
        requested_at=now,
        decided_at=now if basis else None,
        expires_at=now + REQUEST_VALID_FOR,
    )
    await _insert(session, row, "This grant has been asked for already and awaits approval.")
    if basis:
        await _grant(session, row)
    await _audit(session, row, "role.grant" if basis else "role.request")
    return row


async def _insert(session: AsyncSession, row: ChangeRequest, duplicate: str) -> None:
    """Store a request. An open one takes its ``open_key``, whose uniqueness keeps a second
    identical open request from existing even when both are made at the same moment (the
    loser's transaction fails, so its answer is this refusal and nothing of it is kept)."""
    if row.status == Status.PENDING:
        row.open_key = open_key(row.kind, row.tenant_id, row.subject_user_id, row.role)
        open_one = (
            await session.exec(
                select(ChangeRequest.id).where(ChangeRequest.open_key == row.open_key)
            )
        ).first()
        if open_one is not None:
            raise ApprovalError(409, f"{duplicate} (request {open_one})")
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise ApprovalError(409, duplicate) from None


async def _grant(session: AsyncSession, row: ChangeRequest) -> None:
    assert row.subject_user_id is not None and row.role is not None
    held = await held_roles(session, row.subject_user_id)
    if row.role in held.get(row.tenant_id, set()):
        return
    conflict = role_conflict(row.role, held)  # the person may have gained a role since
    if conflict:
        raise ApprovalError(409, conflict, field="role")
    session.add(
        RoleGrant(
            user_id=row.subject_user_id, role=row.role, tenant_id=row.tenant_id, request_id=row.id
        )
    )
    await _bump(session, row.tenant_id)
    await session.flush()


async def _bump(session: AsyncSession, tenant_id: int | None) -> None:
    """Grants and security settings are tenant configuration: caches on every node notice."""
    if tenant_id is not None:
        await session.exec(
            sa.update(Tenant)
            .where(col(Tenant.id) == tenant_id)
            .values(config_version=col(Tenant.config_version) + 1)
            .execution_options(synchronize_session=False)
        )


async def _may_decide(session: AsyncSession, row: ChangeRequest, user_id: int) -> None:
    if user_id in (row.requested_by, row.subject_user_id):
        raise ApprovalError(
            403, "A second person must decide: not the one who asked, nor the one it is for."
        )
    held = await held_roles(session, user_id)
    if PLATFORM_APPROVER in held.get(None, set()):
        return
    if row.tenant_id is not None and held.get(row.tenant_id, set()) & set(APPROVERS_IN_TENANT):
        return
    raise ApprovalError(403, "Only the tenant's client_admin or a security_officer may decide.")


async def decide(
    session: AsyncSession,
    request_id: int,
    user_id: int,
    *,
    accept: bool,
    tenant_id: int | None = None,
) -> ChangeRequest:
    """Approve or reject a pending request as ``user_id`` (a platform session). With
    ``tenant_id`` the request must concern that tenant (a tenant's own approval page)."""
    row = await session.get(ChangeRequest, request_id)
    if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
        raise ApprovalError(404, "No such request.")
    if row.status != Status.PENDING:
        raise ApprovalError(409, f"The request is {row.status} already.")
    now = utcnow()
    if row.expires_at <= now:
        raise ApprovalError(409, "The request has expired; ask again.")
    await _may_decide(session, row, user_id)
    status = Status.APPROVED if accept else Status.REJECTED
    taken = await session.exec(
        sa.update(ChangeRequest)
        .where(col(ChangeRequest.id) == request_id, col(ChangeRequest.status) == Status.PENDING)
        .values(
            status=status,
            decided_by=user_id,
            decided_at=now,
            basis=Basis.APPROVAL if accept else "",
            open_key=None,
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # another decision came first
        raise ApprovalError(409, "The request was decided already.")
    await session.refresh(row)
    if accept:
        if row.kind == ChangeKind.ROLE_GRANT:
            await _grant(session, row)
        else:
            await _apply_security(session, row)
    verb = "approve" if accept else "reject"
    await _audit(
        session, row, f"{'role' if row.kind == ChangeKind.ROLE_GRANT else 'tenant.security'}.{verb}"
    )
    return row


async def withdraw(session: AsyncSession, request_id: int, user_id: int | None) -> ChangeRequest:
    """The person who asked takes a pending request back."""
    row = await session.get(ChangeRequest, request_id)
    if row is None:
        raise ApprovalError(404, "No such request.")
    if row.requested_by != user_id:
        raise ApprovalError(403, "Only the person who asked may withdraw a request.")
    taken = await session.exec(
        sa.update(ChangeRequest)
        .where(col(ChangeRequest.id) == request_id, col(ChangeRequest.status) == Status.PENDING)
        .values(status=Status.WITHDRAWN, decided_at=utcnow(), open_key=None)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise ApprovalError(409, f"The request is {row.status} already.")
    await session.refresh(row)
    await _audit(session, row, "request.withdraw")
    return row


async def revoke(
    session: AsyncSession, email: str, role: str, tenant_slug: str | None = None
) -> bool:
    """Take a role away at once (less access needs nobody's approval); audited on both sides.
    Returns False when the person did not hold it."""
    tenant = await _tenant(session, tenant_slug)
    subject = await _user(session, email)
    tenant_id = tenant.id if tenant else None
    grants = (
        await session.exec(
            select(RoleGrant).where(RoleGrant.user_id == subject.id, RoleGrant.role == role)
        )
    ).all()
    removed = [g for g in grants if g.tenant_id == tenant_id]
    for grant in removed:
        await session.delete(grant)
    if not removed:
        return False
    await _bump(session, tenant_id)
    await session.flush()
    concerned = [tenant_id] if tenant_id is not None else await _active_tenant_ids(session)
    await record_for_tenants(
        session,
        concerned,
        "role.revoke",
        object_type="user",
        object_id=subject.id or "",
        fields=[role, f"tenant:{tenant_id or 'platform'}"],
    )
    return True


# -- security settings ------------------------------------------------------------------------


def security_values(tenant: Tenant) -> dict[str, Any]:
    """A tenant's current security settings, as a change request names them."""
    values = {name: getattr(tenant, name) for name in SECURITY_SETTINGS if name != "role_templates"}
    values["role_templates"] = dict(tenant.role_templates or {})
    return values


async def pending_security_change(session: AsyncSession, tenant_id: int) -> ChangeRequest | None:
    return (
        await session.exec(
            select(ChangeRequest).where(
                ChangeRequest.kind == ChangeKind.TENANT_SECURITY,
                ChangeRequest.tenant_id == tenant_id,
                ChangeRequest.status == Status.PENDING,
            )
        )
    ).first()


async def request_security_change(
    session: AsyncSession, requester: Requester, tenant: Tenant, wanted: dict[str, Any]
) -> ChangeRequest | None:
    """Ask for new security settings of ``tenant`` (the ones that differ from today's); None
    when nothing differs. An open request with the same changes is returned as it is; one
    with other changes is withdrawn in favour of the new one (one open request per tenant)."""
    current = security_values(tenant)
    changes = {k: v for k, v in wanted.items() if k in SECURITY_SETTINGS and current[k] != v}
    if not changes:
        return None
    assert tenant.id is not None
    pending = await pending_security_change(session, tenant.id)
    if pending is not None:
        if pending.changes == changes:
            return pending
        pending.status, pending.decided_at, pending.open_key = Status.WITHDRAWN, utcnow(), None
        await session.flush()
        await _audit(session, pending, "request.withdraw")
    now = utcnow()
    row = ChangeRequest(
        kind=ChangeKind.TENANT_SECURITY,
        tenant_id=tenant.id,
        changes=changes,
        requested_by=requester.user_id,
        requested_via=requester.via,
        requested_at=now,
        expires_at=now + REQUEST_VALID_FOR,
    )
    await _insert(session, row, "A change of the security settings awaits approval already.")
    await _audit(session, row, "tenant.security.request")
    return row


async def record_creation(session: AsyncSession, requester: Requester, tenant: Tenant) -> None:
    """The security settings a new tenant starts with, recorded as the first entry of its
    history (and of its chain), so the client sees them as what onboarding set."""
    now = utcnow()
    row = ChangeRequest(
        kind=ChangeKind.TENANT_SECURITY,
        tenant_id=tenant.id,
        changes=security_values(tenant),
        status=Status.APPROVED,
        basis=Basis.TENANT_CREATED,
        requested_by=requester.user_id,
        requested_via=requester.via,
        requested_at=now,
        decided_at=now,
        expires_at=now,
    )
    await _insert(session, row, "")
    await _audit(session, row, "tenant.security")


def check_limits(values: dict[str, Any]) -> None:
    for kind in ("reveal", "read"):
        soft, hard = values[f"{kind}_soft_limit"], values[f"{kind}_hard_limit"]
        if soft and hard and soft > hard:
            raise ApprovalError(
                409, f"{kind}_soft_limit would exceed {kind}_hard_limit", field=f"{kind}_soft_limit"
            )


async def _apply_security(session: AsyncSession, row: ChangeRequest) -> None:
    tenant = await session.get(Tenant, row.tenant_id)
    if tenant is None:
        raise ApprovalError(404, "No such tenant.")
    merged = {**security_values(tenant), **row.changes}
    check_limits(merged)
    for name, value in row.changes.items():
        setattr(tenant, name, dict(value) if name == "role_templates" else value)
    tenant.updated_at = utcnow()
    await _bump(session, tenant.id)
    await session.flush()


# -- the trail --------------------------------------------------------------------------------


async def _audit(session: AsyncSession, row: ChangeRequest, action: str) -> None:
    if row.kind == ChangeKind.ROLE_GRANT:
        fields = [row.role or "", f"tenant:{row.tenant_id or 'platform'}"]
        object_type, object_id = "user", row.subject_user_id or ""
    else:
        fields = sorted(row.changes)
        object_type, object_id = "tenant", row.tenant_id or ""
    if row.basis:
        fields.append(f"basis:{row.basis}")
    await record_for_tenants(
        session,
        await _concerned(session, row),
        action,
        object_type=object_type,
        object_id=object_id,
        fields=fields,
        purpose=f"request:{row.id}",
        outcome=row.status,
    )


async def requests(
    session: AsyncSession, *, tenant_id: int | None = None, status: str | None = None
) -> list[ChangeRequest]:
    """Requests, newest first: one tenant's (``tenant_id``) or all."""
    statement = select(ChangeRequest).order_by(col(ChangeRequest.id).desc()).limit(500)
    if tenant_id is not None:
        statement = statement.where(ChangeRequest.tenant_id == tenant_id)
    if status is not None:
        statement = statement.where(ChangeRequest.status == status)
    return list((await session.exec(statement)).all())


async def related(session: AsyncSession, a: int, b: int, since: datetime) -> str | None:
    """Why two people are too close to be each other's second pair of eyes (None: they are
    not): since ``since``, one made the other's account, or asked for or approved a role of
    the other's. Works in any session (the tables read are platform tables)."""
    for one, other in ((a, b), (b, a)):
        made = await session.get(User, one)
        if made is not None and made.created_by == other and made.created_at >= since:
            return "one of you made the other's account"
        granted = (
            await session.exec(
                select(ChangeRequest.id).where(
                    ChangeRequest.kind == ChangeKind.ROLE_GRANT,
                    ChangeRequest.subject_user_id == one,
                    ChangeRequest.status == Status.APPROVED,
                    sa.or_(
                        col(ChangeRequest.requested_by) == other,
                        col(ChangeRequest.decided_by) == other,
                    ),
                    col(ChangeRequest.decided_at) >= since,
                )
            )
        ).first()
        if granted is not None:
            return "one of you granted the other's role"
    return None
