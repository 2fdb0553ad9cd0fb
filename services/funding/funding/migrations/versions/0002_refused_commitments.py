"""refused_commitments: contracts funding could not commit money to

A milestone accepted on such a contract used to wait for a commitment that never came: its
``milestone_accepted`` was retried until it dead-lettered. Funding now remembers each refusal
and answers such a milestone with ``disbursement_rejected`` at once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 07:45:00
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
        "refused_commitments",
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("shortfall", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("cause", sa.String(length=100), nullable=False),
        sa.Column("at", kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_refused_commitments")),
    )


def downgrade() -> None:
    op.drop_table("refused_commitments")
