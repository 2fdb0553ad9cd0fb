"""reminders: the notices the daily check sent, one per team and day

Revision ID: 0008_reminders
Revises: 0007_audit
Create Date: 2026-12-02 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import kit.db

revision = "0008_reminders"
down_revision = "0007_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminders_sent",
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("notice", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("sent_at", kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", "notice", name="pk_reminders_sent"),
    )


def downgrade() -> None:
    op.drop_table("reminders_sent")
