"""intake: queues route by category too (the kinds of inquiry a queue takes)

Revision ID: c0a1e0000008
Revises: c0a1e0000007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import JSONType

revision: str = "c0a1e0000008"
down_revision: str | None = "c0a1e0000007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("categories", JSONType, nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.drop_column("categories")
