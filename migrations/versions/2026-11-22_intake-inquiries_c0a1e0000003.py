"""intake: queues, inquiries, messages, attachments, calls, chats, verifications, idempotency

Revision ID: c0a1e0000003
Revises: c0a1e0000002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db.base import JSONType, TZDateTime
from core.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "c0a1e0000003"
down_revision: str | None = "c0a1e0000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_idempotency",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", JSONType, nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_idempotency_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_idempotency")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_intake_idempotency_tenant_id_key")),
    )
    with op.batch_alter_table("intake_idempotency", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_idempotency_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "intake_queue",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channels", JSONType, nullable=True),
        sa.Column("keywords", JSONType, nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_queue_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_queue")),
        sa.UniqueConstraint("tenant_id", "slug", name=op.f("uq_intake_queue_tenant_id_slug")),
    )
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_queue_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "intake_inquiry",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("tags", JSONType, nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("first_response_due", TZDateTime(), nullable=True),
        sa.Column("resolution_due", TZDateTime(), nullable=True),
        sa.Column("first_responded_at", TZDateTime(), nullable=True),
        sa.Column("resolved_at", TZDateTime(), nullable=True),
        sa.Column("sla_warned_at", TZDateTime(), nullable=True),
        sa.Column("sla_breached_at", TZDateTime(), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.Column("updated_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_intake_inquiry_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["intake_queue.id"], name=op.f("fk_intake_inquiry_queue_id_intake_queue")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_inquiry_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_inquiry")),
        sa.UniqueConstraint(
            "tenant_id", "receipt_no", name=op.f("uq_intake_inquiry_tenant_id_receipt_no")
        ),
    )
    with op.batch_alter_table("intake_inquiry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_inquiry_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_intake_inquiry_uid"), ["uid"], unique=True)
        batch_op.create_index(
            "ix_intake_inquiry_work",
            ["tenant_id", "queue_id", "status", "priority", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_intake_inquiry_next",
            ["tenant_id", "priority", "first_response_due", "id"],
            unique=False,
            postgresql_where=sa.text("assignee_id IS NULL"),
            sqlite_where=sa.text("assignee_id IS NULL"),
        )

    op.create_table(
        "intake_message",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inquiry_id"],
            ["intake_inquiry.id"],
            name=op.f("fk_intake_message_inquiry_id_intake_inquiry"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_message_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_message")),
        sa.UniqueConstraint("uid", name=op.f("uq_intake_message_uid")),
    )
    with op.batch_alter_table("intake_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_message_inquiry_id"), ["inquiry_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_intake_message_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_intake_message_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "intake_attachment",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["intake_message.id"],
            name=op.f("fk_intake_attachment_message_id_intake_message"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_attachment_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_attachment")),
        sa.UniqueConstraint("uid", name=op.f("uq_intake_attachment_uid")),
    )
    with op.batch_alter_table("intake_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_attachment_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_intake_attachment_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "intake_call",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=100), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("started_at", TZDateTime(), nullable=False),
        sa.Column("ended_at", TZDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("operator_email", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["inquiry_id"],
            ["intake_inquiry.id"],
            name=op.f("fk_intake_call_inquiry_id_intake_inquiry"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_call_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_call")),
        sa.UniqueConstraint("tenant_id", "call_id", name=op.f("uq_intake_call_tenant_id_call_id")),
    )
    with op.batch_alter_table("intake_call", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_call_inquiry_id"), ["inquiry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intake_call_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "intake_chat",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", TZDateTime(), nullable=False),
        sa.Column("closed_at", TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inquiry_id"],
            ["intake_inquiry.id"],
            name=op.f("fk_intake_chat_inquiry_id_intake_inquiry"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_chat_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_chat")),
    )
    with op.batch_alter_table("intake_chat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_chat_inquiry_id"), ["inquiry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intake_chat_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intake_chat_token_hash"), ["token_hash"], unique=True)

    op.create_table(
        "intake_verification",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("expires_at", TZDateTime(), nullable=False),
        sa.Column("used_at", TZDateTime(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["inquiry_id"],
            ["intake_inquiry.id"],
            name=op.f("fk_intake_verification_inquiry_id_intake_inquiry"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_intake_verification_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_verification")),
    )
    with op.batch_alter_table("intake_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_verification_inquiry_id"), ["inquiry_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_intake_verification_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_intake_verification_token_hash"), ["token_hash"], unique=True
        )

    enable_tenant_rls("intake_queue")
    enable_tenant_rls("intake_inquiry")
    enable_tenant_rls("intake_message")
    enable_tenant_rls("intake_idempotency")
    enable_tenant_rls("intake_attachment")
    enable_tenant_rls("intake_call")
    enable_tenant_rls("intake_chat")
    enable_tenant_rls("intake_verification")


def downgrade() -> None:
    disable_tenant_rls("intake_verification")
    disable_tenant_rls("intake_chat")
    for table in ("intake_verification", "intake_chat"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_token_hash"))
            batch_op.drop_index(batch_op.f(f"ix_{table}_tenant_id"))
            batch_op.drop_index(batch_op.f(f"ix_{table}_inquiry_id"))
        op.drop_table(table)
    disable_tenant_rls("intake_call")
    with op.batch_alter_table("intake_call", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_call_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_intake_call_inquiry_id"))

    op.drop_table("intake_call")
    disable_tenant_rls("intake_attachment")
    with op.batch_alter_table("intake_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_attachment_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_intake_attachment_message_id"))

    op.drop_table("intake_attachment")
    disable_tenant_rls("intake_idempotency")
    disable_tenant_rls("intake_message")
    disable_tenant_rls("intake_inquiry")
    disable_tenant_rls("intake_queue")
    with op.batch_alter_table("intake_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_message_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_intake_message_message_id"))
        batch_op.drop_index(batch_op.f("ix_intake_message_inquiry_id"))

    op.drop_table("intake_message")
    with op.batch_alter_table("intake_inquiry", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_inquiry_next")
        batch_op.drop_index("ix_intake_inquiry_work")
        batch_op.drop_index(batch_op.f("ix_intake_inquiry_uid"))
        batch_op.drop_index(batch_op.f("ix_intake_inquiry_tenant_id"))

    op.drop_table("intake_inquiry")
    with op.batch_alter_table("intake_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_queue_tenant_id"))

    op.drop_table("intake_queue")
    with op.batch_alter_table("intake_idempotency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_idempotency_tenant_id"))

    op.drop_table("intake_idempotency")
