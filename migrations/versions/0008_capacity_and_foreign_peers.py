"""capacity and adoption: foreign peers, alert marks, addresses given back

Revision ID: 0008
Revises: 0012
Create Date: 2026-11-24 10:00:00

A device's address may be NULL (given back after RECLAIM_DAYS without access). Going down
deletes such devices: the old schema has no room for a device without an address.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "foreign_peers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(length=44), nullable=False),
        sa.Column("allowed_ips", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name=op.f("fk_foreign_peers_node_id_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_foreign_peers")),
        sa.UniqueConstraint("node_id", "public_key", name="uq_foreign_peers_node_key"),
    )
    op.create_index(op.f("ix_foreign_peers_node_id"), "foreign_peers", ["node_id"])
    op.create_table(
        "alert_marks",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_alert_marks")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("no_access_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("devices") as batch:
        batch.alter_column("address4", existing_type=sa.String(length=15), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM devices WHERE address4 IS NULL")
    with op.batch_alter_table("devices") as batch:
        batch.alter_column("address4", existing_type=sa.String(length=15), nullable=False)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("no_access_since")
    op.drop_table("alert_marks")
    op.drop_index(op.f("ix_foreign_peers_node_id"), table_name="foreign_peers")
    op.drop_table("foreign_peers")
