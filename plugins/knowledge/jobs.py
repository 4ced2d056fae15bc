"""Background jobs of the knowledge plugin."""

from __future__ import annotations

from typing import Any

import structlog

from core import JobContext

log = structlog.get_logger("madoguchi.knowledge")


async def reindex(job: JobContext, payload: dict[str, Any]) -> None:
    """Rebuild the tenant's search index (no documents yet: records that it ran)."""
    log.info("knowledge_reindexed", tenant=job.tenant.slug, attempt=job.attempt)
