"""The exfiltration guard: per-user hourly limits, working hours, canary customers, alerts.

Alerts and refusals are evidence: they are written with :func:`keep_on_rollback`, so a refused
request cannot roll back the record of its own attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import current_actor, record
from core.audit.models import AuditEvent
from core.db.base import utcnow
from core.db.engine import keep_on_rollback
from core.pii.models import Canary
from core.security.models import SecurityAlert
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant

__all__ = ["LimitExceeded", "check_canaries", "check_limits", "raise_alert"]

log = structlog.get_logger("madoguchi.security")
TOKYO = ZoneInfo("Asia/Tokyo")
WINDOW = timedelta(hours=1)


class LimitExceeded(PermissionError):
    """The hard limit for this kind of access was reached for the hour."""


async def raise_alert(
    session: AsyncSession, ctx: TenantContext, kind: str, severity: str, detail: str
) -> None:
    """Record an alert (and its audit event) that survives the request's rollback."""
    actor = current_actor()

    async def write(target: AsyncSession) -> None:
        target.add(
            SecurityAlert(
                tenant_id=ctx.id,
                kind=kind,
                severity=severity,
                user_id=actor.user_id,
                detail=detail[:500],
            )
        )
        await record(
            target,
            "security.alert",
            object_type="alert",
            object_id=kind,
            outcome=severity,
            actor=actor,
        )

    await keep_on_rollback(session, write)
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


async def _alerted_recently(session: AsyncSession, kind: str, user_id: int | None) -> bool:
    found = (
        await session.exec(
            select(SecurityAlert.id).where(
                SecurityAlert.kind == kind,
                SecurityAlert.user_id == user_id,
                col(SecurityAlert.at) > utcnow() - WINDOW,
            )
        )
    ).first()
    return found is not None


async def check_limits(
    session: AsyncSession, tenant: Tenant, ctx: TenantContext, action: str, count: int
) -> None:
    """Before ``count`` more accesses of ``action`` (pii.read or pii.reveal) by the current
    user: alert past the soft limit, refuse past the hard one, flag off-hours access."""
    actor = current_actor()
    if action == "pii.reveal":
        soft, hard = tenant.reveal_soft_limit, tenant.reveal_hard_limit
    else:
        soft, hard = tenant.read_soft_limit, tenant.read_hard_limit
    done = int(
        (
            await session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.actor_user_id == actor.user_id,
                    AuditEvent.action == action,
                    AuditEvent.outcome == "ok",
                    col(AuditEvent.at) > utcnow() - WINDOW,
                )
            )
        ).one()
    )
    after = done + count
    if hard and after > hard:

        async def refused(target: AsyncSession) -> None:
            await record(target, action, outcome="refused:hard_limit", actor=actor)

        await keep_on_rollback(session, refused)
        await raise_alert(
            session, ctx, "hard_limit", "high", f"{action}: {after} in an hour, hard limit {hard}"
        )
        raise LimitExceeded(f"hourly limit for {action} reached")
    if soft and done <= soft < after:
        await raise_alert(
            session, ctx, "soft_limit", "medium", f"{action}: {after} in an hour, soft limit {soft}"
        )
    if outside_hours(tenant.working_hours, utcnow()) and not await _alerted_recently(
        session, "off_hours", actor.user_id
    ):
        await raise_alert(
            session,
            ctx,
            "off_hours",
            "medium",
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
