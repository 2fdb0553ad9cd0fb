"""overdue holds: a disbursement's holds as a set of reasons; the milestones held for

Revision ID: 0006_overdue_holds
Revises: 0005_audit
Create Date: 2026-12-02 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import kit.db

revision = "0006_overdue_holds"
down_revision = "0005_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("disbursements") as batch:
        batch.add_column(sa.Column("hold_reasons", sa.String(200), nullable=True))
    # what was held before had one reason: a deregistration's code, else a suspension's words
    op.execute(
        "UPDATE disbursements SET hold_reasons = CASE"
        " WHEN hold_reason IN ('provider_deregistered', 'payee_deregistered') THEN hold_reason"
        " ELSE 'payee_suspended' END"
        " WHERE status = 'held'"
    )
    op.create_table(
        "overdue_milestones",
        sa.Column("milestone_id", sa.String(36), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("since", kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("milestone_id", name="pk_overdue_milestones"),
    )
    op.create_index("ix_overdue_milestones_contract_id", "overdue_milestones", ["contract_id"])


def downgrade() -> None:
    op.drop_index("ix_overdue_milestones_contract_id", table_name="overdue_milestones")
    op.drop_table("overdue_milestones")
    with op.batch_alter_table("disbursements") as batch:
        batch.drop_column("hold_reasons")
