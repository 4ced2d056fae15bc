"""audit: signed checkpoints of every chain, kept in the database (append-only for the app)

Revision ID: c0a1e0000030
Revises: c0a1e0000060
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import TZDateTime
from core.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "c0a1e0000030"
down_revision: str | None = "c0a1e0000060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", TZDateTime(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        *_columns(),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_audit_checkpoint_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
        sa.UniqueConstraint("tenant_id", "seq", name=op.f("uq_audit_checkpoint_tenant_id_seq")),
    )
    op.create_table(
        "platform_audit_checkpoint",
        *_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_audit_checkpoint")),
        sa.UniqueConstraint("seq", name=op.f("uq_platform_audit_checkpoint_seq")),
    )
    # the app role may read and add checkpoints, never change or remove them: see
    # core.db.migrate.APPEND_ONLY, applied after every upgrade
    enable_tenant_rls("audit_checkpoint", cross_tenant="audit-review")


def downgrade() -> None:
    disable_tenant_rls("audit_checkpoint")
    op.drop_table("platform_audit_checkpoint")
    op.drop_table("audit_checkpoint")
