"""intake: inbound addresses unique across tenants, vocabularies, reply delivery, per-field
verification checks

Revision ID: c0a1e0000020
Revises: c0a1e0000040
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import JSONType, TZDateTime
from core.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "c0a1e0000020"
down_revision: str | None = "c0a1e0000040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_inbound_address",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_inbound_address_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_inbound_address")),
        sa.UniqueConstraint("address", name=op.f("uq_intake_inbound_address_address")),
    )
    with op.batch_alter_table("intake_inbound_address", schema=None) as batch_op:
        batch_op.create_index(
            "ix_intake_inbound_address_tenant", ["tenant_id", "address"], unique=False
        )
    enable_tenant_rls("intake_inbound_address")

    op.create_table(
        "intake_vocabulary",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_vocabulary_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_vocabulary")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "label", name=op.f("uq_intake_vocabulary_tenant_id_kind_label")
        ),
    )
    enable_tenant_rls("intake_vocabulary")

    with op.batch_alter_table("intake_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("delivery_error", sa.String(length=32), nullable=True))
    with op.batch_alter_table("intake_verification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checks", JSONType, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_verification", schema=None) as batch_op:
        batch_op.drop_column("checks")
    with op.batch_alter_table("intake_message", schema=None) as batch_op:
        batch_op.drop_column("delivery_error")
        batch_op.drop_column("delivery")
    disable_tenant_rls("intake_vocabulary")
    op.drop_table("intake_vocabulary")
    disable_tenant_rls("intake_inbound_address")
    with op.batch_alter_table("intake_inbound_address", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_inbound_address_tenant")
    op.drop_table("intake_inbound_address")
