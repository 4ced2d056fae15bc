"""The exfiltration guard: per-user hourly limits, working hours, canary customers, alerts.

Alerts and refusals are evidence: they are written with :func:`keep_on_rollback`, so a refused
request cannot roll back the record of its own attempt.

The limits count per user and **clock hour** (Japan's hours begin with UTC's): a user's
accesses of one kind (``pii.read``: records shown; ``pii.reveal``) in one ``access_count``
row, which one conditional ``UPDATE ... RETURNING`` moves on only while the hard limit holds.
Requests that arrive together wait for each other's commit on that row (on SQLite for the
database's write lock), so exactly ``hard`` accesses pass in an hour, however many are tried
at once; a request that fails rolls its count back with it. The count starts again at each
hour, so a user who spends a whole limit at 10:59 may spend another at 11:00. The soft-limit
alert and the off-hours alert are raised once per user and hour by the same kind of update,
made together with the alert, so an alert whose request rolled back still stops a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import Actor, current_actor, hold_chain, record
from core.db.base import utcnow
from core.db.engine import keep_on_rollback
from core.db.statements import TENANT, TenantStatement
from core.db.statements import run as run_statement
from core.db.upsert import insert_ignore
from core.pii.models import Canary
from core.security.models import AccessCount, SecurityAlert
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant

__all__ = ["LimitExceeded", "check_canaries", "check_limits", "raise_alert"]

log = structlog.get_logger("madoguchi.security")
TOKYO = ZoneInfo("Asia/Tokyo")
NO_LIMIT = 2**31 - 1  # a limit of 0 means none; counts are 32-bit integers


class LimitExceeded(PermissionError):
    """The hard limit for this kind of access was reached for the hour."""


async def raise_alert(
    session: AsyncSession, ctx: TenantContext, kind: str, severity: str, detail: str
) -> None:
    """Record an alert (and its audit event) that survives the request's rollback."""
    actor = current_actor()

    async def write(target: AsyncSession) -> None:
        await _write_alert(target, ctx, actor, kind, severity, detail)

    await keep_on_rollback(session, write)
    _log_alert(ctx, actor, kind, severity)


async def _write_alert(
    session: AsyncSession, ctx: TenantContext, actor: Actor, kind: str, severity: str, detail: str
) -> None:
    session.add(
        SecurityAlert(
            tenant_id=ctx.id,
            kind=kind,
            severity=severity,
            user_id=actor.user_id,
            detail=detail[:500],
        )
    )
    await record(
        session,
        "security.alert",
        object_type="alert",
        object_id=kind,
        outcome=severity,
        actor=actor,
    )


def _log_alert(ctx: TenantContext, actor: Actor, kind: str, severity: str) -> None:
    log.warning("security_alert", tenant=ctx.slug, kind=kind, severity=severity, user=actor.user_id)


def outside_hours(hours: str, now: datetime) -> bool:
    """Whether ``now`` falls outside ``HH:MM-HH:MM`` (Japan time); no hours, never."""
    if not hours:
        return False
    start_text, end_text = hours.split("-")
    start = time.fromisoformat(start_text)
    end = time.max if end_text == "24:00" else time.fromisoformat(end_text)
    local = now.astimezone(TOKYO).time()
    return not (start <= local <= end)


def _where(kind: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(AccessCount.tenant_id) == TENANT,
        col(AccessCount.user_id) == sa.bindparam("user", type_=sa.Integer),
        col(AccessCount.kind) == kind,
    )


_HOUR = sa.bindparam("now_hour", type_=sa.Integer)  # not "hour": an UPDATE reserves it
_N = sa.bindparam("n", type_=sa.Integer)


def _counter(kind: str) -> TenantStatement:
    """Add ``:n`` to this hour's count (a new hour starts from nothing) unless that passes
    ``:limit``; returns the new count, or no row when refused (or the row is missing)."""
    this_hour = sa.case((col(AccessCount.hour) == _HOUR, col(AccessCount.count)), else_=0)
    return TenantStatement(
        sa.update(AccessCount)
        .where(_where(kind), this_hour + _N <= sa.bindparam("limit", type_=sa.Integer))
        .values(count=this_hour + _N, hour=_HOUR)
        .returning(col(AccessCount.count))
    )


def _alert_mark(kind: str) -> TenantStatement:
    """Note that this hour's alert is raised, unless it was; returns a row only the once."""
    return TenantStatement(
        sa.update(AccessCount)
        .where(
            _where(kind),
            sa.or_(col(AccessCount.alerted_hour).is_(None), col(AccessCount.alerted_hour) != _HOUR),
        )
        .values(alerted_hour=_HOUR)
        .returning(col(AccessCount.id))
    )


