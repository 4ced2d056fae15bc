"""sample: the greetings it logged

Revision ID: 5a0000000001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core import TZDateTime

revision: str = "5a0000000001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # its row-level security on PostgreSQL comes with `madoguchi db upgrade` (tenant_id)
    op.create_table(
        "sample_greeting",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("greeted_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name="fk_sample_greeting_tenant_id_tenant"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sample_greeting"),
    )
    op.create_index("ix_sample_greeting_tenant_id", "sample_greeting", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_sample_greeting_tenant_id", table_name="sample_greeting")
    op.drop_table("sample_greeting")
