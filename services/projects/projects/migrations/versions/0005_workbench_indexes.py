"""workbench indexes: milestones by status and due date, contracts by purchaser and status

Revision ID: 0005_workbench
Revises: 0004
Create Date: 2026-12-20 10:00:00
"""

from alembic import op

revision = "0005_workbench"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_milestones_status_due_on", "milestones", ["status", "due_on"])
    op.create_index("ix_contracts_purchaser_id_status", "contracts", ["purchaser_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_contracts_purchaser_id_status", table_name="contracts")
    op.drop_index("ix_milestones_status_due_on", table_name="milestones")
