"""What the intake's API routes, pages and chat share: finding the inquiry a request names,
and telling the plugins about a change once the request's transaction has committed."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import ApiError, Customer, PluginContext
from plugins.intake.models import Inquiry, InquiryStatus, Queue

__all__ = ["WORKS_QUEUES", "check_assignee", "inquiry_or_404", "notify_updated"]

WORKS_QUEUES = "inquiry:reply"  # what working a tenant's queues takes (take-next, replies)


async def inquiry_or_404(session: AsyncSession, uid: str) -> Inquiry:
    inquiry = (await session.exec(select(Inquiry).where(Inquiry.uid == uid))).first()
    if inquiry is None:
        raise ApiError(404, "No such inquiry.")
    return inquiry


async def notify_updated(plugin: PluginContext, inquiry: Inquiry, changes: list[str]) -> None:
    """``on_inquiry_updated`` after commit, and ``on_inquiry_resolved`` (with the inquiry's
    queue, assignee and customer) when the status change made it resolved."""
    plugin.notify("on_inquiry_updated", inquiry_uid=inquiry.uid, changes=changes)
    if "status" in changes and inquiry.status == InquiryStatus.RESOLVED:
        queue = await plugin.session.get(Queue, inquiry.queue_id) if inquiry.queue_id else None
        customer = (
            await plugin.session.get(Customer, inquiry.customer_id) if inquiry.customer_id else None
        )
        plugin.notify(
            "on_inquiry_resolved",
            inquiry_uid=inquiry.uid,
            queue=queue.slug if queue else None,
            assignee_id=inquiry.assignee_id,
            customer_uid=customer.uid if customer else None,
        )


async def check_assignee(plugin: PluginContext, assignee_id: int | None) -> None:
    """An inquiry goes only to someone who works this tenant's queues (422 otherwise)."""
    if assignee_id is not None and not await plugin.user_may(assignee_id, WORKS_QUEUES):
        raise ApiError(422, "Not a user who works this client's queues.", field="assignee_id")
