"""Whether another user may do something in the request's tenant.

For a plugin that names a user other than the caller (an inquiry's assignee): the same
decision the access gate makes for the caller, from that user's tenant grants read fresh in
the caller's transaction and the tenant's role templates. Kept apart from the gate itself.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.identity.models import RoleGrant, User
from core.identity.service import tenant_domain
from core.web.state import RequestTenant, core_state

__all__ = ["user_may"]

_MAX_ID = 2**31 - 1  # ids are 32-bit integers: anything larger names nobody


async def user_may(
    request: Request[Any, Any, Any], session: AsyncSession, user_id: int, permission: str
) -> bool:
    """Whether ``user_id``, an active user, holds a role in the request's tenant that grants
    ``permission`` there. Platform roles (and the security officer's oversight) do not count:
    they work no tenant's queues."""
    tenant: RequestTenant = request.state.tenant
    if not 1 <= user_id <= _MAX_ID:
        return False
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return False
    roles = (
        await session.exec(
            select(RoleGrant.role).where(
                col(RoleGrant.user_id) == user_id, col(RoleGrant.tenant_id) == tenant.ctx.id
            )
        )
    ).all()
    return core_state(request.app.state).authorizer.allows(
        roles,
        tenant_domain(tenant.ctx.id),
        permission,
        version=tenant.version,
        templates=tenant.role_templates,
    )
