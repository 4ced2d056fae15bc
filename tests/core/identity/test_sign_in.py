"""Signing in: argon2id passwords, lockout, TOTP for platform roles, database sessions, CSRF."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
from sqlmodel import col, select

from core.audit.models import PlatformAuditEvent
from core.db.base import utcnow
from core.db.engine import Database
from core.identity.models import LoginSession, User
from core.identity.passwords import hash_password
from core.identity.service import create_user, enrol_totp
from core.pii.keyring import KeyRing
from core.settings import Settings
from tests.conftest import World, grant

PASSWORD = "まどぐち-correct-horse-42"


async def make_user(db: Database, email: str, *grants: tuple[str, str | None]) -> None:
    async with db.session() as session:
        user = await create_user(session, email)
        user.password_hash = hash_password(PASSWORD)
    for role, slug in grants:
        await grant(db, email, role, slug)


async def login(app: Any, email: str, password: str = PASSWORD, totp: str | None = None) -> Any:
    return await app.post(
        "/api/v1/auth/login", json={"email": email, "password": password, "totp": totp}
    )


async def test_sign_in_uses_a_session_cookie_and_csrf(app: Any, db: Database, world: World) -> None:
    await make_user(db, "op@example.jp", ("operator", world.a.slug))
    response = await login(app, "op@example.jp")
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    csrf = response.json()["csrf_token"]
    async with db.session() as session:
        stored = (await session.exec(select(LoginSession))).one()
    assert stored.token_hash not in cookie  # only the hash is stored
    me = await app.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["roles"] == {world.a.slug: ["operator"]}
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}/reveal"
    body = {"fields": ["phone"], "purpose": "callback"}
    no_csrf = await app.post(url, json=body)
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf"
    ok = await app.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    out = await app.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200 and out.json() == {"signed_out": True}
    assert (await app.get("/api/v1/auth/me")).status_code == 401


async def test_wrong_password_locks_after_five_tries_and_is_audited(app: Any, db: Database) -> None:
    await make_user(db, "sv@example.jp")
    for _ in range(5):
        assert (await login(app, "sv@example.jp", "wrong-password-123")).status_code == 401
    locked = await login(app, "sv@example.jp")  # the right password, but locked now
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked"
    unknown = await login(app, "nobody@example.jp")
    await make_user(db, "other@example.jp")
    wrong = await login(app, "other@example.jp", "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    # an unknown address and a wrong password read the same: no account enumeration
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    async with db.session() as session:
        outcomes = [
            e.outcome
            for e in (
                await session.exec(
                    select(PlatformAuditEvent).where(PlatformAuditEvent.action == "auth.login")
                )
            ).all()
        ]
    assert outcomes.count("failed:password") == 6  # five for sv@, one for other@
    assert "failed:locked" in outcomes and "failed:unknown" in outcomes
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == "sv@example.jp"))).one()
        user.locked_until = utcnow() - timedelta(seconds=1)
    assert (await login(app, "sv@example.jp")).status_code == 200


async def test_platform_roles_need_a_second_factor(
    app: Any, db: Database, settings: Settings
) -> None:
    await make_user(db, "admin@example.jp", ("platform_admin", None))
    refused = await login(app, "admin@example.jp")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "enrol_totp"
    async with db.session() as session:
        secret, uri = await enrol_totp(session, KeyRing(settings), "admin@example.jp")
        stored = (await session.exec(select(User).where(User.email == "admin@example.jp"))).one()
    assert uri.startswith("otpauth://totp/") and secret not in (stored.totp_sealed or "")
    assert (await login(app, "admin@example.jp", totp="000000")).status_code == 401
    code = pyotp.TOTP(secret).now()
    assert (await login(app, "admin@example.jp", totp=code)).status_code == 200
    replay = await login(app, "admin@example.jp", totp=code)
    assert replay.status_code == 401  # a code works once


async def test_idle_and_absolute_timeouts_end_the_session(
    app: Any, db: Database, world: World
) -> None:
    await make_user(db, "op2@example.jp", ("operator", world.a.slug))
    assert (await login(app, "op2@example.jp")).status_code == 200
    async with db.session() as session:
        row = (await session.exec(select(LoginSession))).one()
        row.last_seen_at = utcnow() - timedelta(minutes=31)
    expired = await app.get("/api/v1/auth/me")
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "session_expired"
    assert (await login(app, "op2@example.jp")).status_code == 200
    async with db.session() as session:
        live = select(LoginSession).where(col(LoginSession.revoked_at).is_(None))
        row = (await session.exec(live)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert (await app.get("/api/v1/auth/me")).status_code == 401


async def test_api_token_expiry_and_revoked_grants(app: Any, db: Database, world: World) -> None:
    from core.identity.models import ApiToken

    url = f"/api/v1/t/{world.a.slug}/plugins"
    headers = world.headers["a:operator"]
    assert (await app.get(url, headers=headers)).status_code == 200
    async with db.session() as session:
        from core.approvals.service import revoke

        await revoke(session, "operator@alpha-shoji.example.jp", "operator", world.a.slug)
    assert (await app.get(url, headers=headers)).status_code == 404
    async with db.session() as session:
        for token in (await session.exec(select(ApiToken))).all():
            token.expires_at = utcnow() - timedelta(seconds=1)
    assert (await app.get(url, headers=world.headers["a:supervisor"])).status_code == 401
