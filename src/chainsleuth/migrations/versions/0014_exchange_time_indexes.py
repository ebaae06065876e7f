"""exchange: a customer's deposits, withdrawals, ledger entries and logins in time order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    (
        "exchange_deposits",
        "ix_exchange_deposits_customer_time",
        ["customer_id", "credited_at", "id"],
    ),
    (
        "exchange_withdrawals",
        "ix_exchange_withdrawals_customer_time",
        ["customer_id", "requested_at", "id"],
    ),
    ("exchange_ledger", "ix_exchange_ledger_customer_time", ["customer_id", "time", "id"]),
    ("exchange_logins", "ix_exchange_logins_customer_time", ["customer_id", "time", "id"]),
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in INDEXES:
        op.drop_index(name, table_name=table)
