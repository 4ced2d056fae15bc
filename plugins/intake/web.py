"""What the intake's API routes, pages and chat share: finding the inquiry a request names,
and telling the plugins about a change once the request's transaction has committed."""

from __future__ import annotations

from typing import Any

from litestar import Request
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import ApiError, after_commit, user_may
from plugins.intake.models import Inquiry, InquiryStatus

__all__ = ["WORKS_QUEUES", "check_assignee", "inquiry_or_404", "notify_updated", "relay_of"]

WORKS_QUEUES = "inquiry:reply"  # what working a tenant's queues takes (take-next, replies)


async def inquiry_or_404(session: AsyncSession, uid: str) -> Inquiry:
    inquiry = (await session.exec(select(Inquiry).where(Inquiry.uid == uid))).first()
    if inquiry is None:
        raise ApiError(404, "No such inquiry.")
    return inquiry


def relay_of(request: Request[Any, Any, Any]) -> Any:
    """The hooks of the plugins the request's tenant enabled."""
    tenant = request.state.tenant
    return request.app.state.core.host.relay(tenant.ctx, tenant.enabled)


def notify_updated(request: Request[Any, Any, Any], inquiry: Inquiry, changes: list[str]) -> None:
    """``on_inquiry_updated`` after commit, and ``on_inquiry_resolved`` when the status
    change made it resolved."""
    relay, ctx, uid = relay_of(request), request.state.tenant.ctx, inquiry.uid
    after_commit(
        request,
        lambda: relay.notify("on_inquiry_updated", ctx=ctx, inquiry_uid=uid, changes=changes),
    )
    if "status" in changes and inquiry.status == InquiryStatus.RESOLVED:
        after_commit(request, lambda: relay.notify("on_inquiry_resolved", ctx=ctx, inquiry_uid=uid))


async def check_assignee(
    request: Request[Any, Any, Any], session: AsyncSession, assignee_id: int | None
) -> None:
    """An inquiry goes only to someone who works this tenant's queues (422 otherwise)."""
    if assignee_id is not None and not await user_may(request, session, assignee_id, WORKS_QUEUES):
        raise ApiError(422, "Not a user who works this client's queues.", field="assignee_id")
