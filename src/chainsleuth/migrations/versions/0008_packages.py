"""packages: gathered records, response packages and their downloads

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chainsleuth.core.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = chainsleuth.core.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "le_gatherings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("legal_basis", sa.String(length=500), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("since", UTC(), nullable=True),
        sa.Column("until", UTC(), nullable=True),
        sa.Column("balances_at", UTC(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("gathered_by", sa.String(length=128), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_le_gatherings_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["le_requests.id"],
            name=op.f("fk_le_gatherings_request_id_le_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_gatherings")),
    )
    with op.batch_alter_table("le_gatherings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_gatherings_agency_id"), ["agency_id"])
        batch_op.create_index(batch_op.f("ix_le_gatherings_request_id"), ["request_id"])

    op.create_table(
        "le_gathering_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gathering_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gathering_id"],
            ["le_gatherings.id"],
            name=op.f("fk_le_gathering_items_gathering_id_le_gatherings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_gathering_items")),
    )
    with op.batch_alter_table("le_gathering_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_le_gathering_items_gathering_customer", ["gathering_id", "customer_id"]
        )

    op.create_table(
        "le_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gathering_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("storage_path", sa.String(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.Column("delivered_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_le_packages_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["gathering_id"],
            ["le_gatherings.id"],
            name=op.f("fk_le_packages_gathering_id_le_gatherings"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["le_requests.id"],
            name=op.f("fk_le_packages_request_id_le_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_packages")),
        sa.UniqueConstraint("gathering_id", name=op.f("uq_le_packages_gathering_id")),
    )
    with op.batch_alter_table("le_packages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_packages_agency_id"), ["agency_id"])
        batch_op.create_index(batch_op.f("ix_le_packages_request_id"), ["request_id"])

    op.create_table(
        "le_package_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["le_packages.id"],
            name=op.f("fk_le_package_files_package_id_le_packages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_package_files")),
    )
    with op.batch_alter_table("le_package_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_package_files_package_id"), ["package_id"])

    op.create_table(
        "le_package_downloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["le_packages.id"],
            name=op.f("fk_le_package_downloads_package_id_le_packages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_le_package_downloads_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_le_package_downloads")),
    )
    with op.batch_alter_table("le_package_downloads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_le_package_downloads_package_id"), ["package_id"])
        batch_op.create_index(batch_op.f("ix_le_package_downloads_user_id"), ["user_id"])


def downgrade() -> None:
    op.drop_table("le_package_downloads")
    op.drop_table("le_package_files")
    op.drop_table("le_packages")
    op.drop_table("le_gathering_items")
    op.drop_table("le_gatherings")
