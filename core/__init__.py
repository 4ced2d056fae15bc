"""Madoguchi's core: the public surface plugins build on.

Plugins import only what is listed in ``__all__`` here (``from core import X``), never a
module of ``core``; import-linter holds them to it. Each name is documented in
``docs/api.md``, and a test fails when one is not.
"""

from core.audit.log import Actor, AuditEntry, acting_as
from core.audit.log import record as audit
from core.audit.log import record_many as audit_many
from core.cli.process import PluginProcess, run_plugin_process
from core.db.base import JSONType, TenantScoped, TZDateTime, new_uid, tenant_id_field, utcnow
from core.db.commit_cache import CommitCache
from core.db.group_commit import GroupCommit
from core.db.statements import TENANT, Read, TenantStatement, defer, run_deferred, run_reads
from core.db.statements import run as run_statement
from core.db.upsert import insert_ignore
from core.jobs.queue import enqueue_in
from core.jobs.registry import JobContext, JobHandler, TenantServices
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
from core.plugins.host import TenantRelay
from core.plugins.markers import MadoguchiDeprecationWarning, hookimpl, hookspec
from core.tenancy.context import TenantContext
from core.version import __version__
from core.web.access import AccessClaim, Rechecked, recheck_access
from core.web.context import PluginContext
from core.web.errors import ApiError
from core.web.inputs import INT_MAX, RowId
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
    "CommitCache",
    "Customer",
    "GroupCommit",
    "JSONType",
    "JobContext",
    "JobHandler",
    "MadoguchiDeprecationWarning",
    "MenuItem",
    "PermissionSpec",
    "PersonalData",
    "PluginContext",
    "PluginManifest",
    "PluginProcess",
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
    "TenantRelay",
    "TenantScoped",
    "TenantServices",
    "TenantStatement",
    "__version__",
    "acting_as",
    "audit",
    "audit_many",
    "defer",
    "enqueue_in",
    "hookimpl",
    "hookspec",
    "insert_ignore",
    "new_uid",
    "page",
    "recheck_access",
    "refusals",
    "run_deferred",
    "run_plugin_process",
    "run_reads",
    "run_statement",
    "tenant_id_field",
    "utcnow",
]
