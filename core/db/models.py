"""Import every core model so that metadata (and Alembic) sees all tables."""

from core.audit.models import AuditEvent, AuditHead, PlatformAuditEvent, PlatformAuditHead
from core.identity.attempts import SignInAttempt
from core.identity.models import ApiToken, LoginSession, RoleGrant, User
from core.jobs.models import Job
from core.pii.models import Canary, Customer, TenantKey
from core.plugins.models import TenantPlugin
from core.security.models import ExportRequest, SecurityAlert
from core.tenancy.models import Tenant

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "Canary",
    "Customer",
    "ExportRequest",
    "Job",
    "LoginSession",
    "PlatformAuditEvent",
    "PlatformAuditHead",
    "RoleGrant",
    "SecurityAlert",
    "SignInAttempt",
    "Tenant",
    "TenantKey",
    "TenantPlugin",
    "User",
]
