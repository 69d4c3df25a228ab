"""who gave a stored role, and the traffic of a user's removed devices

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows keep their role; the first start decides which roles were given (services/users.py)
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("role_granted_by", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column(
                "traffic_removed_bytes", sa.BigInteger(), nullable=False, server_default="0"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("traffic_removed_bytes")
        batch.drop_column("role_granted_by")
