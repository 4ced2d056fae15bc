"""customer: (tenant_id, phone_index) and (tenant_id, email_index) for blind-index lookups

Revision ID: c0a1e0000004
Revises: c0a1e0000003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c0a1e0000004"
down_revision: str | None = "c0a1e0000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index("ix_customer_tenant_phone", ["tenant_id", "phone_index"])
        batch_op.create_index("ix_customer_tenant_email", ["tenant_id", "email_index"])


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_tenant_email")
        batch_op.drop_index("ix_customer_tenant_phone")
