"""workbench index: disbursements by status and payment time (the payments of a month)

Revision ID: 0004_workbench
Revises: 0003
Create Date: 2026-12-20 10:00:00
"""

from alembic import op

revision = "0004_workbench"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_disbursements_status_paid_at", "disbursements", ["status", "paid_at"])


def downgrade() -> None:
    op.drop_index("ix_disbursements_status_paid_at", table_name="disbursements")
