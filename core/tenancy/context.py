"""The tenant context (defined at the bottom of the core's layers, in
:mod:`core.tenant_context`, because the tenant-filtered session takes one)."""

from core.tenant_context import TenantContext, TenantContextMissing

__all__ = ["TenantContext", "TenantContextMissing"]
