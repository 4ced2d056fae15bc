"""Checkpoints taken by the serving process: when it starts, every minute, and when it stops.

Every serving process runs one (each node, each ASGI worker), so checkpoints keep coming
however the deployment is laid out; they read the heads from the database, so events written
by any process (job workers, the CLI) are covered. Processes that tick together are harmless:
:func:`core.audit.signer.take_checkpoints` skips a chain signed less than a minute ago and
stores one row per head.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.audit.signer import EVERY, CheckpointRun, take_checkpoints
from core.db.engine import Database

__all__ = ["Checkpointer"]

log = structlog.get_logger("madoguchi.audit")


class Checkpointer:
    def __init__(
        self, db: Database, key: Ed25519PrivateKey, *, interval: timedelta = EVERY
    ) -> None:
        self.db = db
        self.key = key
        self.interval = interval
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to take its last checkpoints and return."""
        self._stop.set()

    async def run(self) -> None:
        """Checkpoint now, then every ``interval`` until stopped, then once more: at shutdown
        every chain that grew is signed, however recently it was signed before."""
        while not self._stop.is_set():
            await self._take(self.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval.total_seconds())
        await self._take(timedelta(0))

    async def _take(self, every: timedelta) -> CheckpointRun | None:
        try:
            run = await take_checkpoints(self.db, self.key, every=every)
        except Exception as exc:  # the database may be briefly unavailable: try next time
            log.error("audit_checkpoint_failed", error=type(exc).__name__)
            return None
        if run.signed:
            log.info("audit_checkpoints_signed", chains=len(run.signed))
        return run
