"""Hook implementations of the knowledge plugin."""

from __future__ import annotations

from typing import Any

from core import JobHandler, hookimpl
from plugins.knowledge import jobs, routes


@hookimpl
def register_routes() -> list[Any]:
    return [routes.knowledge_settings]


@hookimpl
def register_jobs() -> list[JobHandler]:
    return [JobHandler(kind="knowledge.reindex", run=jobs.reindex, max_attempts=3)]
