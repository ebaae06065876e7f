"""screening: risk policies (versioned) and screenings

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.core.models
import chainsleuth.exchange.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", chainsleuth.core.models.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_risk_policies_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_policies")),
        sa.UniqueConstraint("version", name=op.f("uq_risk_policies_version")),
    )
    with op.batch_alter_table("risk_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_policies_is_active"), ["is_active"], unique=False)

    op.create_table(
        "risk_screenings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", chainsleuth.core.models.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("tx_hash", sa.String(length=80), nullable=True),
        sa.Column("amount", chainsleuth.exchange.models.Amount(), nullable=False),
        sa.Column("account_id", sa.String(length=48), nullable=True),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_risk_screenings_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_screenings")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_risk_screenings_idempotency_key")),
    )
    with op.batch_alter_table("risk_screenings", schema=None) as batch_op:
        for column in (
            "created_at", "address", "tx_hash", "account_id", "customer_id", "severity", "action"
        ):  # fmt: skip
            batch_op.create_index(
                batch_op.f(f"ix_risk_screenings_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("risk_screenings", schema=None) as batch_op:
        for column in (
            "created_at", "address", "tx_hash", "account_id", "customer_id", "severity", "action"
        ):  # fmt: skip
            batch_op.drop_index(batch_op.f(f"ix_risk_screenings_{column}"))
    op.drop_table("risk_screenings")
    with op.batch_alter_table("risk_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_policies_is_active"))
    op.drop_table("risk_policies")
