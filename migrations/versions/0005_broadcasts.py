"""broadcasts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "audience",
            sa.Enum(
                "all", "access", "no_access",
                name="broadcast_audience", native_enum=False, length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("running", "done", name="broadcast_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index(op.f("ix_broadcasts_status"), "broadcasts", ["status"])
    op.create_table(
        "broadcast_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending", "sending", "sent", "failed", "blocked", "unknown",
                name="delivery_state", native_enum=False, length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_deliveries_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_broadcast_deliveries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_deliveries")),
        sa.UniqueConstraint(
            "broadcast_id", "user_id", name="uq_broadcast_deliveries_broadcast_user"
        ),
    )
    op.create_index(
        op.f("ix_broadcast_deliveries_user_id"), "broadcast_deliveries", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_broadcast_deliveries_user_id"), table_name="broadcast_deliveries")
    op.drop_table("broadcast_deliveries")
    op.drop_index(op.f("ix_broadcasts_status"), table_name="broadcasts")
    op.drop_table("broadcasts")
