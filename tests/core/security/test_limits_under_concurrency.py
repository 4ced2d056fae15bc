"""The hourly limits and the once-an-hour alerts hold when a user's requests arrive at once.

Each test fires its requests together (``asyncio.gather`` over real HTTP requests through the
app) and counts what a security officer would see: successes, refusals, alerts.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from core.app import create_app
from core.audit.models import AuditEvent
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.security.models import SecurityAlert
from core.settings import Settings
from core.tenancy.models import Tenant
from tests.conftest import World
from tests.served import served


@pytest.fixture
async def http(settings: Settings, host: PluginHost) -> AsyncIterator[httpx.AsyncClient]:
    """The app served over loopback: these requests really run at the same time."""
    async with served(create_app(settings, host=host)) as client:
        yield client


REVEAL = {"fields": ["phone"], "purpose": "callback"}
AT_ONCE = 12


async def set_tenant(db: Database, tenant_id: int, **values: Any) -> None:
    async with db.session() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        for name, value in values.items():
            setattr(tenant, name, value)


async def alert_kinds(db: Database, world: World) -> Counter[str]:
    async with db.session(world.a) as session:
        return Counter(a.kind for a in (await session.exec(select(SecurityAlert))).all())


async def outcomes(db: Database, world: World, action: str) -> Counter[str]:
    async with db.session(world.a) as session:
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == action))).all()
    return Counter(e.outcome for e in events)


async def at_once(requests: list[Any]) -> Counter[int]:
    return Counter(r.status_code for r in await asyncio.gather(*requests))


async def test_parallel_reveals_stop_exactly_at_the_hard_limit(
    http: httpx.AsyncClient, db: Database, world: World
) -> None:
    await set_tenant(db, world.a.id, reveal_soft_limit=2, reveal_hard_limit=3, working_hours="")
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}/reveal"
    headers = world.headers["a:operator"]
    codes = await at_once([http.post(url, json=REVEAL, headers=headers) for _ in range(AT_ONCE)])
    assert codes == {200: 3, 429: AT_ONCE - 3}
    # each refusal is evidence that survived its request's rollback; the soft limit was
    # crossed once, so it alerted once
    assert await outcomes(db, world, "pii.reveal") == {"ok": 3, "refused:hard_limit": 9}
    assert await alert_kinds(db, world) == {"hard_limit": 9, "soft_limit": 1}
    # the limit is the operator's: a colleague still reveals
    other = await http.post(url, json=REVEAL, headers=world.headers["a:supervisor"])
    assert other.status_code == 200


async def test_parallel_masked_views_stop_exactly_at_the_read_limit(
    http: httpx.AsyncClient, db: Database, world: World
) -> None:
    await set_tenant(db, world.a.id, read_soft_limit=1, read_hard_limit=4, working_hours="")
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}"
    headers = world.headers["a:operator"]
    codes = await at_once([http.get(url, headers=headers) for _ in range(AT_ONCE)])
    assert codes == {200: 4, 429: AT_ONCE - 4}
    assert await outcomes(db, world, "pii.read") == {"ok": 4, "refused:hard_limit": 8}
    assert await alert_kinds(db, world) == {"hard_limit": 8, "soft_limit": 1}


async def test_off_hours_access_alerts_once_however_many_requests_arrive_together(
    http: httpx.AsyncClient, db: Database, world: World
) -> None:
    await set_tenant(db, world.a.id, working_hours="00:00-00:00")  # never inside
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}"
    operator, supervisor = world.headers["a:operator"], world.headers["a:supervisor"]
    codes = await at_once(
        [http.get(url, headers=h) for _ in range(AT_ONCE // 2) for h in (operator, supervisor)]
    )
    assert codes == {200: AT_ONCE}
    # once an hour a user: one alert for each of the two
    async with db.session(world.a) as session:
        alerts = (await session.exec(select(SecurityAlert))).all()
    assert sorted(a.kind for a in alerts) == ["off_hours", "off_hours"]
    assert len({a.user_id for a in alerts}) == 2


async def test_counted_views_and_audited_writes_of_one_user_run_together_without_deadlock(
    http: httpx.AsyncClient, db: Database, world: World
) -> None:
    """Creating a customer audits it before its masked view is counted; a plain view counts
    first. Both take the tenant's audit chain before the count, so neither waits on the other
    in a cycle (on PostgreSQL such a cycle aborts one of them: a 500)."""
    await set_tenant(db, world.a.id, read_soft_limit=0, read_hard_limit=0, working_hours="")
    base = f"/api/v1/t/{world.a.slug}/customers"
    headers = world.headers["a:operator"]
    requests = []
    for n in range(AT_ONCE // 2):
        requests.append(http.post(f"{base}/", json={"name": f"並行 {n}"}, headers=headers))
        requests.append(http.get(f"{base}/{world.customer_a}", headers=headers))
    assert await at_once(requests) == {201: AT_ONCE // 2, 200: AT_ONCE // 2}
    assert await outcomes(db, world, "pii.read") == {"ok": AT_ONCE}
