"""VLESS with Reality: a node's Xray settings and VLESS devices

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("xray_port", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reality_private_key_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reality_public_key", sa.String(43), nullable=True))
        batch.add_column(sa.Column("reality_short_ids_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reality_target", sa.String(261), nullable=True))
        batch.add_column(sa.Column("reality_server_name", sa.String(253), nullable=True))
    op.create_table(
        "vless_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uplink_bytes", sa.BigInteger(), nullable=False),
        sa.Column("downlink_bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_vless_devices_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name="fk_vless_devices_node_id_nodes", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_vless_devices"),
        sa.UniqueConstraint("uuid", name="uq_vless_devices_uuid"),
    )
    op.create_index("ix_vless_devices_user_id", "vless_devices", ["user_id"])
    op.create_index("ix_vless_devices_node_id", "vless_devices", ["node_id"])


def downgrade() -> None:
    op.drop_index("ix_vless_devices_node_id", "vless_devices")
    op.drop_index("ix_vless_devices_user_id", "vless_devices")
    op.drop_table("vless_devices")
    with op.batch_alter_table("nodes") as batch:
        for column in (
            "reality_server_name",
            "reality_target",
            "reality_short_ids_enc",
            "reality_public_key",
            "reality_private_key_enc",
            "xray_port",
        ):
            batch.drop_column(column)
