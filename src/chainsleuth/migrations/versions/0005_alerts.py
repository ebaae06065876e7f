"""alerts: alerts, their comments and the watch list

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.core.models
import chainsleuth.exchange.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = chainsleuth.core.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("first_seen", _TS(), nullable=False),
        sa.Column("last_seen", _TS(), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("disposition_note", sa.Text(), nullable=True),
        sa.Column("closed_at", _TS(), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("updated_at", _TS(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_alerts_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_alerts_closed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["risk_screenings.id"],
            name=op.f("fk_alerts_screening_id_risk_screenings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_subject"), ["subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_screening_id"), ["screening_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_first_seen"), ["first_seen"], unique=False)
        batch_op.create_index("ix_alerts_status_severity", ["status", "severity"], unique=False)
        batch_op.create_index("ix_alerts_dedup_key_status", ["dedup_key", "status"], unique=False)

    op.create_table(
        "alert_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _TS(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_comments_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_alert_comments_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_comments")),
    )
    with op.batch_alter_table("alert_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_comments_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "watchlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", _TS(), nullable=True),
        sa.Column("removed_at", _TS(), nullable=True),
        sa.Column("removed_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("updated_at", _TS(), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["users.id"], name=op.f("fk_watchlist_entries_added_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_entries")),
    )
    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.create_index("ix_watchlist_entries_chain_value", ["chain", "value"], unique=False)

    op.create_table(
        "watchlist_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("chain", sa.String(length=8), nullable=False),
        sa.Column("tx_hash", sa.String(length=80), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("from_address", sa.String(length=100), nullable=False),
        sa.Column("deposit_address", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", chainsleuth.exchange.models.Amount(), nullable=False),
        sa.Column("hops", sa.Integer(), nullable=False),
        sa.Column("seen_at", _TS(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_watchlist_hits_alert_id_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["watchlist_entries.id"],
            name=op.f("fk_watchlist_hits_entry_id_watchlist_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_hits")),
    )
    with op.batch_alter_table("watchlist_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watchlist_hits_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_watchlist_hits_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(
            "uq_watchlist_hits_entry_tx_address",
            ["entry_id", "tx_hash", "deposit_address"],
            unique=True,
        )

    op.create_table(
        "watch_scan_state",
        sa.Column("chain", sa.String(length=8), nullable=False),
        sa.Column("next_height", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _TS(), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_watch_scan_state")),
    )


def downgrade() -> None:
    op.drop_table("watch_scan_state")
    op.drop_table("watchlist_hits")
    op.drop_table("watchlist_entries")
    op.drop_table("alert_comments")
    op.drop_table("alerts")
