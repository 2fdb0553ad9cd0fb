"""known_projects: the projects an activity may name, and who purchased each

Kept from the projects service's ``project_published`` events (and from its answer when asked
about a project not heard of yet): an activity names a project only if its purchaser is in
the line of the acting user's organization or of the team's host (issue 11, hole 5).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:00:00
"""

import sqlalchemy as sa
from alembic import op

from kit.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_projects",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("purchaser_id", sa.String(length=36), nullable=False),
        sa.Column("learnt_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_known_projects")),
    )


def downgrade() -> None:
    op.drop_table("known_projects")
