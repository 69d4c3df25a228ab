"""users: when they blocked the bot, and whether an admin banned them

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bot_blocked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("banned", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("banned")
        batch_op.drop_column("bot_blocked_at")
