"""certificates: volunteer service certificates (志愿服务证明), issue 16

Each row holds the certificate's content as frozen at issue (JSON) and its Ed25519 signature;
number, volunteer, issuer, period and total minutes are copied out for lists and checked
against the signed content on every verification.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:40:00
"""

import sqlalchemy as sa
from alembic import op

from kit.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("issuer_id", sa.String(length=36), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("total_minutes", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_by", sa.String(length=36), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=36), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_certificates_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("number", name=op.f("uq_certificates_number")),
        sa.UniqueConstraint("year", "sequence", name=op.f("uq_certificates_year_sequence")),
    )
    op.create_index("ix_certificates_volunteer_id", "certificates", ["volunteer_id"])
    op.create_index("ix_certificates_issued_at_id", "certificates", ["issued_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_certificates_issued_at_id", table_name="certificates")
    op.drop_index("ix_certificates_volunteer_id", table_name="certificates")
    op.drop_table("certificates")
