"""Job kinds and their handlers, collected from ``register_jobs``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.tenancy.context import TenantContext

__all__ = ["JobContext", "JobHandler"]


@dataclass(frozen=True)
class JobContext:
    """What a job handler gets: its tenant and a way to a tenant-bound session."""

    tenant: TenantContext
    job_id: int
    attempt: int
    db: Any  # core.db.engine.Database
    keyring: Any = None  # core.pii.keyring.KeyRing, for jobs that touch personal data
    host: Any = None  # core.plugins.host.PluginHost, for jobs that notify plugins

    def session(self) -> Any:
        """A session bound to the job's tenant (commits when the block ends)."""
        return self.db.session(self.tenant)


@dataclass(frozen=True)
class JobHandler:
    """A job kind (``plugin.action``) and the coroutine that runs it."""

    kind: str
    run: Callable[[JobContext, dict[str, Any]], Awaitable[None]]
    max_attempts: int = 5
