"""Separation of duties: nobody reaches a tenant's plaintext alone, administrators included.

Each test replays one of the attacks found on a running instance (issue 12, section 1) through
the HTTP API, and checks what the client would see in its own audit chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from core.app import create_app
from core.audit.models import AuditEvent
from core.db.engine import Database
from core.identity.models import ApiToken, RoleGrant, User
from core.identity.passwords import hash_password
from core.plugins.host import PluginHost
from core.settings import Settings
from core.tenancy.models import Tenant
from tests.conftest import World, make_token
from tests.served import served

PASSWORD = "まどぐち-correct-horse-42"
REVEAL = {"fields": ["phone"], "purpose": "callback"}


@pytest.fixture
async def http(settings: Settings, host: PluginHost) -> AsyncIterator[httpx.AsyncClient]:
    """The app served over loopback, for requests that must really run at the same time
    (the test client runs its requests one after another)."""
    async with served(create_app(settings, host=host)) as client:
        yield client


async def _user_id(db: Database, email: str) -> int:
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == email))).one()
        assert user.id is not None
        return user.id


async def _chain(db: Database, tenant: Any, prefix: str = "") -> list[AuditEvent]:
    async with db.session(tenant) as session:
        events = (await session.exec(select(AuditEvent).order_by(AuditEvent.seq))).all()  # type: ignore[arg-type]
    return [e for e in events if e.action.startswith(prefix)]


async def _reveal(app: Any, world: World, headers: dict[str, str]) -> int:
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}/reveal"
    return int((await app.post(url, json=REVEAL, headers=headers)).status_code)


async def test_an_admin_cannot_mint_a_token_for_an_operator(
    app: Any, db: Database, world: World
) -> None:
    """Attack (a): `POST /admin/tokens` with another user's e-mail, then reveal as them."""
    admin = world.headers["platform_admin"]
    operator = f"operator@{world.a.slug}.example.jp"
    async with db.session() as session:
        before = len((await session.exec(select(ApiToken))).all())
    page = await app.post("/admin/tokens", data={"email": operator, "days": "30"}, headers=admin)
    api = await app.post("/api/v1/auth/tokens", json={"email": operator}, headers=admin)
    own = await app.post("/api/v1/auth/tokens", json={}, headers=admin)  # a token for a token
    assert page.status_code in (404, 405) and own.status_code == 403
    assert api.status_code in (400, 422) and api.json()["error"]["field"] == "email"
    async with db.session() as session:
        assert len((await session.exec(select(ApiToken))).all()) == before
    listed = await app.get("/api/v1/admin/tokens", headers=admin)
    assert listed.status_code == 200
    theirs = [t for t in listed.json() if t["user"] == operator]
    assert len(theirs) == 1 and not theirs[0]["revoked"]
    revoked = await app.post(f"/api/v1/admin/tokens/{theirs[0]['id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert await _reveal(app, world, world.headers["a:operator"]) == 401
    assert [e.fields for e in await _chain(db, world.a, "token.revoke")] == [
        [f"token:{theirs[0]['id']}"]
    ]


async def test_a_person_makes_their_own_token_signed_in_and_the_client_sees_it(
    app: Any, db: Database, world: World
) -> None:
    operator = f"operator@{world.a.slug}.example.jp"
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == operator))).one()
        user.password_hash = hash_password(PASSWORD)
    signed = await app.post("/api/v1/auth/login", json={"email": operator, "password": PASSWORD})
    assert signed.status_code == 200
    csrf = {"X-CSRF-Token": signed.json()["csrf_token"]}
    made = await app.post(
        "/api/v1/auth/tokens", json={"tenant": world.a.slug, "expires_days": 7}, headers=csrf
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    app.cookies.clear()
    assert await _reveal(app, world, {"Authorization": f"Bearer {token}"}) == 200
    created = await _chain(db, world.a, "token.create")
    assert created[-1].actor_user_id == user.id
    assert f"token:{made.json()['info']['id']}" in created[-1].fields
    theirs_in_b = [e for e in await _chain(db, world.b, "token.") if e.object_id == str(user.id)]
    assert theirs_in_b == []  # tenant B has nothing to do with this operator


async def test_nobody_grants_a_role_to_themselves(app: Any, db: Database, world: World) -> None:
    """Attack (b): a platform admin grants themselves operator in a tenant and reveals."""
    admin = world.headers["platform_admin"]
    body = {"email": "root@bpo.example.jp", "role": "operator", "tenant": world.a.slug}
    refused = await app.post("/api/v1/admin/grants", json=body, headers=admin)
    assert refused.status_code == 403, refused.text
    page = await app.post("/admin/grants", data=body, headers=admin)
    assert page.status_code == 403
    assert await _reveal(app, world, admin) == 404
    async with db.session() as session:
        grants = (
            await session.exec(
                select(RoleGrant).where(RoleGrant.user_id == await _user_id(db, body["email"]))
            )
        ).all()
    assert [g.role for g in grants] == ["platform_admin"]


async def test_a_role_that_reads_personal_data_waits_for_the_clients_admin(
    app: Any, db: Database, world: World
) -> None:
    admin, client_admin = world.headers["platform_admin"], world.headers["a:client_admin"]
    newcomer = await make_token(db, "newcomer@bpo.example.jp")
    body = {"email": "newcomer@bpo.example.jp", "role": "operator", "tenant": world.a.slug}
    asked = await app.post("/api/v1/admin/grants", json=body, headers=admin)
    assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
    request_id = asked.json()["id"]
    assert await _reveal(app, world, newcomer) == 404  # nothing yet
    listed = await app.get(f"/api/v1/t/{world.a.slug}/approvals", headers=client_admin)
    assert [r["id"] for r in listed.json() if r["status"] == "pending"] == [request_id]
    # neither the one who asked, nor the one it is for, nor another client's admin decides
    url = f"/api/v1/admin/approvals/{request_id}/approve"
    assert (await app.post(url, headers=admin)).status_code == 403
    assert (await app.post(url, headers=newcomer)).status_code == 403
    other = f"/api/v1/t/{world.b.slug}/approvals/{request_id}/approve"
    assert (await app.post(other, headers=world.headers["b:client_admin"])).status_code == 404
    decided = await app.post(
        f"/api/v1/t/{world.a.slug}/approvals/{request_id}/approve", headers=client_admin
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert decided.json()["decided_by"] == f"client_admin@{world.a.slug}.example.jp"
    assert await _reveal(app, world, newcomer) == 200
    access = await app.get(
        f"/api/v1/t/{world.a.slug}/access", headers=world.headers["a:client_viewer"]
    )
    mine = [g for g in access.json() if g["user"] == "newcomer@bpo.example.jp"]
    assert mine == [
        {
            **mine[0],
            "role": "operator",
            "requested_by": "root@bpo.example.jp",
            "approved_by": f"client_admin@{world.a.slug}.example.jp",
            "basis": "approval",
        }
    ]
    trail = [(e.action, e.outcome) for e in await _chain(db, world.a, "role.")]
    assert trail[-2:] == [("role.request", "pending"), ("role.approve", "approved")]


async def test_a_sock_puppet_admin_cannot_open_a_tenant(
    app: Any, db: Database, world: World
) -> None:
    """Attack (c): a second account made client_admin, the tenant's limits set to 0, and an
    export approved through the puppet."""
    admin = world.headers["platform_admin"]
    made = await app.post(
        "/api/v1/admin/users", json={"email": "puppet@bpo.example.jp"}, headers=admin
    )
    assert made.status_code == 201 and "/invite/" in made.json()["invitation_url"]
    assert made.json()["user"]["created_by"] == "root@bpo.example.jp"
    puppet = await make_token(db, "helper@bpo.example.jp")  # any second account
    grant = await app.post(
        "/api/v1/admin/grants",
        json={"email": "helper@bpo.example.jp", "role": "client_admin", "tenant": world.a.slug},
        headers=admin,
    )
    assert grant.json()["status"] == "pending"  # the tenant has its client_admin already
    limits = await app.patch(
        f"/api/v1/admin/tenants/{world.a.slug}",
        json={"security": {"reveal_hard_limit": 0, "reveal_soft_limit": 0}},
        headers=admin,
    )
    assert limits.status_code == 200, limits.text
    async with db.session() as session:
        tenant = await session.get(Tenant, world.a.id)
        assert tenant is not None and tenant.reveal_hard_limit == 50  # unchanged
    pending = await app.get(
        f"/api/v1/t/{world.a.slug}/approvals?status=pending",
        headers=world.headers["a:client_viewer"],
    )
    kinds = sorted(r["kind"] for r in pending.json())
    assert kinds == ["role.grant", "tenant.security"]
    for r in pending.json():  # the puppet cannot decide: it holds no approving role
        url = f"/api/v1/admin/approvals/{r['id']}/approve"
        assert (await app.post(url, headers=puppet)).status_code == 403
    # and the client sees all of it in its own chain
    actions = [e.action for e in await _chain(db, world.a)]
    assert {"role.request", "tenant.security.request"} <= set(actions)


async def test_security_settings_change_once_approved(app: Any, db: Database, world: World) -> None:
    admin, client_admin = world.headers["platform_admin"], world.headers["a:client_admin"]
    url = f"/api/v1/admin/tenants/{world.a.slug}"
    body = {"working_hours": "09:00-17:00", "security": {"reveal_hard_limit": 30}}
    first = await app.patch(url, json=body, headers=admin)
    again = await app.patch(url, json=body, headers=admin)  # the same change: the same request
    assert first.status_code == again.status_code == 200
    pending = (
        await app.get(f"/api/v1/t/{world.a.slug}/approvals?status=pending", headers=client_admin)
    ).json()
    assert len(pending) == 1
    assert pending[0]["changes"] == {"reveal_hard_limit": 30, "working_hours": "09:00-17:00"}
    shown = await app.get(url, headers=admin)
    assert (
        shown.json()["working_hours"] == "" and shown.json()["security"]["reveal_hard_limit"] == 50
    )
    ok = await app.post(
        f"/api/v1/t/{world.a.slug}/approvals/{pending[0]['id']}/approve", headers=client_admin
    )
    assert ok.status_code == 200
    shown = await app.get(url, headers=admin)
    assert shown.json()["working_hours"] == "09:00-17:00"
    assert shown.json()["security"]["reveal_hard_limit"] == 30
    trail = [(e.action, e.actor_user_id) for e in await _chain(db, world.a, "tenant.security")]
    assert [a for a, _ in trail][-2:] == ["tenant.security.request", "tenant.security.approve"]


async def test_a_new_tenants_first_client_admin_is_the_one_exception(
    app: Any, db: Database, world: World
) -> None:
    admin = world.headers["platform_admin"]
    created = await app.post(
        "/api/v1/admin/tenants",
        json={"slug": "gamma-co", "display_name": "ガンマ商会"},
        headers=admin,
    )
    assert created.status_code == 201
    for email in ("first@gamma.example.jp", "second@gamma.example.jp"):
        await app.post("/api/v1/admin/users", json={"email": email}, headers=admin)
    first = await app.post(
        "/api/v1/admin/grants",
        json={"email": "first@gamma.example.jp", "role": "client_admin", "tenant": "gamma-co"},
        headers=admin,
    )
    second = await app.post(
        "/api/v1/admin/grants",
        json={"email": "second@gamma.example.jp", "role": "client_admin", "tenant": "gamma-co"},
        headers=admin,
    )
    assert (first.json()["status"], first.json()["basis"]) == ("approved", "onboarding")
    assert second.json()["status"] == "pending"
    async with db.session() as session:
        gamma = (await session.exec(select(Tenant).where(Tenant.slug == "gamma-co"))).one()
    grants = [e for e in await _chain(db, gamma.id, "role.grant")]
    assert [set(g.fields) for g in grants] == [
        {"client_admin", f"tenant:{gamma.id}", "basis:onboarding"}
    ]


async def test_the_onboarding_exception_is_taken_once_when_asked_for_at_the_same_moment(
    app: Any, http: httpx.AsyncClient, world: World
) -> None:
    admin = world.headers["platform_admin"]
    await app.post(
        "/api/v1/admin/tenants", json={"slug": "delta-co", "display_name": "デルタ"}, headers=admin
    )
    emails = [f"first{n}@delta.example.jp" for n in range(4)]
    for email in emails:
        await app.post("/api/v1/admin/users", json={"email": email}, headers=admin)
    answers = await asyncio.gather(
        *(
            http.post(
                "/api/v1/admin/grants",
                json={"email": email, "role": "client_admin", "tenant": "delta-co"},
                headers=admin,
            )
            for email in emails
        )
    )
    statuses = sorted(a.json()["status"] for a in answers if a.status_code == 201)
    assert statuses.count("approved") == 1, [a.text for a in answers]


async def test_two_approvers_at_once_decide_a_request_once(
    app: Any, http: httpx.AsyncClient, db: Database, world: World
) -> None:
    admin = world.headers["platform_admin"]
    await make_token(db, "late@bpo.example.jp")
    asked = await app.post(
        "/api/v1/admin/grants",
        json={"email": "late@bpo.example.jp", "role": "supervisor", "tenant": world.a.slug},
        headers=admin,
    )
    request_id = asked.json()["id"]
    officer = world.headers["security_officer"]
    client_admin = world.headers["a:client_admin"]
    answers = await asyncio.gather(
        http.post(f"/api/v1/admin/approvals/{request_id}/approve", headers=officer),
        http.post(f"/api/v1/t/{world.a.slug}/approvals/{request_id}/approve", headers=client_admin),
        http.post(f"/api/v1/admin/approvals/{request_id}/reject", headers=officer),
    )
    assert sorted(a.status_code for a in answers) == [200, 409, 409], [a.text for a in answers]
    decisions = [e for e in await _chain(db, world.a) if e.purpose == f"request:{request_id}"]
    assert len([e for e in decisions if e.action in ("role.approve", "role.reject")]) == 1


async def test_platform_roles_never_mix_with_roles_that_read_personal_data(
    app: Any, db: Database, world: World
) -> None:
    admin = world.headers["platform_admin"]
    for body in (
        {"email": "sec@bpo.example.jp", "role": "operator", "tenant": world.a.slug},
        {"email": f"operator@{world.a.slug}.example.jp", "role": "security_officer"},
        {"email": "sec@bpo.example.jp", "role": "platform_admin"},
    ):
        answer = await app.post("/api/v1/admin/grants", json=body, headers=admin)
        assert answer.status_code == 409, (body, answer.text)


async def test_a_platform_role_granted_through_the_api_waits_for_a_security_officer(
    app: Any, db: Database, world: World
) -> None:
    admin, officer = world.headers["platform_admin"], world.headers["security_officer"]
    await make_token(db, "auditor@bpo.example.jp")
    asked = await app.post(
        "/api/v1/admin/grants",
        json={"email": "auditor@bpo.example.jp", "role": "security_officer"},
        headers=admin,
    )
    assert asked.json()["status"] == "pending"
    done = await app.post(f"/api/v1/admin/approvals/{asked.json()['id']}/approve", headers=officer)
    assert done.status_code == 200
    # an officer can approve access to every client's customers: every client is told
    for tenant in (world.a, world.b):
        assert [e.action for e in await _chain(db, tenant, "role.")][-2:] == [
            "role.request",
            "role.approve",
        ]


async def test_four_eyes_needs_two_independent_people(app: Any, db: Database, world: World) -> None:
    """The client_admin who approved a supervisor's role cannot approve that supervisor's
    export within the tenant's window; the security officer can; a window of 0 allows it."""
    admin, client_admin = world.headers["platform_admin"], world.headers["a:client_admin"]
    supervisor = await make_token(db, "fresh.sv@bpo.example.jp")
    asked = await app.post(
        "/api/v1/admin/grants",
        json={"email": "fresh.sv@bpo.example.jp", "role": "supervisor", "tenant": world.a.slug},
        headers=admin,
    )
    await app.post(
        f"/api/v1/t/{world.a.slug}/approvals/{asked.json()['id']}/approve", headers=client_admin
    )
    base = f"/api/v1/t/{world.a.slug}/exports"
    export = await app.post(
        base, json={"kind": "customers", "purpose": "audit"}, headers=supervisor
    )
    assert export.status_code == 201, export.text
    url = f"{base}/{export.json()['id']}/approve"
    refused = await app.post(url, headers=client_admin)
    assert refused.status_code == 403 and "granted the other's role" in refused.text
    async with db.session() as session:
        tenant = await session.get(Tenant, world.a.id)
        assert tenant is not None
        tenant.sod_window_days = 0
    assert (await app.post(url, headers=client_admin)).status_code == 200


async def test_an_approved_export_downloads_once_however_many_ask_at_once(
    app: Any, http: httpx.AsyncClient, world: World
) -> None:
    base = f"/api/v1/t/{world.a.slug}/exports"
    supervisor = world.headers["a:supervisor"]
    export = await app.post(
        base, json={"kind": "customers", "purpose": "audit"}, headers=supervisor
    )
    export_id = export.json()["id"]
    approved = await app.post(
        f"{base}/{export_id}/approve", headers=world.headers["security_officer"]
    )
    assert approved.status_code == 200
    answers = await asyncio.gather(
        *(http.get(f"{base}/{export_id}/download", headers=supervisor) for _ in range(6))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 410, 410, 410, 410, 410], [a.text[:200] for a in answers]


async def test_an_invitation_sets_a_password_once(
    app: Any, http: httpx.AsyncClient, world: World
) -> None:
    admin = world.headers["platform_admin"]
    made = await app.post(
        "/api/v1/admin/users", json={"email": "invited@bpo.example.jp"}, headers=admin
    )
    path = "/invite/" + made.json()["invitation_url"].rsplit("/invite/", 1)[1]
    answers = await asyncio.gather(
        *(
            http.post(path, data={"password": f"{PASSWORD}-{n}", "again": f"{PASSWORD}-{n}"})
            for n in range(4)
        )
    )
    assert sorted(a.status_code for a in answers) == [303, 410, 410, 410]
    winner = next(n for n, a in enumerate(answers) if a.status_code == 303)
    signed = await app.post(
        "/api/v1/auth/login",
        json={"email": "invited@bpo.example.jp", "password": f"{PASSWORD}-{winner}"},
    )
    assert signed.status_code == 200
