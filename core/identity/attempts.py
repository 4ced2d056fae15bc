"""Sign-in attempts counted per account and client address: a throttle, not a lock.

A hard lock after N failures let anyone lock any account by typing its address with wrong
passwords. Here the count is kept per (e-mail as typed, client address): an address that
keeps failing for an account waits until its window ends, while the owner signing in from
their own address is not held up. Whether the account exists makes no difference, so the
answer tells a stranger nothing.

Each attempt is claimed before its password is checked, in one conditional upsert committed
at once, so concurrent attempts (on several app nodes) cannot share a slot: of twenty sent
together, exactly ``ATTEMPTS`` are checked. A successful sign-in clears its count.

The key is an unkeyed SHA-256 of the e-mail and address: it holds nothing the database does
not already hold in plaintext (the accounts, the audit events' addresses).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.base import TZDateTime, utcnow
from core.db.engine import Database

__all__ = ["ATTEMPTS", "WINDOW", "SignInAttempt", "attempt_key", "claim_attempt", "clear_attempts"]

ATTEMPTS = 5  # per account and address within WINDOW
WINDOW = timedelta(minutes=15)


class SignInAttempt(SQLModel, table=True):
    """The attempts one address made for one account in the current window (platform table)."""

    __tablename__ = "sign_in_attempt"

    key: str = Field(primary_key=True, max_length=64)
    attempts: int = Field(default=1)
    window_start: datetime = Field(sa_type=TZDateTime, index=True)


_TABLE = SignInAttempt.__table__  # type: ignore[attr-defined]


def attempt_key(email: str, client: str) -> str:
    return hashlib.sha256(f"{email.strip().lower()}\n{client}".encode()).hexdigest()


def _claim_statement(dialect: str, key: str, now: datetime) -> sa.UpdateBase:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    expired = _TABLE.c.window_start <= sa.literal(now - WINDOW, TZDateTime())
    return (
        insert(_TABLE)
        .values(key=key, attempts=1, window_start=now)
        .on_conflict_do_update(
            index_elements=["key"],
            set_={
                "attempts": sa.case((expired, 1), else_=_TABLE.c.attempts + 1),
                "window_start": sa.case(
                    (expired, sa.literal(now, TZDateTime())), else_=_TABLE.c.window_start
                ),
            },
            where=sa.or_(expired, _TABLE.c.attempts < ATTEMPTS),
        )
        .returning(_TABLE.c.attempts)
    )


async def claim_attempt(db: Database, key: str) -> int | None:
    """Count one attempt, committed at once; None when it may go ahead, else the seconds
    until this account and address may try again."""
    now = utcnow()
    async with db.session() as session:
        claimed = (await session.exec(_claim_statement(db.dialect, key, now))).first()
        if claimed is not None:
            return None
        started = await session.scalar(sa.select(_TABLE.c.window_start).where(_TABLE.c.key == key))
    left = (started + WINDOW - now).total_seconds() if started is not None else 0
    return max(1, math.ceil(left))


async def clear_attempts(session: AsyncSession, key: str) -> None:
    """After a successful sign-in: forget its count, and every window that has ended."""
    await session.exec(
        sa.delete(_TABLE).where(
            sa.or_(
                _TABLE.c.key == key,
                _TABLE.c.window_start <= sa.literal(utcnow() - WINDOW, TZDateTime()),
            )
        )
    )