KINDS = ("pii.read", "pii.reveal", "off_hours")
_COUNT = {kind: _counter(kind) for kind in KINDS}
_MARK = {kind: _alert_mark(kind) for kind in KINDS}


def _hour(now: datetime) -> int:
    return int(now.timestamp()) // 3600


async def _ensure_row(session: AsyncSession, tenant_id: int, user: int, kind: str) -> None:
    await insert_ignore(
        session,
        AccessCount,
        {"tenant_id": tenant_id, "user_id": user, "kind": kind},
        ["tenant_id", "user_id", "kind"],
    )


async def _count(
    session: AsyncSession, ctx: TenantContext, user: int, kind: str, n: int, limit: int
) -> int | None:
    """This hour's count after ``n`` more, or None if that would pass ``limit``."""
    params = {"user": user, "now_hour": _hour(utcnow()), "n": n, "limit": limit}
    row = (await run_statement(session, _COUNT[kind], params)).first()
    if row is None:  # the user's first access of this kind here, or refused: tell them apart
        await _ensure_row(session, ctx.id, user, kind)
        row = (await run_statement(session, _COUNT[kind], params)).first()
    return None if row is None else int(row[0])


async def _alert_once_this_hour(
    session: AsyncSession, ctx: TenantContext, actor: Actor, kind: str, alert: str, detail: str
) -> None:
    """Raise ``alert`` unless it was raised for this user, ``kind`` and hour. The mark and the
    alert are evidence together: kept, or replayed after a rollback, as one."""
    user = actor.user_id or 0

    async def write(target: AsyncSession) -> None:
        await hold_chain(target)  # before the count's row, as in every audited transaction
        params = {"user": user, "now_hour": _hour(utcnow())}
        marked = (await run_statement(target, _MARK[kind], params)).first()
        if marked is None:  # raised already, or (a replay after a rollback) no row yet
            await _ensure_row(target, ctx.id, user, kind)
            marked = (await run_statement(target, _MARK[kind], params)).first()
        if marked is not None:
            await _write_alert(target, ctx, actor, alert, "medium", detail)
            _log_alert(ctx, actor, alert, "medium")

    await keep_on_rollback(session, write)


async def check_limits(
    session: AsyncSession, tenant: Tenant, ctx: TenantContext, action: str, count: int
) -> None:
    """Before ``count`` more accesses of ``action`` (pii.read or pii.reveal) by the current
    user: count them, refuse past the hard limit (raises :class:`LimitExceeded`; nothing is
    counted), alert once when the soft limit is passed and once an hour for access outside
    working hours. Takes the tenant's audit chain first (see :func:`hold_chain`)."""
    actor = current_actor()
    user = actor.user_id or 0
    if action == "pii.reveal":
        soft, hard = tenant.reveal_soft_limit, tenant.reveal_hard_limit
    else:
        soft, hard = tenant.read_soft_limit, tenant.read_hard_limit
    after: int | None = 0
    if count:  # an empty list shows nothing: nothing to count
        await hold_chain(session)
        after = await _count(session, ctx, user, action, count, hard or NO_LIMIT)
    if after is None:

        async def refused(target: AsyncSession) -> None:
            await record(target, action, outcome="refused:hard_limit", actor=actor)
            await _write_alert(
                target, ctx, actor, "hard_limit", "high", f"{action}: hard limit {hard} an hour"
            )

        await keep_on_rollback(session, refused)
        _log_alert(ctx, actor, "hard_limit", "high")
        raise LimitExceeded(f"hourly limit for {action} reached")
    if soft and after - count <= soft < after:
        await _alert_once_this_hour(
            session,
            ctx,
            actor,
            action,
            "soft_limit",
            f"{action}: {after} this hour, soft limit {soft}",
        )
    if outside_hours(tenant.working_hours, utcnow()):
        await _alert_once_this_hour(
            session,
            ctx,
            actor,
            "off_hours",
            "off_hours",
            f"{action} outside working hours {tenant.working_hours}",
        )


async def check_canaries(
    session: AsyncSession, ctx: TenantContext, customer_ids: Iterable[int], action: str
) -> int:
    """Alert at once when a canary customer is among ``customer_ids``; returns how many."""
    ids = list(customer_ids)
    if not ids:
        return 0
    hits = int(
        (
            await session.exec(
                select(func.count()).select_from(Canary).where(col(Canary.customer_id).in_(ids))
            )
        ).one()
    )
    if hits:
        await raise_alert(
            session, ctx, "canary", "critical", f"{action} touched {hits} canary record(s)"
        )
    return hits
