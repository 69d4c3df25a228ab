"""node keys, health, device traffic

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:43:04.133646
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('node_health',
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('up', sa.Boolean(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('alerted', sa.Boolean(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('interface_up', sa.Boolean(), nullable=False),
    sa.Column('load1', sa.Double(), nullable=False),
    sa.Column('cpus', sa.Integer(), nullable=False),
    sa.Column('mem_total_bytes', sa.BigInteger(), nullable=False),
    sa.Column('mem_available_bytes', sa.BigInteger(), nullable=False),
    sa.Column('peers', sa.Integer(), nullable=False),
    sa.Column('recent_handshakes', sa.Integer(), nullable=False),
    sa.Column('rx_bytes', sa.BigInteger(), nullable=False),
    sa.Column('tx_bytes', sa.BigInteger(), nullable=False),
    sa.Column('latency_seconds', sa.Double(), nullable=False),
    sa.Column('reconcile_changes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_node_health_node_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('node_id', name=op.f('pk_node_health'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rx_base', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('tx_base', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('rx_seen', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('tx_seen', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_handshake_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private_key_enc', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.drop_column('private_key_enc')

    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('last_handshake_at')
        batch_op.drop_column('tx_seen')
        batch_op.drop_column('rx_seen')
        batch_op.drop_column('tx_base')
        batch_op.drop_column('rx_base')

    op.drop_table('node_health')
