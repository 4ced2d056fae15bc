"""SLA watch: a job per tenant that flags inquiries whose first response is at risk (warning)
or overdue (breach), once each; audits it and tells the plugins (``on_inquiry_updated`` with
``sla_warning`` / ``sla_breach``); then queues itself again a minute later."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from core import JobContext, audit, enqueue_in, utcnow
from plugins.intake.models import Inquiry, InquiryStatus
from plugins.intake.services import at_risk, breached

__all__ = ["EVERY", "SLA_CHECK", "check_sla"]

SLA_CHECK = "intake.sla_check"
EVERY = timedelta(minutes=1)


async def check_sla(job: JobContext, payload: dict[str, Any]) -> None:
    now = utcnow()
    events: list[tuple[str, str]] = []
    async with job.session() as session:
        rows = (
            await session.exec(
                select(Inquiry).where(
                    col(Inquiry.status).in_(InquiryStatus.ACTIVE),
                    col(Inquiry.first_responded_at).is_(None),
                    col(Inquiry.sla_breached_at).is_(None),
                )
            )
        ).all()
        for inquiry in rows:
            if breached(inquiry, now):
                inquiry.sla_breached_at = now
                events.append((inquiry.uid, "sla_breach"))
            elif at_risk(inquiry, now) and inquiry.sla_warned_at is None:
                inquiry.sla_warned_at = now
                events.append((inquiry.uid, "sla_warning"))
        for uid, kind in events:
            await audit(session, f"inquiry.{kind}", object_type="inquiry", object_id=uid)
        if payload.get("repeat", True):
            await enqueue_in(session, SLA_CHECK, {"repeat": True}, max_attempts=3, delay=EVERY)
    for uid, kind in events:  # once committed
        await job.notify("on_inquiry_updated", inquiry_uid=uid, changes=[kind])
