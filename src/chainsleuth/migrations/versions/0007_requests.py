"""requests: law-enforcement requests, subjects, documents, messages, approvals, notifications

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.core.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = chainsleuth.core.models.UTCDateTime


def _request_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["request_id"],
        ["le_requests.id"],
        name=op.f(f"fk_{table}_request_id_le_requests"),
        ondelete="CASCADE",
    )


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"))


def _index_request_id(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_request_id"), ["request_id"], unique=False)


def upgrade() -> None:
    op.create_table(
        "le_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("officer_name", sa.String(length=200), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("legal_basis", sa.String(length=500), nullable=False),
        sa.Column("jurisdiction", sa.String(length=200), nullable=False),
        sa.Column("case_reference", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("deadline", TS(), nullable=True),
        sa.Column("nondisclosure", sa.Boolean(), nullable=False),
        sa.Column("nondisclosure_until", TS(), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("subjects_digest", sa.String(length=64), nullable=False),
        sa.Column("subject_count", sa.Integer(), nullable=False),
        sa.Column("received_at", TS(), nullable=False),
        sa.Column("acknowledged_at", TS(), nullable=True),
        sa.Column("responded_at", TS(), nullable=True),
        sa.Column("closed_at", TS(), nullable=True),
        sa.Column("sla_due_at", TS(), nullable=False),
        sa.Column("sla_warn_at", TS(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("sender_verified", sa.Boolean(), nullable=False),
        sa.Column("verification_state", sa.String(length=16), nullable=False),
        sa.Column("notification_state", sa.String(length=16), nullable=False),
        sa.Column("notification_due_at", TS(), nullable=True),
        sa.Column("notified_at", TS(), nullable=True),
        sa.Column("created_at", TS(), nullable=False),
        sa.Column("updated_at", TS(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_le_requests_agency_id_agencies")
        ),
        _user_fk("le_requests", "officer_id"),
        _user_fk("le_requests", "assignee_id"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["le_requests.id"], name=op.f("fk_le_requests_parent_id_le_requests")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["le_requests.id"],
            name=op.f("fk_le_requests_duplicate_of_id_le_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_le_requests_reference")),
        sa.UniqueConstraint("external_id", name=op.f("uq_le_requests_external_id")),
    )
    with op.batch_alter_table("le_requests", schema=None) as batch_op:
        for column in ("officer_id", "parent_id", "duplicate_of_id", "assignee_id"):
            batch_op.create_index(batch_op.f(f"ix_le_requests_{column}"), [column], unique=False)
        batch_op.create_index(
            "ix_le_requests_agency_received", ["agency_id", "received_at", "id"], unique=False
        )
        batch_op.create_index("ix_le_requests_received", ["received_at", "id"], unique=False)
        batch_op.create_index(
            "ix_le_requests_status_received", ["status", "received_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_le_requests_type_received", ["type", "received_at", "id"], unique=False
        )
        batch_op.create_index("ix_le_requests_open_sla", ["is_open", "sla_warn_at"], unique=False)
        batch_op.create_index(
            "ix_le_requests_duplicate",
            ["agency_id", "case_reference", "subjects_digest"],
            unique=False,
        )
        batch_op.create_index(
            "ix_le_requests_notification",
            ["notification_state", "notification_due_at"],
            unique=False,
        )

    op.create_table(
        "le_request_subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=True),
        sa.Column("date_of_birth", sa.String(length=10), nullable=True),
        sa.Column("time_from", TS(), nullable=True),
        sa.Column("time_until", TS(), nullable=True),
        _request_fk("le_request_subjects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_request_subjects")),
    )
    _index_request_id("le_request_subjects")
    with op.batch_alter_table("le_request_subjects", schema=None) as batch_op:
        batch_op.create_index("ix_le_request_subjects_kind_value", ["kind", "value"], unique=False)

    op.create_table(
        "le_request_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_path", sa.String(length=300), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", TS(), nullable=False),
        _request_fk("le_request_documents"),
        _user_fk("le_request_documents", "uploaded_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_request_documents")),
    )
    _index_request_id("le_request_documents")

    op.create_table(
        "le_request_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS(), nullable=False),
        sa.Column("read_at", TS(), nullable=True),
        _request_fk("le_request_messages"),
        _user_fk("le_request_messages", "author_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_request_messages")),
    )
    _index_request_id("le_request_messages")

    op.create_table(
        "le_request_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=False),
        sa.Column("approver_name", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TS(), nullable=False),
        _request_fk("le_request_approvals"),
        _user_fk("le_request_approvals", "approver_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_request_approvals")),
        sa.UniqueConstraint(
            "request_id", "approver_id", name=op.f("uq_le_request_approvals_request_id")
        ),
    )
    _index_request_id("le_request_approvals")

    op.create_table(
        "le_request_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_name", sa.String(length=200), nullable=False),
        sa.Column("phone_number", sa.String(length=40), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TS(), nullable=False),
        _request_fk("le_request_verifications"),
        _user_fk("le_request_verifications", "reviewer_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_request_verifications")),
    )
    _index_request_id("le_request_verifications")

    op.create_table(
        "le_request_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("state_from", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", TS(), nullable=False),
        _request_fk("le_request_notifications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_request_notifications")),
    )
    _index_request_id("le_request_notifications")


def downgrade() -> None:
    for table in (
        "le_request_notifications",
        "le_request_verifications",
        "le_request_approvals",
        "le_request_messages",
        "le_request_documents",
        "le_request_subjects",
        "le_requests",
    ):
        op.drop_table(table)
