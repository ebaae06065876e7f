"""cases: cases, participants, tasks, evidence, timeline and linked items

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.core.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = chainsleuth.core.models.UTCDateTime


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["case_id"], ["cases.id"], name=op.f(f"fk_{table}_case_id_cases"), ondelete="CASCADE"
    )


def _user_fk(table: str, column: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def _index(table: str, *columns: str, name: str | None = None) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(
            name or batch_op.f(f"ix_{table}_{columns[0]}"), list(columns), unique=False
        )


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("close_reason", sa.String(length=32), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.Column("closed_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        _user_fk("cases", "owner_id"),
        _user_fk("cases", "created_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    for column in ("type", "severity", "status", "owner_id"):
        _index("cases", column)

    op.create_table(
        "case_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_at", UTC(), nullable=False),
        _case_fk("case_participants"),
        _user_fk("case_participants", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_participants")),
        sa.UniqueConstraint("case_id", "user_id", name="uq_case_participants_member"),
    )
    _index("case_participants", "case_id")
    _index("case_participants", "user_id")

    op.create_table(
        "case_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        _case_fk("case_tasks"),
        _user_fk("case_tasks", "assignee_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_tasks")),
    )
    _index("case_tasks", "case_id")
    _index("case_tasks", "assignee_id")

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("ts", UTC(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        _case_fk("case_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    _index("case_events", "case_id", "id", name="ix_case_events_case_id_id")

    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_ref", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", UTC(), nullable=False),
        _case_fk("case_links"),
        _user_fk("case_links", "added_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_links")),
        sa.UniqueConstraint("case_id", "item_type", "item_ref", name="uq_case_links_item"),
    )
    _index("case_links", "case_id")
    _index("case_links", "item_type", "item_ref", name="ix_case_links_item_type_item_ref")

    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        _case_fk("case_notes"),
        _user_fk("case_notes", "author_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    _index("case_notes", "case_id")

    op.create_table(
        "case_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_path", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=128), nullable=False),
        sa.Column("uploaded_at", UTC(), nullable=False),
        _case_fk("case_evidence"),
        _user_fk("case_evidence", "uploaded_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_evidence")),
    )
    _index("case_evidence", "case_id", "id", name="ix_case_evidence_case_id_id")
    _index("case_evidence", "sha256")

    op.create_table(
        "case_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("graph", sa.JSON(), nullable=False),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column("edge_count", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        _case_fk("case_snapshots"),
        _user_fk("case_snapshots", "created_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_snapshots")),
    )
    _index("case_snapshots", "case_id")

    op.create_table(
        "case_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        _user_fk("case_views", "user_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_views")),
        sa.UniqueConstraint("user_id", "name", name="uq_case_views_user_name"),
    )
    _index("case_views", "user_id")


def downgrade() -> None:
    for table in (
        "case_views",
        "case_snapshots",
        "case_evidence",
        "case_notes",
        "case_links",
        "case_events",
        "case_tasks",
        "case_participants",
        "cases",
    ):
        op.drop_table(table)
