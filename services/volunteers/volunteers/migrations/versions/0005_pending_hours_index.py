"""service_hours: the pending entries by team, for the workbench's verification card

The staff workbench's card "hours awaiting verification" counts and sums the pending entries of
every team in the actor's subtree: a province's staff see 2,000 teams. With only
``(team_id, status)`` PostgreSQL found the entries by index and then read each one's
``minutes`` from the table. This partial index holds team and minutes of the pending entries
only (the verification queue, not the history), so the card reads it alone. Measured in the
province benchmark (tests/bench/test_assessment.py, 1,000,000 entries, a loaded 2-core
machine): see the note of issue 15.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PENDING = "status = 'pending'"


def upgrade() -> None:
    op.create_index(
        "ix_service_hours_pending_team",
        "service_hours",
        ["team_id", "minutes"],
        unique=False,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_service_hours_pending_team", table_name="service_hours")
