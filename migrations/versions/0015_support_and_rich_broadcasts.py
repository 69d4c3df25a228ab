"""support conversations and their relayed messages; broadcasts with media, buttons and
audiences that take a value

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("media_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("media_file_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("buttons", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("audience_value", sa.String(length=64), nullable=False, server_default="")
        )
    op.create_table(
        "support_threads",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("topic_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_support_threads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_support_threads")),
        sa.UniqueConstraint("chat_id", "topic_id", name="uq_support_threads_topic"),
    )
    op.create_table(
        "support_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=True),
        sa.Column("from_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("from_message_id", sa.BigInteger(), nullable=False),
        sa.Column("to_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("to_message_id", sa.BigInteger(), nullable=True),
        sa.Column("with_header", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "sent", "failed", name="relay_state", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_support_messages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_messages")),
        sa.UniqueConstraint("to_chat_id", "to_message_id", name="uq_support_messages_copy"),
    )
    op.create_index(op.f("ix_support_messages_user_id"), "support_messages", ["user_id"])
    op.create_index(op.f("ix_support_messages_state"), "support_messages", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_support_messages_state"), table_name="support_messages")
    op.drop_index(op.f("ix_support_messages_user_id"), table_name="support_messages")
    op.drop_table("support_messages")
    op.drop_table("support_threads")
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("audience_value")
        batch.drop_column("buttons")
        batch.drop_column("media_file_id")
        batch.drop_column("media_kind")
