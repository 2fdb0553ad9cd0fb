"""files: evidence files uploaded through the gateway, and which reports reference them

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:50:00
"""

import sqlalchemy as sa
from alembic import op

import kit.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=True),
        sa.Column("uploaded_at", kit.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_files_size_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )
    op.create_table(
        "report_files",
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_report_files_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_report_files_file_id_files")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["milestone_reports.id"],
            name=op.f("fk_report_files_report_id_milestone_reports"),
        ),
        sa.PrimaryKeyConstraint("report_id", "file_id", name=op.f("pk_report_files")),
    )
    op.create_index("ix_report_files_file_id", "report_files", ["file_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_files_file_id", table_name="report_files")
    op.drop_table("report_files")
    op.drop_table("files")
