"""The tenant context every tenant-scoped request, job and hook call carries."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TenantContext", "TenantContextMissing"]


class TenantContextMissing(RuntimeError):
    """A tenant-scoped query or write was attempted with no tenant in context (fail closed)."""


@dataclass(frozen=True, slots=True)
class TenantContext:
    """Who the work is for. Immutable, cheap to pass to every hook as its first argument."""

    id: int
    slug: str
    display_name: str
    color: str = "#1f6feb"
