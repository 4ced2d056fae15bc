"""Sign-in: password, second factor, the attempt throttle, and database-backed browser sessions.

Sessions live in the database so any node can serve any request. A session ends after
``IDLE`` without use or ``ABSOLUTE`` after sign-in, whichever comes first; its cookie is
HttpOnly and SameSite=Lax, and every state-changing request made with it must carry its CSRF
token. Failed sign-ins are audited in their own transaction, so the refusal cannot erase them.

A refusal says only "invalid" or "throttled", the same whether the account exists, the
password was right or the second factor was missing: someone without the password learns
nothing, and the message tells a legitimate user what each case needs. Attempts are counted
per account and client address (:mod:`core.identity.attempts`), never locking the owner out.
A TOTP code opens one session: its step is taken by one conditional UPDATE.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from litestar.datastructures import Cookie
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import record
from core.authz.roles import PLATFORM_ROLES
from core.db.base import utcnow
from core.db.engine import Database
from core.identity.attempts import attempt_key, claim_attempt, clear_attempts
from core.identity.models import LoginSession, RoleGrant, User
from core.identity.passwords import check_password, totp_step
from core.identity.service import hash_token
from core.pii.keyring import KeyRing

__all__ = [
    "ABSOLUTE",
    "IDLE",
    "SignInError",
    "SignedIn",
    "clear_session_cookie",
    "end_other_sessions",
    "end_session",
    "session_cookie",
    "session_user",
    "sign_in",
]

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
COOKIE = "madoguchi_session"
INVALID = (
    "メールアドレス、パスワードまたは確認コードが違います。プラットフォームの役割を持つ"
    "アカウントには認証アプリの確認コードも必要です (未登録なら管理者が madoguchi user totp"
    " で登録します)。"
)
THROTTLED = "このアドレスからこのアカウントへのサインインの失敗が続きました。しばらくしてからお試しください。"


class SignInError(Exception):
    """Sign-in refused. ``code`` is ``invalid`` or ``throttled`` (then ``retry_after``
    seconds); nothing else, so that the answer does not tell which check failed."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    token: str
    csrf_token: str
    expires_at_iso: str


async def _needs_second_factor(session: AsyncSession, user_id: int) -> bool:
    grants = (await session.exec(select(RoleGrant).where(RoleGrant.user_id == user_id))).all()
    return any(g.role in PLATFORM_ROLES for g in grants)


class _Refused(Exception):
    """Why a sign-in was refused (for the audit log only), raised out of its transaction."""

    def __init__(self, user_id: int | None, reason: str) -> None:
        super().__init__(reason)
        self.user_id = user_id
        self.reason = reason


async def _take_totp_step(session: AsyncSession, user_id: int, step: int) -> bool:
    """Mark ``step`` used unless it (or a later one) was used already: one UPDATE, so two
    sign-ins with the same code cannot both pass (the second waits for the first's row)."""
    taken = await session.exec(
        sa.update(User)
        .where(col(User.id) == user_id, col(User.totp_last_step) < step)
        .values(totp_last_step=step)
        .returning(col(User.id))
        .execution_options(synchronize_session=False)
    )
    return taken.first() is not None


async def sign_in(
    db: Database,
    keyring: KeyRing,
    email: str,
    password: str,
    totp_code: str | None,
    client: str,
) -> SignedIn:
    """A new session, or :class:`SignInError`. ``client`` is the caller's address (the
    throttle counts attempts per account and address)."""
    email = email.strip().lower()
    key = attempt_key(email, client)
    wait = await claim_attempt(db, key)
    try:
        async with db.session() as session:
            user = (await session.exec(select(User).where(User.email == email))).first()
            if wait is not None:
                raise _Refused(user.id if user else None, "throttled")
            return await _open_session(session, keyring, user, password, totp_code, key)
    except _Refused as refused:
        # audited after the sign-in's transaction rolled back, so it holds no lock
        async with db.session() as session:
            await record(
                session,
                "auth.login",
                object_type="user",
                object_id=refused.user_id if refused.user_id is not None else "",
                outcome=f"failed:{refused.reason}",
            )
        if wait is not None:
            raise SignInError("throttled", THROTTLED, retry_after=wait) from None
        raise SignInError("invalid", INVALID) from None


async def _open_session(
    session: AsyncSession,
    keyring: KeyRing,
    user: User | None,
    password: str,
    totp_code: str | None,
    key: str,
) -> SignedIn:
    # argon2 takes tens of milliseconds of CPU: off the event loop
    stored = user.password_hash if user else None
    ok, rehash = await asyncio.to_thread(check_password, stored, password)
    if user is None or not user.is_active:
        raise _Refused(None, "unknown")
    assert user.id is not None
    if not ok:
        raise _Refused(user.id, "password")
    if await _needs_second_factor(session, user.id):
        if user.totp_sealed is None:
            raise _Refused(user.id, "totp_not_enrolled")
        secret = keyring.open_secret(f"totp|{user.id}", user.totp_sealed)
        step = totp_step(secret, totp_code or "", user.totp_last_step)
        if step is None or not await _take_totp_step(session, user.id, step):
            raise _Refused(user.id, "totp")
    if rehash:
        user.password_hash = rehash
    await clear_attempts(session, key)
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


async def end_other_sessions(session: AsyncSession, user_id: int, keep: str | None = None) -> int:
    """End every live session of the user but the one whose token is ``keep`` (after a
    password change: a stolen session must not outlive the old password). Returns how many."""
    now = utcnow()
    statement = sa.update(LoginSession).where(
        col(LoginSession.user_id) == user_id, col(LoginSession.revoked_at).is_(None)
    )
    if keep is not None:
        statement = statement.where(col(LoginSession.token_hash) != hash_token(keep))
    ended = await session.exec(
        statement.values(revoked_at=now).execution_options(synchronize_session=False)
    )
    return int(ended.rowcount or 0)


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
