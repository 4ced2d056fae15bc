"""audit: sealed notes given with a purpose chosen from a vocabulary

Revision ID: c0a1e0000051
Revises: c0a1e0000050
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import TZDateTime
from core.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "c0a1e0000051"
down_revision: str | None = "c0a1e0000050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "purpose_note",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_purpose_note_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purpose_note")),
        sa.UniqueConstraint("uid", name=op.f("uq_purpose_note_uid")),
    )
    with op.batch_alter_table("purpose_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purpose_note_tenant_id"), ["tenant_id"], unique=False)
    enable_tenant_rls("purpose_note")


def downgrade() -> None:
    disable_tenant_rls("purpose_note")
    with op.batch_alter_table("purpose_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purpose_note_tenant_id"))
    op.drop_table("purpose_note")
