"""core initial: tenants, plugin enabling, jobs, users, grants and tokens

Revision ID: c0a1e0000001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import JSONType, TZDateTime
from core.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "c0a1e0000001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("display_name_en", sa.String(length=200), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("working_hours", sa.String(length=32), nullable=False),
        sa.Column("role_templates", JSONType, nullable=True),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("updated_at", TZDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant")),
    )
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tenant_slug"), ["slug"], unique=True)

    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_account_email"), ["email"], unique=True)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("expires_at", TZDateTime(), nullable=True),
        sa.Column("revoked_at", TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_api_token_tenant_id_tenant")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_api_token_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_token_hash"), ["token_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "job",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=120), nullable=False),
        sa.Column("payload", JSONType, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", TZDateTime(), nullable=False),
        sa.Column("locked_by", sa.String(length=120), nullable=True),
        sa.Column("locked_at", TZDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("finished_at", TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_job_tenant_id_tenant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_due", ["status", "run_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "role_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_role_grant_tenant_id_tenant")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_role_grant_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grant")),
        sa.UniqueConstraint(
            "user_id", "role", "tenant_id", name=op.f("uq_role_grant_user_id_role_tenant_id")
        ),
    )
    with op.batch_alter_table("role_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_grant_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_role_grant_user_id"), ["user_id"], unique=False)

    op.create_table(
        "tenant_plugin",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plugin_id", sa.String(length=63), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", JSONType, nullable=True),
        sa.Column("updated_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_tenant_plugin_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_plugin")),
        sa.UniqueConstraint(
            "tenant_id", "plugin_id", name=op.f("uq_tenant_plugin_tenant_id_plugin_id")
        ),
    )
    with op.batch_alter_table("tenant_plugin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tenant_plugin_tenant_id"), ["tenant_id"], unique=False)

    enable_tenant_rls("tenant_plugin")
    enable_tenant_rls("job", cross_tenant="job-claim")


def downgrade() -> None:
    disable_tenant_rls("job")
    disable_tenant_rls("tenant_plugin")
    with op.batch_alter_table("tenant_plugin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_plugin_tenant_id"))

    op.drop_table("tenant_plugin")
    with op.batch_alter_table("role_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_grant_user_id"))
        batch_op.drop_index(batch_op.f("ix_role_grant_tenant_id"))

    op.drop_table("role_grant")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_tenant_id"))
        batch_op.drop_index("ix_job_due")

    op.drop_table("job")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))
        batch_op.drop_index(batch_op.f("ix_api_token_token_hash"))

    op.drop_table("api_token")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_account_email"))

    op.drop_table("user_account")
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_slug"))

    op.drop_table("tenant")
