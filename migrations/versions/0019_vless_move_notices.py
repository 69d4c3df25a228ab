"""move notices for VLESS devices: a moved VLESS device whose owner has not been sent the new
link yet

Revision ID: 0019
Revises: 0020
Create Date: 2026-12-07 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vless_devices") as batch:
        batch.add_column(
            sa.Column("move_notice_due", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("vless_devices") as batch:
        batch.drop_column("move_notice_due")
