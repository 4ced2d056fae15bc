"""intake: canned replies (定型文) per tenant

Revision ID: c0a1e0000005
Revises: c0a1e0000004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import TZDateTime
from core.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "c0a1e0000005"
down_revision: str | None = "c0a1e0000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_canned_reply",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_canned_reply_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_canned_reply")),
        sa.UniqueConstraint(
            "tenant_id", "title", name=op.f("uq_intake_canned_reply_tenant_id_title")
        ),
    )
    with op.batch_alter_table("intake_canned_reply", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_canned_reply_tenant_id"), ["tenant_id"], unique=False
        )
    enable_tenant_rls("intake_canned_reply")


def downgrade() -> None:
    disable_tenant_rls("intake_canned_reply")
    with op.batch_alter_table("intake_canned_reply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_canned_reply_tenant_id"))
    op.drop_table("intake_canned_reply")
