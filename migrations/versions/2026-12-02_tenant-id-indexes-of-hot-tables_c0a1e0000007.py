"""drop the tenant_id-only index of tables whose own indexes lead with tenant_id

customer, intake_inquiry, intake_idempotency, audit_event and audit_head: every insert paid a
page of the redundant index, and on PostgreSQL a generic plan could choose it for a lookup
(tenant_id = $1 AND email_index IN (...)) and scan the whole tenant.

Revision ID: c0a1e0000007
Revises: c0a1e0000006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c0a1e0000007"
down_revision: str | None = "c0a1e0000006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customer", "intake_inquiry", "intake_idempotency", "audit_event", "audit_head")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_tenant_id")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f"ix_{table}_tenant_id", ["tenant_id"], unique=False)
