"""exchange: fiat deposits

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.core.models
import chainsleuth.exchange.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_fiat_deposits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", chainsleuth.exchange.models.Amount(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("bank_country", sa.String(length=2), nullable=True),
        sa.Column("payer_account", sa.String(length=64), nullable=True),
        sa.Column("payer_matches_kyc", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("received_at", chainsleuth.core.models.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["exchange_customers.id"],
            name=op.f("fk_exchange_fiat_deposits_customer_id_exchange_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_fiat_deposits")),
    )
    with op.batch_alter_table("exchange_fiat_deposits", schema=None) as batch_op:
        for column in ("customer_id", "payer_account", "reference", "received_at"):
            batch_op.create_index(
                batch_op.f(f"ix_exchange_fiat_deposits_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("exchange_fiat_deposits", schema=None) as batch_op:
        for column in ("received_at", "reference", "payer_account", "customer_id"):
            batch_op.drop_index(batch_op.f(f"ix_exchange_fiat_deposits_{column}"))
    op.drop_table("exchange_fiat_deposits")
