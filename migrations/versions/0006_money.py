"""money: plans on users, payments, reminders, referrals, traffic limits; node protocol, routes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("trial_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("plan_code", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("auto_renew", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("payment_method_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("referral_code", sa.String(16), nullable=True))
        batch.add_column(sa.Column("referred_by_id", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("referral_rewarded", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("traffic_period_start", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("traffic_base_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("traffic_blocked_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_unique_constraint("uq_users_referral_code", ["referral_code"])
        batch.create_foreign_key(
            "fk_users_referred_by_id_users", "users", ["referred_by_id"], ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("devices") as batch:
        batch.add_column(
            sa.Column("route_preset", sa.String(32), nullable=False, server_default="")
        )
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(
            sa.Column("protocol", sa.String(16), nullable=False, server_default="wireguard")
        )
        batch.add_column(sa.Column("obfuscation", sa.Text(), nullable=True))
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("provider_payment_id", sa.String(128), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.Column("plan_code", sa.String(16), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "succeeded", "canceled", "refunded",
                name="payment_status", native_enum=False, length=16,
            ),
            nullable=False,
        ),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("save_method", sa.Boolean(), nullable=False),
        sa.Column("confirmation_url", sa.Text(), nullable=True),
        sa.Column("failure", sa.String(64), nullable=True),
        sa.Column("access_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_payments_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("provider", "provider_payment_id", name="uq_payments_provider_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_payments_idempotency_key"),
    )
    op.create_index("ix_payments_user_id", "payments", ["user_id"])
    op.create_index("ix_payments_status", "payments", ["status"])
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_reminders_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reminders"),
        sa.UniqueConstraint("user_id", "kind", "period_end", name="uq_reminders_user_kind_end"),
    )
    op.create_index("ix_reminders_user_id", "reminders", ["user_id"])


def downgrade() -> None:
    op.drop_table("reminders")
    op.drop_table("payments")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("obfuscation")
        batch.drop_column("protocol")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("route_preset")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_referred_by_id_users", type_="foreignkey")
        batch.drop_constraint("uq_users_referral_code", type_="unique")
        for column in (
            "traffic_blocked_until", "traffic_base_bytes", "traffic_period_start",
            "referral_rewarded", "referred_by_id", "referral_code", "payment_method_enc",
            "auto_renew", "plan_code", "trial_used_at",
        ):
            batch.drop_column(column)
