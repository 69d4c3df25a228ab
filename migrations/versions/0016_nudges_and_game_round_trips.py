"""nudges sent once per user and period; round trips from nodes to games' servers

Revision ID: 0016
Revises: 0018
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_nudges_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_nudges"),
        sa.UniqueConstraint("user_id", "kind", "period", name="uq_nudges_user_kind_period"),
    )
    op.create_index("ix_nudges_user_id", "nudges", ["user_id"])
    op.create_table(
        "game_round_trips",
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("game", sa.String(24), nullable=False),
        sa.Column("rtt_ms", sa.Double(), nullable=True),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name="fk_game_round_trips_node_id_nodes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("node_id", "game", name="pk_game_round_trips"),
    )


def downgrade() -> None:
    op.drop_table("game_round_trips")
    op.drop_index("ix_nudges_user_id", table_name="nudges")
    op.drop_table("nudges")
