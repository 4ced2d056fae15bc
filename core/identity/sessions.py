"""Sign-in: password, lockout, second factor, and database-backed browser sessions.

Sessions live in the database so any node can serve any request. A session ends after
``IDLE`` without use or ``ABSOLUTE`` after sign-in, whichever comes first; its cookie is
HttpOnly and SameSite=Lax, and every state-changing request made with it must carry its CSRF
token. Failed sign-ins are audited in their own transaction, so the refusal cannot erase them.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from litestar.datastructures import Cookie
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import record
from core.authz.roles import PLATFORM_ROLES
from core.db.base import utcnow
from core.db.engine import Database
from core.identity.models import LoginSession, RoleGrant, User
from core.identity.passwords import check_password, totp_step
from core.identity.service import hash_token
from core.pii.keyring import KeyRing

__all__ = [
    "ABSOLUTE",
    "IDLE",
    "LOCKOUT",
    "MAX_FAILURES",
    "SignInError",
    "SignedIn",
    "clear_session_cookie",
    "end_session",
    "session_cookie",
    "session_user",
    "sign_in",
]

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
COOKIE = "madoguchi_session"


class SignInError(Exception):
    """Sign-in refused. ``code`` is one of: invalid, locked, second_factor, enrol_totp."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    token: str
    csrf_token: str
    expires_at_iso: str


async def _needs_second_factor(session: AsyncSession, user_id: int) -> bool:
    grants = (await session.exec(select(RoleGrant).where(RoleGrant.user_id == user_id))).all()
    return any(g.role in PLATFORM_ROLES for g in grants)


async def _fail(db: Database, user_id: int | None, reason: str, *, count: bool) -> None:
    async with db.session() as session:
        if user_id is not None and count:
            user = await session.get(User, user_id)
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILURES:
                    user.locked_until = utcnow() + LOCKOUT
                    user.failed_logins = 0
        await record(
            session,
            "auth.login",
            object_type="user",
            object_id=user_id if user_id is not None else "",
            outcome=f"failed:{reason}",
        )


async def sign_in(
    db: Database, keyring: KeyRing, email: str, password: str, totp_code: str | None
) -> SignedIn:
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == email.strip().lower()))).first()
        ok, rehash = check_password(user.password_hash if user else None, password)
        if user is None or not user.is_active:
            await _fail(db, None, "unknown", count=False)
            raise SignInError("invalid", "メールアドレスまたはパスワードが違います。")
        assert user.id is not None
        if user.locked_until is not None and user.locked_until > utcnow():
            await _fail(db, user.id, "locked", count=False)
            raise SignInError(
                "locked", "ログインが一時的にロックされています。しばらくしてからお試しください。"
            )
        if not ok:
            await _fail(db, user.id, "password", count=True)
            raise SignInError("invalid", "メールアドレスまたはパスワードが違います。")
        if await _needs_second_factor(session, user.id):
            if user.totp_sealed is None:
                await _fail(db, user.id, "totp_not_enrolled", count=False)
                raise SignInError(
                    "enrol_totp",
                    "このアカウントには二要素認証の登録が必要です (madoguchi user totp)。",
                )
            secret = keyring.open_secret(f"totp|{user.id}", user.totp_sealed)
            step = totp_step(secret, totp_code or "", user.totp_last_step)
            if step is None:
                await _fail(db, user.id, "totp", count=True)
                raise SignInError("second_factor", "確認コードが違います。")
            user.totp_last_step = step
        user.failed_logins, user.locked_until = 0, None
        if rehash:
            user.password_hash = rehash
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = utcnow()
        session.add(
            LoginSession(
                token_hash=hash_token(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + ABSOLUTE,
            )
        )
        await record(session, "auth.login", object_type="user", object_id=user.id)
        return SignedIn(user.id, token, csrf, (now + ABSOLUTE).isoformat())


async def session_user(db: Database, token: str) -> tuple[int, str] | None:
    """(user id, CSRF token) of a live session, sliding its idle timer; None if ended."""
    now = utcnow()
    async with db.session() as session:
        row = (
            await session.exec(
                select(LoginSession).where(LoginSession.token_hash == hash_token(token))
            )
        ).first()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            return None
        if row.last_seen_at + IDLE <= now:
            row.revoked_at = now
            return None
        if now - row.last_seen_at > timedelta(seconds=60):
            row.last_seen_at = now
        return row.user_id, row.csrf_token


async def end_session(db: Database, token: str) -> bool:
    async with db.session() as session:
        row = (
            await session.exec(
                select(LoginSession).where(LoginSession.token_hash == hash_token(token))
            )
        ).first()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        await record(session, "auth.logout", object_type="user", object_id=row.user_id)
        return True


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected, given)


def session_cookie(token: str, *, secure: bool) -> Cookie:
    """The browser's session cookie: HttpOnly, SameSite=Lax, as long as the session."""
    return Cookie(
        key=COOKIE,
        value=token,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
        max_age=int(ABSOLUTE.total_seconds()),
    )


def clear_session_cookie() -> Cookie:
    return Cookie(key=COOKIE, value="", max_age=0, path="/")
