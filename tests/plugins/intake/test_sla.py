"""SLA watch: warnings and breaches, flagged once each, audited, sent to the plugins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from core.audit.models import AuditEvent
from core.db.base import utcnow
from core.db.engine import Database
from core.jobs.models import Job
from core.jobs.worker import Worker
from core.pii.keyring import KeyRing
from core.settings import Settings
from plugins.intake.models import Inquiry
from tests.plugins.intake.conftest import BODY


async def test_overdue_and_at_risk_inquiries_are_flagged_once(
    desk: Any, db: Database, settings: Settings
) -> None:
    client, headers, listener, ctx = desk
    url = "/api/v1/t/honey/inquiries"
    uids = [
        (
            await client.post(
                url,
                json={**BODY, "body": f"件{n}", "phone": None, "email": f"s{n}@example.jp"},
                headers=headers["op1"],
            )
        ).json()["uid"]
        for n in range(3)
    ]
    now = utcnow()
    async with db.session(ctx) as session:
        rows = {r.uid: r for r in (await session.exec(select(Inquiry))).all()}
        rows[uids[0]].first_response_due = now - timedelta(minutes=5)  # overdue
        rows[uids[0]].created_at = now - timedelta(hours=1, minutes=5)
        rows[uids[1]].created_at = now - timedelta(minutes=55)  # 5 of 60 minutes left
        rows[uids[1]].first_response_due = now + timedelta(minutes=5)
        jobs = (await session.exec(select(Job).where(Job.kind == "intake.sla_check"))).all()
        assert len(jobs) == 1  # one watch per tenant, however many inquiries
        jobs[0].run_at = now
    worker = Worker(db, client.app.state.core.host, keyring=KeyRing(settings))
    assert await worker.run_once()
    async with db.session(ctx) as session:
        flagged = {
            r.uid: (r.sla_warned_at is not None, r.sla_breached_at is not None)
            for r in (await session.exec(select(Inquiry))).all()
        }
        actions = sorted(
            e.action
            for e in (
                await session.exec(select(AuditEvent).where(AuditEvent.action.like("inquiry.sla%")))
            ).all()
        )  # type: ignore[attr-defined]
        again = (
            await session.exec(
                select(Job).where(Job.kind == "intake.sla_check", Job.status == "queued")
            )
        ).all()
    assert flagged == {uids[0]: (False, True), uids[1]: (True, False), uids[2]: (False, False)}
    assert actions == ["inquiry.sla_breach", "inquiry.sla_warning"]
    assert ("updated:sla_breach", uids[0]) in listener.events
    assert ("updated:sla_warning", uids[1]) in listener.events
    assert len(again) == 1 and again[0].run_at > utcnow()  # the watch goes on
    async with db.session(ctx) as session:
        job_row = await session.get(Job, again[0].id)
        assert job_row is not None
        job_row.run_at = utcnow()
    listener.events.clear()
    assert await worker.run_once()
    assert [e for e in listener.events if e[0].startswith("updated:sla")] == []  # once each
