"""page links: the nonce of each user's personal page link (replaced to revoke the old link)

Revision ID: 0012
Revises: 0009
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("link_nonce", sa.String(32), nullable=True))
        batch.create_unique_constraint("uq_users_link_nonce", ["link_nonce"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_link_nonce", type_="unique")
        batch.drop_column("link_nonce")
