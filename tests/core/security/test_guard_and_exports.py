"""Exfiltration guard: hourly limits, off-hours flags, canaries, four-eyes exports."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlmodel import select

from core.audit.models import AuditEvent
from core.db.engine import Database
from core.pii.models import Canary, Customer
from core.security.models import SecurityAlert
from core.tenancy.models import Tenant
from tests.canaries import CUSTOMER_A
from tests.conftest import World

PURPOSE = {"fields": ["phone"], "purpose": "callback"}


async def set_tenant(db: Database, tenant_id: int, **values: Any) -> None:
    async with db.session() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        for name, value in values.items():
            setattr(tenant, name, value)


async def alerts(db: Database, world: World) -> list[SecurityAlert]:
    async with db.session(world.a) as session:
        return list((await session.exec(select(SecurityAlert))).all())


async def test_soft_limit_alerts_and_hard_limit_refuses_with_evidence(
    app: Any, db: Database, world: World
) -> None:
    await set_tenant(db, world.a.id, reveal_soft_limit=2, reveal_hard_limit=3, working_hours="")
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}/reveal"
    codes = [
        (await app.post(url, json=PURPOSE, headers=world.headers["a:operator"])).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    kinds = sorted(a.kind for a in await alerts(db, world))
    assert kinds == ["hard_limit", "soft_limit"]
    async with db.session(world.a) as session:
        outcomes = [
            e.outcome
            for e in (
                await session.exec(select(AuditEvent).where(AuditEvent.action == "pii.reveal"))
            ).all()
        ]
    assert outcomes == ["ok", "ok", "ok", "refused:hard_limit"]
    # another operator is not affected by the first one's count
    other = await app.post(url, json=PURPOSE, headers=world.headers["a:supervisor"])
    assert other.status_code == 200


async def test_read_limit_applies_to_list_views(app: Any, db: Database, world: World) -> None:
    await set_tenant(db, world.a.id, read_soft_limit=0, read_hard_limit=2, working_hours="")
    url = f"/api/v1/t/{world.a.slug}/customers"
    assert (await app.get(url, headers=world.headers["a:operator"])).status_code == 200
    assert (await app.get(url, headers=world.headers["a:operator"])).status_code == 200
    refused = await app.get(url, headers=world.headers["a:operator"])
    assert refused.status_code == 429
    assert CUSTOMER_A["name"] not in refused.text


async def test_access_outside_working_hours_is_flagged(
    app: Any, db: Database, world: World
) -> None:
    await set_tenant(db, world.a.id, working_hours="00:00-00:00")  # never inside
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}"
    for _ in range(2):
        assert (await app.get(url, headers=world.headers["a:operator"])).status_code == 200
    assert [a.kind for a in await alerts(db, world)] == ["off_hours"]  # once per hour per user


async def test_canary_reveal_raises_a_critical_alert_visible_to_security(
    app: Any, db: Database, world: World
) -> None:
    async with db.session(world.a) as session:
        customer = (await session.exec(select(Customer))).one()
        assert customer.id is not None
        session.add(Canary(tenant_id=world.a.id, customer_id=customer.id))
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}/reveal"
    assert (
        await app.post(url, json=PURPOSE, headers=world.headers["a:operator"])
    ).status_code == 200
    [alert] = await alerts(db, world)
    assert (alert.kind, alert.severity) == ("canary", "critical")
    seen = await app.get("/api/v1/admin/alerts", headers=world.headers["security_officer"])
    assert seen.status_code == 200
    assert [(a["tenant"], a["kind"]) for a in seen.json()] == [(world.a.slug, "canary")]
    assert CUSTOMER_A["phone"] not in seen.text and "09077770123" not in seen.text
    denied = await app.get("/api/v1/admin/alerts", headers=world.headers["platform_admin"])
    assert denied.status_code == 403


async def test_export_needs_a_second_person_and_downloads_once_watermarked(
    app: Any, db: Database, world: World
) -> None:
    base = f"/api/v1/t/{world.a.slug}/exports"
    supervisor, client_admin = world.headers["a:supervisor"], world.headers["a:client_admin"]
    assert (
        await app.post(base, json={"kind": "customers", "purpose": "x"}, headers=supervisor)
    ).status_code == 422  # no real reason
    created = await app.post(
        base, json={"kind": "customers", "purpose": "audit"}, headers=supervisor
    )
    assert created.status_code == 201
    export_id = created.json()["id"]
    early = await app.get(f"{base}/{export_id}/download", headers=supervisor)
    assert early.status_code == 409  # not approved yet
    assert (await app.post(f"{base}/{export_id}/approve", headers=supervisor)).status_code == 403
    pending = await app.get("/api/v1/admin/exports", headers=world.headers["security_officer"])
    assert [e["id"] for e in pending.json()] == [export_id]
    approved = await app.post(f"{base}/{export_id}/approve", headers=client_admin)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert (await app.get(f"{base}/{export_id}/download", headers=client_admin)).status_code == 403
    download = await app.get(f"{base}/{export_id}/download", headers=supervisor)
    assert download.status_code == 200
    assert download.headers["cache-control"] == "no-store"
    lines = download.text.splitlines()
    assert lines[0].startswith(f"# Madoguchi export {export_id} for supervisor@{world.a.slug}")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
    assert [r["uid"] for r in rows] == [world.customer_a]
    assert rows[0]["name"] == CUSTOMER_A["name"] and len(rows[0]["watermark"]) == 16
    again = await app.get(f"{base}/{export_id}/download", headers=supervisor)
    assert again.status_code == 410
    async with db.session(world.a) as session:
        actions = [
            e.action
            for e in (
                await session.exec(select(AuditEvent).where(AuditEvent.object_type == "export"))
            ).all()
        ]
    assert actions == ["export.request", "export.approve", "export.download"]


async def test_security_officer_may_approve_but_not_export_for_themselves(
    app: Any, world: World
) -> None:
    base = f"/api/v1/t/{world.a.slug}/exports"
    created = await app.post(
        base,
        json={"kind": "customers", "purpose": "migration"},
        headers=world.headers["a:client_admin"],
    )
    export_id = created.json()["id"]
    officer = world.headers["security_officer"]
    assert (
        await app.post(
            base,
            json={"kind": "customers", "purpose": "other", "note": "自分用の出力"},
            headers=officer,
        )
    ).status_code == 403
    approved = await app.post(f"{base}/{export_id}/approve", headers=officer)
    assert approved.status_code == 200
    assert (await app.get(f"{base}/{export_id}/download", headers=officer)).status_code == 403
