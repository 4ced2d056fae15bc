"""The job queue: tenant context, retries with backoff, no double claims."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import select

from core import JobContext, JobHandler, PluginManifest, hookimpl
from core.db.base import utcnow
from core.db.engine import Database
from core.jobs.models import Job, JobStatus
from core.jobs.queue import backoff, claim_next, enqueue
from core.jobs.worker import Worker
from core.plugins.host import PluginHost
from core.plugins.models import TenantPlugin
from tests.conftest import make_tenant


class JobPlugin:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, list[str]]] = []
        self.failures_left = 0

    async def record(self, job: JobContext, payload: dict[str, Any]) -> None:
        # what the job can see of the database is its own tenant's rows only
        async with job.session() as session:
            plugins = sorted(p.plugin_id for p in (await session.exec(select(TenantPlugin))).all())
        self.seen.append((job.tenant.slug, payload["n"], plugins))

    async def flaky(self, job: JobContext, payload: dict[str, Any]) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("relay down; secret-customer@example.jp")

    @hookimpl
    def register_jobs(self) -> list[JobHandler]:
        return [JobHandler("test.record", self.record), JobHandler("test.flaky", self.flaky)]


def job_host() -> tuple[PluginHost, JobPlugin]:
    host = PluginHost()
    host.load_builtins()
    plugin = JobPlugin()
    host.register(plugin, PluginManifest(id="jobs-test", name="Jobs", version="1.0"))
    return host, plugin


async def all_jobs(db: Database, ctx: Any) -> list[Job]:
    async with db.session(ctx) as s:
        return list((await s.exec(select(Job).order_by(Job.id))).all())


async def test_jobs_run_in_their_tenants_context(db: Database) -> None:
    host, plugin = job_host()
    a = await make_tenant(db, host, "job-a", {"intake": {}})
    b = await make_tenant(db, host, "job-b", {"voc": {}})
    await enqueue(db, a, "test.record", {"n": 1})
    await enqueue(db, b, "test.record", {"n": 2})
    worker = Worker(db, host)
    assert await worker.run_once() and await worker.run_once()
    assert not await worker.run_once()
    assert plugin.seen == [("job-a", 1, ["intake"]), ("job-b", 2, ["voc"])]
    assert [j.status for j in await all_jobs(db, a)] == [JobStatus.DONE]
    # tenant B's session does not see tenant A's job
    assert [j.tenant_id for j in await all_jobs(db, b)] == [b.id]


async def test_failed_job_is_retried_with_backoff_then_given_up(db: Database) -> None:
    host, plugin = job_host()
    ctx = await make_tenant(db, host, "flaky", {})
    plugin.failures_left = 10
    job_id = await enqueue(db, ctx, "test.flaky", {}, max_attempts=3)
    worker = Worker(db, host)
    assert await worker.run_once()
    [job] = await all_jobs(db, ctx)
    assert job.status == JobStatus.QUEUED and job.attempts == 1
    assert job.run_at > utcnow() + backoff(1) - timedelta(seconds=1)
    assert job.last_error == "ConnectionError"  # the type only: messages may quote personal data
    assert not await worker.run_once()  # not due yet
    for _ in range(2):
        async with db.session(ctx) as s:
            row = await s.get(Job, job_id)
            assert row is not None
            row.run_at = utcnow()
        assert await worker.run_once()
    [job] = await all_jobs(db, ctx)
    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert backoff(1) < backoff(2) < backoff(3) and backoff(30) == timedelta(hours=1)


async def test_a_job_succeeds_after_a_transient_failure(db: Database) -> None:
    host, plugin = job_host()
    ctx = await make_tenant(db, host, "recovers", {})
    plugin.failures_left = 1
    job_id = await enqueue(db, ctx, "test.flaky", {})
    worker = Worker(db, host)
    await worker.run_once()
    async with db.session(ctx) as s:
        row = await s.get(Job, job_id)
        assert row is not None
        row.run_at = utcnow()
    await worker.run_once()
    [job] = await all_jobs(db, ctx)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 2, None)


async def test_concurrent_workers_never_claim_the_same_job(db: Database, host: PluginHost) -> None:
    ctx = await make_tenant(db, host, "busy", {})
    for n in range(40):
        await enqueue(db, ctx, "test.record", {"n": n})

    async def claimer(name: str) -> list[int]:
        taken = []
        while (job := await claim_next(db, name, ["test.record"])) is not None:
            assert job.id is not None
            taken.append(job.id)
        return taken

    results = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    claimed = [job_id for taken in results for job_id in taken]
    assert len(claimed) == 40
    assert len(set(claimed)) == 40


async def test_job_of_unknown_kind_is_left_for_a_worker_that_knows_it(
    db: Database, host: PluginHost
) -> None:
    ctx = await make_tenant(db, host, "other-kind", {})
    await enqueue(db, ctx, "someone-else.job", {})
    assert not await Worker(db, job_host()[0]).run_once()
    [job] = await all_jobs(db, ctx)
    assert job.status == JobStatus.QUEUED
