"""customer: drop the single-column blind-index indexes (the tenant ones serve every lookup)

Each new customer wrote a random page of both indexes of its e-mail (and phone) index; only
(tenant_id, email_index) and (tenant_id, phone_index) are ever read.

Revision ID: c0a1e0000006
Revises: c0a1e0000005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c0a1e0000006"
down_revision: str | None = "c0a1e0000005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_email_index")
        batch_op.drop_index("ix_customer_phone_index")


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index("ix_customer_phone_index", ["phone_index"], unique=False)
        batch_op.create_index("ix_customer_email_index", ["email_index"], unique=False)
