"""Import every core model so that metadata (and Alembic) sees all tables."""

from core.approvals.models import ChangeRequest
from core.audit.models import AuditEvent, AuditHead, PlatformAuditEvent, PlatformAuditHead
from core.identity.attempts import SignInAttempt
from core.identity.models import ApiToken, Invitation, LoginSession, RoleGrant, User
from core.jobs.models import Job
from core.pii.models import Canary, Customer, PurposeNote, TenantKey
from core.plugins.models import TenantPlugin
from core.security.models import AccessCount, ExportRequest, SecurityAlert
from core.tenancy.models import Tenant

__all__ = [
    "AccessCount",
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "Canary",
    "ChangeRequest",
    "Customer",
    "ExportRequest",
    "Invitation",
    "Job",
    "LoginSession",
    "PlatformAuditEvent",
    "PlatformAuditHead",
    "PurposeNote",
    "RoleGrant",
    "SecurityAlert",
    "SignInAttempt",
    "Tenant",
    "TenantKey",
    "TenantPlugin",
    "User",
]
