"""The job queue in the database.

Claiming is atomic on both engines: PostgreSQL uses ``FOR UPDATE SKIP LOCKED`` so workers on
several nodes never take the same job; SQLite has one writer at a time, and the claim is a
single ``UPDATE ... WHERE id = (SELECT ...) AND status = 'queued'`` that either takes the row
or finds it taken. A failed job is retried with exponential backoff until ``max_attempts``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from core.db.base import utcnow
from core.db.engine import Database
from core.jobs.models import Job, JobStatus
from core.tenancy.context import TenantContext

__all__ = ["CLAIM", "backoff", "claim_next", "enqueue", "enqueue_in", "finish", "retry_or_fail"]

CLAIM = "job-claim"  # the cross-tenant reason Job declares
LEASE = timedelta(minutes=10)


def backoff(attempt: int) -> timedelta:
    """Delay before retry number ``attempt`` (1-based): 2 s, 4 s, 8 s ... capped at one hour."""
    return timedelta(seconds=min(2**attempt, 3600))


async def enqueue(
    db: Database,
    ctx: TenantContext,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    max_attempts: int = 5,
    delay: timedelta | None = None,
) -> int:
    """Queue a job for a tenant. Payloads hold ids, never personal values."""
    async with db.session(ctx) as session:
        job = Job(
            tenant_id=ctx.id,
            kind=kind,
            payload=payload or {},
            max_attempts=max_attempts,
            run_at=utcnow() + (delay or timedelta()),
        )
        session.add(job)
        await session.flush()
        assert job.id is not None
        return job.id


async def enqueue_in(
    session: Any,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    max_attempts: int = 5,
    delay: timedelta | None = None,
    once: bool = False,
) -> None:
    """Queue a job in the caller's transaction (tenant-bound session): it exists exactly
    when the work that asked for it was committed. ``once``: not if one of this kind is
    already queued or running for the tenant."""
    from core.db.session import session_tenant_id

    tenant_id = session_tenant_id(session.sync_session)
    if tenant_id is None:
        raise RuntimeError("enqueue_in needs a session bound to a tenant")
    if once:
        pending = (
            await session.exec(
                select(Job.id).where(
                    Job.kind == kind, col(Job.status).in_((JobStatus.QUEUED, JobStatus.RUNNING))
                )
            )
        ).first()
        if pending is not None:
            return
    session.add(
        Job(
            tenant_id=tenant_id,
            kind=kind,
            payload=payload or {},
            max_attempts=max_attempts,
            run_at=utcnow() + (delay or timedelta()),
        )
    )


async def claim_next(db: Database, worker: str, kinds: list[str]) -> Job | None:
    """Take the oldest due job of the given kinds for ``worker``, or None."""
    now = utcnow()
    due = sa.or_(
        sa.and_(col(Job.status) == JobStatus.QUEUED, col(Job.run_at) <= now),
        sa.and_(
            col(Job.status) == JobStatus.RUNNING, col(Job.locked_at) < now - LEASE
        ),  # a dead worker's
    )
    async with db.session(cross_tenant=CLAIM) as session:
        if db.dialect == "postgresql":
            candidate = select(col(Job.id)).where(due, col(Job.kind).in_(kinds))
            candidate = (
                candidate.order_by(col(Job.run_at), col(Job.id))
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            job_id = (await session.exec(candidate)).first()
            if job_id is None:
                return None
            job = await session.get(Job, job_id)
            assert job is not None
            job.status, job.locked_by, job.locked_at = JobStatus.RUNNING, worker, now
            job.attempts += 1
            return job
        subquery = (
            sa.select(col(Job.id))
            .where(due, col(Job.kind).in_(kinds))
            .order_by(col(Job.run_at), col(Job.id))
            .limit(1)
            .scalar_subquery()
        )
        result = await session.exec(
            sa.update(Job)
            .where(col(Job.id) == subquery, due)
            .values(
                status=JobStatus.RUNNING,
                locked_by=worker,
                locked_at=now,
                attempts=col(Job.attempts) + 1,
            )
            .returning(col(Job.id))
            .execution_options(synchronize_session=False)
        )
        job_id = result.scalar()
        if job_id is None:
            return None
        return (await session.exec(select(Job).where(Job.id == job_id))).one()


async def finish(db: Database, job: Job) -> None:
    async with db.session(job.tenant_id) as session:
        row = await session.get(Job, job.id)
        if row is not None and row.locked_by == job.locked_by:
            row.status, row.finished_at, row.last_error = JobStatus.DONE, utcnow(), None


async def retry_or_fail(db: Database, job: Job, error: str) -> str:
    """Record a failure; queue a retry after the backoff, or mark the job failed for good."""
    async with db.session(job.tenant_id) as session:
        row = await session.get(Job, job.id)
        if row is None:
            return "gone"
        row.last_error = error[:2000]
        row.locked_by = row.locked_at = None
        if row.attempts >= row.max_attempts:
            row.status, row.finished_at = JobStatus.FAILED, utcnow()
        else:
            row.status, row.run_at = JobStatus.QUEUED, utcnow() + backoff(row.attempts)
        return row.status
