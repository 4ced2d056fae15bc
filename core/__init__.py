"""Madoguchi's core: the public surface plugins build on.

Plugins import only what is listed in ``__all__`` here, never a private module of ``core``.
"""

from core.audit.log import Actor, AuditEntry, acting_as
from core.audit.log import record as audit
from core.audit.log import record_many as audit_many
from core.cli.runtime import Runtime as CliRuntime
from core.crypto.keyfiles import load_or_create_key
from core.db.base import JSONType, TenantScoped, TZDateTime, new_uid, tenant_id_field, utcnow
from core.db.commit_cache import CommitCache
from core.db.engine import Database
from core.db.group_commit import GroupCommit
from core.db.statements import TENANT, Read, TenantStatement, defer, run_deferred, run_reads
from core.db.statements import run as run_statement
from core.db.upsert import insert_ignore
from core.jobs.queue import enqueue, enqueue_in
from core.jobs.registry import JobContext, JobHandler
from core.pii.access import PersonalData, PurposeRequired
from core.pii.keyring import KeyRing
from core.pii.models import Customer
from core.plugins.api import (
    MenuItem,
    PermissionSpec,
    PluginManifest,
    PortalSection,
    Setting,
    SettingsError,
)
from core.plugins.host import PluginHost
from core.plugins.markers import MadoguchiDeprecationWarning, hookimpl, hookspec
from core.tenancy.context import TenantContext, TenantContextMissing
from core.tenancy.service import enabled_plugins, plugin_settings, plugin_settings_by_tenant
from core.version import __version__
from core.web.access import AccessClaim, Rechecked, recheck_access
from core.web.deps import after_commit, notify_committed
from core.web.errors import ApiError
from core.web.inputs import INT_MAX, RowId
from core.web.members import user_may
from core.web.openapi import refusals
from core.web.schemas import StrictBody
from core.web.ui.render import page

__all__ = [
    "INT_MAX",
    "TENANT",
    "AccessClaim",
    "Actor",
    "ApiError",
    "AuditEntry",
    "CliRuntime",
    "CommitCache",
    "Customer",
    "Database",
    "GroupCommit",
    "JSONType",
    "JobContext",
    "JobHandler",
    "KeyRing",
    "MadoguchiDeprecationWarning",
    "MenuItem",
    "PermissionSpec",
    "PersonalData",
    "PluginHost",
    "PluginManifest",
    "PortalSection",
    "PurposeRequired",
    "Read",
    "Rechecked",
    "RowId",
    "Setting",
    "SettingsError",
    "StrictBody",
    "TZDateTime",
    "TenantContext",
    "TenantContextMissing",
    "TenantScoped",
    "TenantStatement",
    "__version__",
    "acting_as",
    "after_commit",
    "audit",
    "audit_many",
    "defer",
    "enabled_plugins",
    "enqueue",
    "enqueue_in",
    "hookimpl",
    "hookspec",
    "insert_ignore",
    "load_or_create_key",
    "new_uid",
    "notify_committed",
    "page",
    "plugin_settings",
    "plugin_settings_by_tenant",
    "recheck_access",
    "refusals",
    "run_deferred",
    "run_reads",
    "run_statement",
    "tenant_id_field",
    "user_may",
    "utcnow",
]
