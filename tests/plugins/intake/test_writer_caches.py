"""What the intake writer keeps between groups is kept only once the group committed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select

from core.db.engine import Database
from core.jobs.models import Job
from plugins.intake import writer
from plugins.intake.models import Inquiry
from plugins.intake.sla import SLA_CHECK
from tests.plugins.intake.conftest import BODY


async def test_a_failed_first_group_still_leaves_the_sla_watch_queued(
    desk: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The desk's first group queues the SLA watch, then fails; its inquiries are stored one
    by one afterwards. The watch must be queued by them: the failed group's "queued it" was
    rolled back with it."""
    client, headers, _, ctx = desk
    real = writer.run_deferred
    failures = [RuntimeError("the first group's transaction fails")]

    async def fail_once(session: Any) -> None:
        if failures:
            raise failures.pop()
        await real(session)

    monkeypatch.setattr(writer, "run_deferred", fail_once)
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/t/{ctx.slug}/inquiries",
                json={**BODY, "phone": f"0900000{n:04d}"},
                headers=headers["op1"],
            )
            for n in range(3)
        )
    )
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert not failures  # the first group did fail
    async with db.session(ctx) as session:
        assert len((await session.exec(select(Inquiry))).all()) == 3
        watches = (await session.exec(select(Job).where(Job.kind == SLA_CHECK))).all()
    assert len(watches) == 1
