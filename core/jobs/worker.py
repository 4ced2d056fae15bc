"""The worker loop: claim a due job, run it in its tenant's context, record the outcome.

``madoguchi worker`` runs it as its own process (any number of them, on any node);
``madoguchi serve`` on SQLite runs one inside the server process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import structlog

from core.db.engine import Database
from core.jobs.queue import claim_next, finish, retry_or_fail
from core.jobs.registry import JobContext, JobHandler
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.tenancy.models import Tenant
from core.tenancy.service import context_of

__all__ = ["Worker"]

log = structlog.get_logger("madoguchi.jobs")


class Worker:
    def __init__(
        self,
        db: Database,
        host: PluginHost,
        *,
        name: str | None = None,
        poll_interval: float = 1.0,
        keyring: KeyRing | None = None,
    ) -> None:
        self.db = db
        self.host = host
        self.keyring = keyring
        self.handlers: dict[str, JobHandler] = {}
        for handler in host.collect("register_jobs"):
            if handler.kind in self.handlers:
                raise RuntimeError(f"job kind {handler.kind} is registered twice")
            self.handlers[handler.kind] = handler
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.poll_interval = poll_interval
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run_once(self) -> bool:
        """Run one due job if there is one; returns whether a job ran."""
        if not self.handlers:
            return False
        job = await claim_next(self.db, self.name, sorted(self.handlers))
        if job is None:
            return False
        async with self.db.session() as session:
            tenant = await session.get(Tenant, job.tenant_id)
        assert tenant is not None and job.id is not None
        ctx = context_of(tenant)
        handler = self.handlers[job.kind]
        bound = log.bind(job_id=job.id, kind=job.kind, tenant=ctx.slug, attempt=job.attempts)
        try:
            await handler.run(
                JobContext(
                    tenant=ctx,
                    job_id=job.id,
                    attempt=job.attempts,
                    _db=self.db,
                    _keyring=self.keyring,
                    _host=self.host,
                ),
                dict(job.payload),
            )
        except Exception as exc:  # a job's failure must not stop the worker
            # only the exception's type: its message may quote personal data
            status = await retry_or_fail(self.db, job, type(exc).__name__)
            bound.warning("job_failed", error=type(exc).__name__, next=status)
            return True
        await finish(self.db, job)
        bound.info("job_done")
        return True

    async def run(self) -> None:
        log.info("worker_started", worker=self.name, kinds=sorted(self.handlers))
        while not self._stop.is_set():
            try:
                ran = await self.run_once()
            except Exception as exc:  # the database may be briefly unavailable
                log.error("worker_error", error=type(exc).__name__)
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.poll_interval)
        log.info("worker_stopped", worker=self.name)
