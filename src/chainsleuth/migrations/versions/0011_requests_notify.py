"""requests: customer notification state

The notices mailed to customers when a request's customer notification is sent.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.core.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "le_request_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=True),
        sa.Column("to_masked", sa.String(length=254), nullable=True),
        sa.Column("categories", sa.String(length=300), nullable=False),
        sa.Column("created_at", chainsleuth.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["mail_outbox.id"], name=op.f("fk_le_request_notices_mail_id_mail_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["le_requests.id"],
            name=op.f("fk_le_request_notices_request_id_le_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_request_notices")),
        sa.UniqueConstraint(
            "request_id", "customer_id", name=op.f("uq_le_request_notices_request_id")
        ),
    )
    with op.batch_alter_table("le_request_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_le_request_notices_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("le_request_notices")
