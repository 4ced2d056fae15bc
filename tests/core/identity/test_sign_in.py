"""Signing in: argon2id passwords, the attempt throttle, TOTP for platform roles, database
sessions, CSRF; one answer for every refusal."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pyotp
from sqlmodel import col, select

from core.app import create_app
from core.audit.models import PlatformAuditEvent
from core.db.base import utcnow
from core.db.engine import Database
from core.identity.attempts import ATTEMPTS
from core.identity.models import LoginSession, User
from core.identity.passwords import hash_password
from core.identity.service import create_user, enrol_totp
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.conftest import World, grant
from tests.served import served

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


async def login_outcomes(db: Database) -> list[str]:
    async with db.session() as session:
        events = await session.exec(
            select(PlatformAuditEvent)
            .where(PlatformAuditEvent.action == "auth.login")
            .order_by(col(PlatformAuditEvent.seq))
        )
        return [e.outcome for e in events.all()]


def answer(response: Any) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


async def test_failures_slow_down_their_address_without_locking_the_owner_out(
    settings: Settings, host: PluginHost, db: Database
) -> None:
    await make_user(db, "sv@example.jp")
    behind_proxy = dataclasses.replace(settings, trusted_proxies=("127.0.0.0/8",))
    attacker = {"X-Forwarded-For": "203.0.113.5"}
    async with served(create_app(behind_proxy, host=host)) as client:

        async def attempt(email: str, password: str, sender: dict[str, str]) -> Any:
            body = {"email": email, "password": password}
            return await client.post("/api/v1/auth/login", json=body, headers=sender)

        known = [await attempt("sv@example.jp", "wrong-password-123", attacker) for _ in range(5)]
        unknown = [
            await attempt("nobody@example.jp", "wrong-password-123", attacker) for _ in range(5)
        ]
        # the right password from the failing address waits too, as an unknown account does
        known.append(await attempt("sv@example.jp", PASSWORD, attacker))
        unknown.append(await attempt("nobody@example.jp", PASSWORD, attacker))
        # the owner, from their own address, is not locked out
        owner = await attempt("sv@example.jp", PASSWORD, {"X-Forwarded-For": "198.51.100.7"})
    assert [answer(r) for r in known] == [answer(r) for r in unknown]
    assert [r.status_code for r in known] == [401] * 5 + [429]
    assert answer(known[-1])[1] == "throttled"
    assert 0 < int(known[-1].headers["retry-after"]) <= 15 * 60
    assert owner.status_code == 200
    outcomes = await login_outcomes(db)
    assert outcomes.count("failed:password") == 5 and outcomes.count("failed:unknown") == 5
    assert outcomes.count("failed:throttled") == 2 and outcomes[-1] == "ok"


async def test_concurrent_attempts_get_no_more_than_the_throttle_allows(
    settings: Settings, host: PluginHost, db: Database
) -> None:
    await make_user(db, "sv@example.jp")
    async with served(
        create_app(settings, host=host)
    ) as client:  # a real server: the requests overlap
        answers = await asyncio.gather(
            *(login(client, "sv@example.jp", f"wrong-password-{n:03}") for n in range(12))
        )
    assert sorted(r.status_code for r in answers) == [401] * ATTEMPTS + [429] * (12 - ATTEMPTS)
    assert (await login_outcomes(db)).count("failed:password") == ATTEMPTS


async def test_sign_in_answers_do_not_tell_which_check_failed(
    app: Any, db: Database, settings: Settings
) -> None:
    await make_user(db, "admin@example.jp", ("platform_admin", None))
    unknown = answer(await login(app, "nobody@example.jp"))
    wrong_password = answer(await login(app, "admin@example.jp", "wrong-password-123"))
    not_enrolled = answer(await login(app, "admin@example.jp"))  # the right password
    assert unknown == wrong_password == not_enrolled
    assert unknown[:2] == (401, "invalid") and "madoguchi user totp" in unknown[2]
    async with db.session() as session:
        secret, uri = await enrol_totp(session, KeyRing(settings), "admin@example.jp")
        stored = (await session.exec(select(User).where(User.email == "admin@example.jp"))).one()
    assert uri.startswith("otpauth://totp/") and secret not in (stored.totp_sealed or "")
    assert answer(await login(app, "admin@example.jp")) == unknown  # no code
    assert answer(await login(app, "admin@example.jp", totp="000000")) == unknown
    code = pyotp.TOTP(secret).now()
    assert (await login(app, "admin@example.jp", totp=code)).status_code == 200
    assert answer(await login(app, "admin@example.jp", totp=code)) == unknown  # a code works once
    outcomes = await login_outcomes(db)
    for reason in ("unknown", "password", "totp_not_enrolled", "totp"):
        assert f"failed:{reason}" in outcomes  # the audit log keeps what the answer does not say


async def test_one_totp_code_opens_one_session_when_sent_in_parallel(
    settings: Settings, host: PluginHost, db: Database
) -> None:
    await make_user(db, "admin@example.jp", ("platform_admin", None))
    async with db.session() as session:
        secret, _ = await enrol_totp(session, KeyRing(settings), "admin@example.jp")
    code = pyotp.TOTP(secret).now()
    async with served(
        create_app(settings, host=host)
    ) as client:  # a real server: the requests overlap
        answers = await asyncio.gather(
            *(login(client, "admin@example.jp", totp=code) for _ in range(4))
        )
    assert sorted(r.status_code for r in answers) == [200, 401, 401, 401]
    async with db.session() as session:
        assert len((await session.exec(select(LoginSession))).all()) == 1


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
