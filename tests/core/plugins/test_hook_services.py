"""An ``on_*`` hook acts for its tenant through ``services``: intake's ``on_inquiry_resolved``
tells a plugin the inquiry's queue, assignee and customer, and the plugin reads the customer
through the audited accessor and queues a job, with nothing of the engine in its hands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from core import PluginManifest, TenantContext, TenantServices, hookimpl
from core.app import create_app
from core.audit.models import AuditEvent
from core.db.engine import Database
from core.jobs.models import Job
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.conftest import make_tenant, make_token
from tests.plugins.intake.conftest import BODY


class Follower:
    """A survey-like plugin: on resolution, looks the customer up and queues a job."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    @hookimpl(optionalhook=True)
    async def on_inquiry_resolved(
        self,
        ctx: TenantContext,
        inquiry_uid: str,
        queue: str | None,
        assignee_id: int | None,
        customer_uid: str | None,
        services: TenantServices,
    ) -> None:
        assert customer_uid is not None
        async with services.session() as session:
            pd = services.personal_data(session)
            customer = await pd.by_uid(customer_uid)
            assert customer is not None
            [shown] = await pd.view([customer])
            settings = await services.settings(session, "intake")
        await services.enqueue("follower.ask", {"inquiry": inquiry_uid})
        self.seen.append(
            {
                "tenant": services.tenant.slug,
                "inquiry": inquiry_uid,
                "queue": queue,
                "assignee": assignee_id,
                "masked_name": shown["name"],
                "intake_channels": settings["channels"],
            }
        )


@pytest.fixture
async def desk(
    settings: Settings, db: Database
) -> AsyncIterator[tuple[AsyncTestClient[Any], dict[str, str], TenantContext, Follower]]:
    host = PluginHost()
    host.load_builtins()
    follower = Follower()
    host.register(follower, PluginManifest(id="follower", name="follower", version="1.0"))
    host.check()
    ctx = await make_tenant(db, host, "hinoki", {"intake": {}, "follower": {}})
    headers = await make_token(db, "op@bpo.example.jp", ("operator", "hinoki"))
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        yield client, headers, ctx, follower


async def test_a_resolved_inquiry_reaches_a_plugin_with_its_queue_assignee_and_customer(
    desk: Any, db: Database
) -> None:
    client, headers, ctx, follower = desk
    created = await client.post("/api/v1/t/hinoki/inquiries", json=BODY, headers=headers)
    assert created.status_code == 201, created.text
    uid = created.json()["uid"]
    taken = await client.post("/api/v1/t/hinoki/inquiries/take-next", headers=headers)
    assert taken.status_code == 200, taken.text
    assignee = taken.json()["assignee_id"]
    resolved = await client.patch(
        f"/api/v1/t/hinoki/inquiries/{uid}", json={"status": "resolved"}, headers=headers
    )
    assert resolved.status_code == 200, resolved.text
    [seen] = follower.seen
    assert seen["tenant"] == "hinoki" and seen["inquiry"] == uid
    assert seen["queue"] == created.json()["queue"] and seen["assignee"] == assignee
    assert seen["masked_name"] and "太郎" not in seen["masked_name"]
    assert "web" in seen["intake_channels"]
    async with db.session(ctx) as session:
        jobs = (await session.exec(select(Job.kind))).all()
        reads = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "pii.read"))
        ).all()
    assert "follower.ask" in jobs
    assert reads, "the plugin's read of the customer is audited"
