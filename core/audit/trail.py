"""Events that concern tenants but happen on the platform: written to both sides.

A grant, a revoke, a token, an approval or a change of a tenant's security settings is made by
the BPO on its platform, but it decides who reaches a client's customers. The client must see
it in its own chain (its portal's access log), so such an event is appended to the platform
chain and to the chain of every tenant it concerns, in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import record
from core.db.session import session_tenant_id, switch_tenant

__all__ = ["record_for_tenants"]


async def record_for_tenants(
    session: AsyncSession,
    tenant_ids: Iterable[int],
    action: str,
    *,
    object_type: str = "",
    object_id: str | int = "",
    fields: Iterable[str] = (),
    purpose: str = "",
    outcome: str = "ok",
) -> None:
    """Append one event to the platform chain and the same event to each tenant's chain.
    ``session`` must be a platform session (it is pointed at each tenant and back)."""
    if session_tenant_id(session.sync_session) is not None:
        raise RuntimeError("record_for_tenants needs a platform session")
    listed = list(fields)
    await record(
        session,
        action,
        object_type=object_type,
        object_id=object_id,
        fields=listed,
        purpose=purpose,
        outcome=outcome,
    )
    for tenant_id in sorted(set(tenant_ids)):
        await switch_tenant(session, tenant_id)
        try:
            await record(
                session,
                action,
                object_type=object_type,
                object_id=object_id,
                fields=listed,
                purpose=purpose,
                outcome=outcome,
            )
        finally:
            await switch_tenant(session, None)
