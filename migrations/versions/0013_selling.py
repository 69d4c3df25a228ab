"""selling: promo codes, campaigns, gifts, add-ons, offer acceptance, Stars subscriptions

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = ("plan", "gift", "dev", "gb")


def _purpose() -> sa.Enum:
    return sa.Enum(*PURPOSES, name="purpose", native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "promo_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("percent", "fixed", "days", name="promo_kind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("plans", sa.String(length=200), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_promo_codes_code")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stars_subscription", sa.String(length=128), nullable=True))
        batch.add_column(
            sa.Column("stars_subscription_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column(
                "stars_subscription_canceled",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch.create_foreign_key(
            "fk_users_campaign_id_campaigns",
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("purpose", _purpose(), nullable=False, server_default="plan"))
        batch.add_column(sa.Column("method", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("promo_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_payments_promo_id_promo_codes",
            "promo_codes",
            ["promo_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "promo_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("promo_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["promo_id"],
            ["promo_codes.id"],
            name=op.f("fk_promo_redemptions_promo_id_promo_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_promo_redemptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_promo_redemptions_payment_id_payments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_redemptions")),
        sa.UniqueConstraint("promo_id", "user_id", name="uq_promo_redemptions_promo_user"),
    )
    op.create_index(
        op.f("ix_promo_redemptions_user_id"), "promo_redemptions", ["user_id"], unique=False
    )
    op.create_table(
        "gifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.BigInteger(), nullable=False),
        sa.Column("plan_code", sa.String(length=16), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redeemed_by", sa.BigInteger(), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_gifts_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["users.id"], name=op.f("fk_gifts_buyer_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gifts")),
        sa.UniqueConstraint("code", name=op.f("uq_gifts_code")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_gifts_payment_id")),
    )
    op.create_index(op.f("ix_gifts_buyer_id"), "gifts", ["buyer_id"], unique=False)
    op.create_table(
        "addons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("kind", _purpose(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_addons_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_addons_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addons")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_addons_payment_id")),
    )
    op.create_index(op.f("ix_addons_user_id"), "addons", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_addons_user_id"), table_name="addons")
    op.drop_table("addons")
    op.drop_index(op.f("ix_gifts_buyer_id"), table_name="gifts")
    op.drop_table("gifts")
    op.drop_index(op.f("ix_promo_redemptions_user_id"), table_name="promo_redemptions")
    op.drop_table("promo_redemptions")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint("fk_payments_promo_id_promo_codes", type_="foreignkey")
        batch.drop_column("promo_id")
        batch.drop_column("method")
        batch.drop_column("purpose")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("stars_subscription_canceled")
        batch.drop_column("stars_subscription")
        batch.drop_column("stars_subscription_until")
        batch.drop_column("terms_accepted_at")
        batch.drop_column("campaign_id")
    op.drop_table("promo_codes")
    op.drop_table("campaigns")
