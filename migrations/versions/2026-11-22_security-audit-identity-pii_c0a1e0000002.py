"""security: audit chains, sign-in sessions, sealed personal data, alerts, exports

Revision ID: c0a1e0000002
Revises: c0a1e0000001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import JSONType, TZDateTime
from core.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "c0a1e0000002"
down_revision: str | None = "c0a1e0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_audit_event",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", TZDateTime(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_roles", JSONType, nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_audit_event")),
        sa.UniqueConstraint("seq", name=op.f("uq_platform_audit_event_seq")),
    )
    op.create_table(
        "platform_audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_audit_head")),
    )
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", TZDateTime(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_roles", JSONType, nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_audit_event_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("tenant_id", "seq", name=op.f("uq_audit_event_tenant_id_seq")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_audit_head_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_audit_head_tenant_id")),
    )
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_head_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "customer",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("name_kana", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("phone_index", sa.String(length=64), nullable=True),
        sa.Column("email_index", sa.String(length=64), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("updated_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_customer_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_email_index"), ["email_index"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_phone_index"), ["phone_index"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_uid"), ["uid"], unique=True)

    op.create_table(
        "export_request",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", TZDateTime(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", TZDateTime(), nullable=True),
        sa.Column("expires_at", TZDateTime(), nullable=True),
        sa.Column("downloaded_at", TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_export_request_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_request")),
    )
    with op.batch_alter_table("export_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_export_request_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("last_seen_at", TZDateTime(), nullable=False),
        sa.Column("expires_at", TZDateTime(), nullable=False),
        sa.Column("revoked_at", TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_login_session_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_session_token_hash"), ["token_hash"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_login_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "security_alert",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TZDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_security_alert_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_alert")),
    )
    with op.batch_alter_table("security_alert", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_alert_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "tenant_key",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("rewrapped_at", TZDateTime(), nullable=True),
        sa.Column("destroyed_at", TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_tenant_key_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_key")),
        sa.UniqueConstraint("tenant_id", "version", name=op.f("uq_tenant_key_tenant_id_version")),
    )
    with op.batch_alter_table("tenant_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tenant_key_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "canary",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_canary_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_canary_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canary")),
        sa.UniqueConstraint(
            "tenant_id", "customer_id", name=op.f("uq_canary_tenant_id_customer_id")
        ),
    )
    with op.batch_alter_table("canary", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_canary_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reveal_soft_limit", sa.Integer(), nullable=False, server_default=sa.text("20")
            )
        )
        batch_op.add_column(
            sa.Column(
                "reveal_hard_limit", sa.Integer(), nullable=False, server_default=sa.text("50")
            )
        )
        batch_op.add_column(
            sa.Column(
                "read_soft_limit", sa.Integer(), nullable=False, server_default=sa.text("500")
            )
        )
        batch_op.add_column(
            sa.Column(
                "read_hard_limit", sa.Integer(), nullable=False, server_default=sa.text("2000")
            )
        )

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("totp_sealed", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("totp_last_step", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(sa.Column("locked_until", TZDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "language", sa.String(length=8), nullable=False, server_default=sa.text("'ja'")
            )
        )

    enable_tenant_rls("audit_event", cross_tenant="audit-review")
    enable_tenant_rls("audit_head", cross_tenant="audit-review")
    enable_tenant_rls("customer")
    enable_tenant_rls("canary")
    enable_tenant_rls("tenant_key")
    enable_tenant_rls("security_alert", cross_tenant="security-review")
    enable_tenant_rls("export_request", cross_tenant="security-review")


def downgrade() -> None:
    disable_tenant_rls("export_request")
    disable_tenant_rls("security_alert")
    disable_tenant_rls("tenant_key")
    disable_tenant_rls("canary")
    disable_tenant_rls("customer")
    disable_tenant_rls("audit_head")
    disable_tenant_rls("audit_event")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_sealed")
        batch_op.drop_column("password_hash")

    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.drop_column("read_hard_limit")
        batch_op.drop_column("read_soft_limit")
        batch_op.drop_column("reveal_hard_limit")
        batch_op.drop_column("reveal_soft_limit")

    with op.batch_alter_table("canary", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_canary_tenant_id"))

    op.drop_table("canary")
    with op.batch_alter_table("tenant_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_key_tenant_id"))

    op.drop_table("tenant_key")
    with op.batch_alter_table("security_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_alert_tenant_id"))

    op.drop_table("security_alert")
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_session_user_id"))
        batch_op.drop_index(batch_op.f("ix_login_session_token_hash"))

    op.drop_table("login_session")
    with op.batch_alter_table("export_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_request_tenant_id"))

    op.drop_table("export_request")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_uid"))
        batch_op.drop_index(batch_op.f("ix_customer_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_customer_phone_index"))
        batch_op.drop_index(batch_op.f("ix_customer_email_index"))

    op.drop_table("customer")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_head_tenant_id"))

    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_tenant_id"))

    op.drop_table("audit_event")
    op.drop_table("platform_audit_head")
    op.drop_table("platform_audit_event")
