"""freezes: double-entry ledger holds, freezes, their approvals and seizures

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.core.models
import chainsleuth.exchange.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Amount = chainsleuth.exchange.models.Amount
UTC = chainsleuth.core.models.UTCDateTime


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def _indexes(table: str, *columns: str, unique: tuple[str, ...] = ()) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_{column}"), [column], unique=column in unique
            )


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=240), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("exchange_account_id", sa.String(length=48), nullable=True),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("wallet_address", sa.String(length=100), nullable=True),
        sa.Column("balance", Amount(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        _fk("ledger_accounts", "exchange_account_id", "exchange_accounts.id"),
        _fk("ledger_accounts", "customer_id", "exchange_customers.id"),
        _fk("ledger_accounts", "agency_id", "agencies.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_accounts_key")),
    )
    _indexes("ledger_accounts", "agency_id", "customer_id", "exchange_account_id")

    op.create_table(
        "ledger_journals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("memo", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_journals")),
    )
    _indexes("ledger_journals", "kind", "reference")

    op.create_table(
        "ledger_postings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journal_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        _fk("ledger_postings", "journal_id", "ledger_journals.id"),
        _fk("ledger_postings", "account_id", "ledger_accounts.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
    )
    _indexes("ledger_postings", "account_id", "journal_id")

    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("exchange_account_id", sa.String(length=48), nullable=True),
        sa.Column("asset", sa.String(length=16), nullable=True),
        sa.Column("amount", Amount(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("review_at", UTC(), nullable=True),
        sa.Column("expires_at", UTC(), nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("activated_at", UTC(), nullable=True),
        sa.Column("closed_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.CheckConstraint(
            "(request_id IS NULL) <> (case_id IS NULL)", name=op.f("ck_freezes_one_legal_basis")
        ),
        sa.CheckConstraint(
            "review_at IS NOT NULL OR expires_at IS NOT NULL",
            name=op.f("ck_freezes_not_open_ended"),
        ),
        _fk("freezes", "customer_id", "exchange_customers.id"),
        _fk("freezes", "exchange_account_id", "exchange_accounts.id"),
        _fk("freezes", "request_id", "le_requests.id"),
        _fk("freezes", "case_id", "cases.id"),
        _fk("freezes", "requested_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezes")),
    )
    _indexes(
        "freezes",
        "case_id",
        "customer_id",
        "exchange_account_id",
        "expires_at",
        "request_id",
        "review_at",
        "status",
    )

    op.create_table(
        "freeze_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("freeze_id", sa.Integer(), nullable=False),
        sa.Column("exchange_account_id", sa.String(length=48), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("held", Amount(), nullable=False),
        sa.Column("placed", Amount(), nullable=False),
        sa.Column("released", Amount(), nullable=False),
        sa.Column("seized", Amount(), nullable=False),
        _fk("freeze_holds", "freeze_id", "freezes.id"),
        _fk("freeze_holds", "exchange_account_id", "exchange_accounts.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freeze_holds")),
        sa.UniqueConstraint(
            "freeze_id", "exchange_account_id", name=op.f("uq_freeze_holds_freeze_id")
        ),
    )
    _indexes("freeze_holds", "exchange_account_id", "freeze_id")

    op.create_table(
        "freeze_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("freeze_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", UTC(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("new_review_at", UTC(), nullable=True),
        sa.Column("new_expires_at", UTC(), nullable=True),
        sa.Column("exchange_account_id", sa.String(length=48), nullable=True),
        sa.Column("amount", Amount(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("wallet_address", sa.String(length=100), nullable=True),
        _fk("freeze_actions", "freeze_id", "freezes.id"),
        _fk("freeze_actions", "requested_by", "users.id"),
        _fk("freeze_actions", "decided_by", "users.id"),
        _fk("freeze_actions", "exchange_account_id", "exchange_accounts.id"),
        _fk("freeze_actions", "agency_id", "agencies.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freeze_actions")),
    )
    _indexes("freeze_actions", "freeze_id", "status")


def downgrade() -> None:
    for table in (
        "freeze_actions",
        "freeze_holds",
        "freezes",
        "ledger_postings",
        "ledger_journals",
        "ledger_accounts",
    ):
        op.drop_table(table)
