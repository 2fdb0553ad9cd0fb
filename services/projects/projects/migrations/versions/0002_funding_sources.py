"""funding_sources: whose money each funding source is (projects' copy of funding's sources)

A project may draw only on a source owned by its purchaser or a federation above it; projects
keeps each source's owner from ``funding_source_created``. Sources created before this
revision are asked of funding the first time a request names one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 01:00:00
"""

import sqlalchemy as sa
from alembic import op

import kit.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "funding_sources",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_sources")),
    )


def downgrade() -> None:
    op.drop_table("funding_sources")
