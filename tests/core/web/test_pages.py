"""Pages without a browser: headers, CSRF on forms, session expiry, client self-service."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlmodel import select

from core.db.base import utcnow
from core.db.engine import Database
from core.identity.models import LoginSession, RoleGrant, User
from core.identity.passwords import hash_password
from tests.conftest import World, grant

PASSWORD = "ページ試験用の長い合言葉です"


async def with_password(db: Database, email: str) -> None:
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == email))).one()
        user.password_hash = hash_password(PASSWORD)


async def sign_in(app: Any, email: str) -> str:
    form = await app.get("/login")
    token = re.search(r'name="_csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    done = await app.post(
        "/login",
        data={"_csrf": token, "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    home = await app.get(done.headers["location"])
    return re.search(r'name="_csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]


async def test_pages_carry_security_headers_and_no_store(
    app: Any, db: Database, world: World
) -> None:
    email = f"operator@{world.a.slug}.example.jp"
    await with_password(db, email)
    await sign_in(app, email)
    response = await app.get(f"/t/{world.a.slug}/customers/{world.customer_a}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "unsafe-inline" not in csp
    )
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text and " style=" not in response.text


async def test_login_form_needs_its_csrf_token(app: Any, db: Database, world: World) -> None:
    email = f"operator@{world.a.slug}.example.jp"
    await with_password(db, email)
    forged = await app.post("/login", data={"email": email, "password": PASSWORD})
    assert forged.status_code == 403
    assert "text/html" in forged.headers["content-type"]


async def test_an_ended_session_sends_you_to_sign_in_with_a_notice(
    app: Any, db: Database, world: World
) -> None:
    email = f"operator@{world.a.slug}.example.jp"
    await with_password(db, email)
    await sign_in(app, email)
    async with db.session() as session:
        row = (await session.exec(select(LoginSession))).one()
        row.last_seen_at = utcnow() - timedelta(hours=1)
    response = await app.get(f"/t/{world.a.slug}/customers", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/t/{world.a.slug}/customers&expired=1"
    notice = await app.get(response.headers["location"])
    assert "セッションの有効期限が切れました" in notice.text


async def test_forms_without_the_session_csrf_token_are_refused(
    app: Any, db: Database, world: World
) -> None:
    email = f"operator@{world.a.slug}.example.jp"
    await with_password(db, email)
    token = await sign_in(app, email)
    url = f"/t/{world.a.slug}/customers/{world.customer_a}/reveal"
    refused = await app.post(url, data={"fields": "phone", "purpose": "callback"})
    assert refused.status_code == 403
    accepted = await app.post(url, data={"_csrf": token, "fields": "phone", "purpose": "callback"})
    assert accepted.status_code == 200 and "09077770123" in accepted.text


async def test_client_admin_manages_only_their_own_viewers(
    app: Any, db: Database, world: World
) -> None:
    admin = f"client_admin@{world.a.slug}.example.jp"
    await with_password(db, admin)
    token = await sign_in(app, admin)
    added = await app.post(
        f"/t/{world.a.slug}/portal/viewers",
        data={"_csrf": token, "email": "new.viewer@alpha.example.jp", "name": "新人"},
    )
    assert added.status_code == 200, added.text[:3000]
    assert re.search(r'data-testid="invitation-url">http[^<]+/invite/[^<]{20,}<', added.text)
    async with db.session() as session:
        user = (
            await session.exec(select(User).where(User.email == "new.viewer@alpha.example.jp"))
        ).one()
        grants = (await session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id))).all()
    # someone who also works for tenant B keeps that role when removed here
    await grant(db, user.email, "client_viewer", world.b.slug)
    assert [(g.role, g.tenant_id) for g in grants] == [("client_viewer", world.a.id)]
    removed = await app.post(
        f"/t/{world.a.slug}/portal/viewers/{user.id}/remove",
        data={"_csrf": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    async with db.session() as session:
        left = (await session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id))).all()
    assert [(g.role, g.tenant_id) for g in left] == [("client_viewer", world.b.id)]
    # and cannot touch tenant B's viewers at all
    foreign = await app.post(
        f"/t/{world.b.slug}/portal/viewers/{user.id}/remove", data={"_csrf": token}
    )
    assert foreign.status_code == 404


async def roles_of(db: Database, email: str) -> list[tuple[str, int | None]]:
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == email))).one()
        grants = (await session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id))).all()
    return [(g.role, g.tenant_id) for g in grants]


async def test_admin_console_pages_work_for_their_roles(
    app: Any, db: Database, world: World
) -> None:
    admin, officer = world.headers["platform_admin"], world.headers["security_officer"]
    for path in (
        "/admin",
        "/admin/tenants",
        "/admin/users",
        "/admin/tokens",
        "/admin/audit",
        f"/admin/tenants/{world.a.slug}",
    ):
        response = await app.get(path, headers=admin)
        assert response.status_code == 200, path
    audit = await app.get("/admin/audit", headers=admin)
    assert audit.text.count("検証済み") >= 3  # two tenants and the platform chain
    created = await app.post(
        "/admin/users", headers=admin, data={"email": "sv.new@bpo.example.jp", "name": "新任 SV"}
    )
    assert re.search(r'data-testid="invitation-url">http[^<]+/invite/[^<]{20,}<', created.text)
    granted = await app.post(
        "/admin/grants",
        headers=admin,
        data={"email": "sv.new@bpo.example.jp", "role": "supervisor", "tenant": world.a.slug},
    )
    assert granted.status_code == 200 and "承認後に有効" in granted.text  # awaits approval
    assert await roles_of(db, "sv.new@bpo.example.jp") == []
    approvals = await app.get("/admin/approvals", headers=officer)
    assert approvals.status_code == 200 and "sv.new@bpo.example.jp" in approvals.text
    request_id = re.search(r'data-request="(\d+)"', approvals.text)
    assert request_id is not None
    decided = await app.post(
        f"/admin/approvals/{request_id.group(1)}/approve", headers=officer, follow_redirects=False
    )
    assert decided.status_code == 303
    assert await roles_of(db, "sv.new@bpo.example.jp") == [("supervisor", world.a.id)]
    wrong = await app.post(
        "/admin/grants",
        headers=admin,
        data={"email": "sv.new@bpo.example.jp", "role": "supervisor", "tenant": ""},
    )
    assert wrong.status_code == 422 and "give a tenant" in wrong.text
    tokens = await app.get("/admin/tokens", headers=admin)
    assert tokens.status_code == 200 and "Create a token" not in tokens.text
    bad_plugin = await app.post(
        f"/admin/tenants/{world.a.slug}/plugins/voc",
        headers=admin,
        data={"enabled": "1", "setting.report_schedule": "daily"},
    )
    assert bad_plugin.status_code == 422 and "report_schedule" in bad_plugin.text
    assert (await app.get("/admin/security", headers=officer)).status_code == 200
    assert (await app.get("/admin/security", headers=admin)).status_code == 403
    assert (await app.get("/admin/users", headers=officer)).status_code == 403
