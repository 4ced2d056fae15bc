"""core: separation of duties: change requests and approvals, invitations, who made whom

Revision ID: c0a1e0000060
Revises: c0a1e0000051
Create Date: 2026-12-03

Schema first, then data: every grant that existed before approvals becomes an approved request
with the basis ``before_approvals`` (so the history of who holds what is complete), a tenant that
has a client_admin already has had its onboarding exception, and an account with a password is
taken as activated.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import JSONType, TZDateTime

revision: str = "c0a1e0000060"
down_revision: str | None = "c0a1e0000051"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("subject_user_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=40), nullable=True),
        sa.Column("changes", JSONType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.String(length=160), nullable=True),
        sa.Column("basis", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_via", sa.String(length=16), nullable=False),
        sa.Column("requested_at", TZDateTime(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", TZDateTime(), nullable=True),
        sa.Column("expires_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_change_request_tenant_id_tenant")
        ),
        sa.ForeignKeyConstraint(
            ["subject_user_id"],
            ["user_account.id"],
            name=op.f("fk_change_request_subject_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["user_account.id"],
            name=op.f("fk_change_request_requested_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_change_request_decided_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_request")),
        sa.UniqueConstraint("open_key", name=op.f("uq_change_request_open_key")),
    )
    op.create_index("ix_change_request_tenant_id_status", "change_request", ["tenant_id", "status"])
    op.create_index(
        op.f("ix_change_request_subject_user_id"), "change_request", ["subject_user_id"]
    )
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("expires_at", TZDateTime(), nullable=False),
        sa.Column("used_at", TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_invitation_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_invitation_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
    )
    op.create_index(op.f("ix_invitation_token_hash"), "invitation", ["token_hash"], unique=True)
    op.create_index(op.f("ix_invitation_user_id"), "invitation", ["user_id"])
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("activated_at", TZDateTime(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_user_account_created_by_user_account"), "user_account", ["created_by"], ["id"]
        )
    with op.batch_alter_table("role_grant") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_role_grant_request_id_change_request"),
            "change_request",
            ["request_id"],
            ["id"],
        )
    with op.batch_alter_table("tenant") as batch:
        batch.add_column(
            sa.Column("sod_window_days", sa.Integer(), nullable=False, server_default="30")
        )
        batch.add_column(
            sa.Column("export_valid_hours", sa.Integer(), nullable=False, server_default="24")
        )
        batch.add_column(sa.Column("onboarding_admin_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_tenant_onboarding_admin_id_user_account"),
            "user_account",
            ["onboarding_admin_id"],
            ["id"],
        )

    # data
    op.execute(
        "INSERT INTO change_request (kind, tenant_id, subject_user_id, role, changes, status,"
        " basis, requested_by, requested_via, requested_at, decided_at, expires_at)"
        " SELECT 'role.grant', tenant_id, user_id, role, '{}', 'approved', 'before_approvals',"
        " NULL, 'migration', created_at, created_at, created_at FROM role_grant"
    )
    op.execute(
        "UPDATE role_grant SET request_id = (SELECT max(c.id) FROM change_request c"
        " WHERE c.subject_user_id = role_grant.user_id AND c.role = role_grant.role"
        " AND coalesce(c.tenant_id, 0) = coalesce(role_grant.tenant_id, 0))"
    )
    op.execute(
        "UPDATE tenant SET onboarding_admin_id = (SELECT min(g.user_id) FROM role_grant g"
        " WHERE g.tenant_id = tenant.id AND g.role = 'client_admin')"
    )
    op.execute("UPDATE user_account SET activated_at = created_at WHERE password_hash IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("tenant") as batch:
        batch.drop_constraint(
            op.f("fk_tenant_onboarding_admin_id_user_account"), type_="foreignkey"
        )
        batch.drop_column("onboarding_admin_id")
        batch.drop_column("export_valid_hours")
        batch.drop_column("sod_window_days")
    with op.batch_alter_table("role_grant") as batch:
        batch.drop_constraint(op.f("fk_role_grant_request_id_change_request"), type_="foreignkey")
        batch.drop_column("request_id")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_constraint(op.f("fk_user_account_created_by_user_account"), type_="foreignkey")
        batch.drop_column("activated_at")
        batch.drop_column("created_by")
    op.drop_table("invitation")
    op.drop_table("change_request")
