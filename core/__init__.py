"""Madoguchi's core: the public surface plugins build on.

Plugins import only what is listed in ``__all__`` here, never a private module of ``core``.
"""

from core.audit.log import record as audit
from core.crypto.keyfiles import load_or_create_key
from core.db.base import JSONType, TenantScoped, TZDateTime, utcnow
from core.jobs.queue import enqueue
from core.jobs.registry import JobContext, JobHandler
from core.pii.access import PersonalData, PurposeRequired
from core.pii.models import Customer
from core.plugins.api import (
    MenuItem,
    PermissionSpec,
    PluginManifest,
    PortalSection,
    Setting,
    SettingsError,
)
from core.plugins.markers import hookimpl, hookspec
from core.tenancy.context import TenantContext, TenantContextMissing
from core.version import __version__
from core.web.deps import after_commit
from core.web.errors import ApiError
from core.web.ui.render import page

__all__ = [
    "ApiError",
    "Customer",
    "JSONType",
    "JobContext",
    "JobHandler",
    "MenuItem",
    "PermissionSpec",
    "PersonalData",
    "PluginManifest",
    "PortalSection",
    "PurposeRequired",
    "Setting",
    "SettingsError",
    "TZDateTime",
    "TenantContext",
    "TenantContextMissing",
    "TenantScoped",
    "__version__",
    "after_commit",
    "audit",
    "enqueue",
    "hookimpl",
    "hookspec",
    "load_or_create_key",
    "page",
    "utcnow",
]
