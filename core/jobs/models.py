"""The job queue's table. Each job belongs to a tenant and runs in that tenant's context."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Column, Field

from core.db.base import JSONType, TenantScoped, TZDateTime, utcnow

__all__ = ["Job", "JobStatus"]


class JobStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # out of attempts; kept for an operator to look at


class Job(TenantScoped, table=True):
    # A worker must find due jobs before it knows whose they are; this names that one reason,
    # which the session filter and the PostgreSQL policy both accept for this table alone.
    __cross_tenant__: ClassVar[str | None] = "job-claim"
    __table_args__ = (sa.Index("ix_job_due", "status", "run_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=120)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType))
    status: str = Field(default=JobStatus.QUEUED, max_length=16)
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=5)
    run_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    locked_by: str | None = Field(default=None, max_length=120)
    locked_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=TZDateTime)
