"""The sample plugin's own table: one row per greeting it logged, in its tenant."""

from datetime import datetime

from sqlmodel import Field

from core import TenantScoped, TZDateTime, tenant_id_field, utcnow


class SampleGreeting(TenantScoped, table=True):
    __tablename__ = "sample_greeting"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = tenant_id_field(index=True)
    greeted_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
