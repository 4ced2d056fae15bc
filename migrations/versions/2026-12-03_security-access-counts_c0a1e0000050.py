"""security: per-user hourly access counts (atomic limits and once-an-hour alerts)

Revision ID: c0a1e0000050
Revises: c0a1e0000008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "c0a1e0000050"
down_revision: str | None = "c0a1e0000008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_count",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("alerted_hour", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_access_count_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_count")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "kind", name=op.f("uq_access_count_tenant_id_user_id_kind")
        ),
    )
    enable_tenant_rls("access_count")


def downgrade() -> None:
    disable_tenant_rls("access_count")
    op.drop_table("access_count")
