"""Import every core model so that metadata (and Alembic) sees all tables."""

from core.identity.models import ApiToken, RoleGrant, User
from core.jobs.models import Job
from core.plugins.models import TenantPlugin
from core.tenancy.models import Tenant

__all__ = ["ApiToken", "Job", "RoleGrant", "Tenant", "TenantPlugin", "User"]
