"""users, nodes, devices

Revision ID: 0001
Revises:
Create Date: 2026-11-23 12:19:22.184034
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('ssh_host', sa.String(length=255), nullable=False),
    sa.Column('ssh_port', sa.Integer(), nullable=False),
    sa.Column('ssh_user', sa.String(length=64), nullable=False),
    sa.Column('host_key', sa.Text(), nullable=False),
    sa.Column('interface', sa.String(length=15), nullable=False),
    sa.Column('endpoint', sa.String(length=255), nullable=False),
    sa.Column('public_key', sa.String(length=44), nullable=False),
    sa.Column('listen_port', sa.Integer(), nullable=False),
    sa.Column('server_address4', sa.String(length=18), nullable=False),
    sa.Column('server_address6', sa.String(length=43), nullable=True),
    sa.Column('dns', sa.String(length=255), nullable=False),
    sa.Column('mtu', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('enabled', 'draining', 'down', name='node_status', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nodes')),
    sa.UniqueConstraint('name', name=op.f('uq_nodes_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('first_name', sa.String(length=128), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('language_chosen', sa.Boolean(), nullable=False),
    sa.Column('role', sa.Enum('user', 'admin', name='role', native_enum=False, length=16), nullable=False),
    sa.Column('access_kind', sa.Enum('none', 'invite', 'trial', 'paid', name='access_kind', native_enum=False, length=16), nullable=False),
    sa.Column('access_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('preferred_node_id', sa.Integer(), nullable=True),
    sa.Column('started', sa.Boolean(), nullable=False),
    sa.Column('access_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['preferred_node_id'], ['nodes.id'], name=op.f('fk_users_preferred_node_id_nodes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('public_key', sa.String(length=44), nullable=False),
    sa.Column('private_key_enc', sa.Text(), nullable=False),
    sa.Column('preshared_key_enc', sa.Text(), nullable=False),
    sa.Column('address4', sa.String(length=15), nullable=False),
    sa.Column('address6', sa.String(length=39), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_devices_node_id_nodes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_devices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('node_id', 'address4', name='uq_devices_node_address4'),
    sa.UniqueConstraint('node_id', 'address6', name='uq_devices_node_address6'),
    sa.UniqueConstraint('public_key', name=op.f('uq_devices_public_key'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_node_id'), ['node_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_user_id'))
        batch_op.drop_index(batch_op.f('ix_devices_node_id'))

    op.drop_table('devices')
    op.drop_table('users')
    op.drop_table('nodes')
