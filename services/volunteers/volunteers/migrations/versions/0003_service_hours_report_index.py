"""service_hours: the verified entries in the order the hours report by volunteer reads them

The report groups verified hours by ``coalesce(volunteer_id, '')`` and pages through the groups
in that order (500 a page). Without an index in that order PostgreSQL aggregates every verified
entry into one group per volunteer (50,000 over 1,000,000 entries) and sorts them all, spilling
to disk, to hand back the first 500. With this partial index on the same expression it reads
the first page's volunteers' entries in order and stops. The hours_report RPC by volunteer in
the benchmark (tests/bench/test_volunteers.py, 1,000,000 entries, a loaded 2-core machine),
median before -> after: everything 1,326 -> 311 ms, a year 1,107 -> 272 ms, a quarter
284 -> 92 ms. The other groupings (team, theme, project, month: a few hundred groups at most)
do not use it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 02:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VERIFIED = "status = 'verified'"


def upgrade() -> None:
    op.create_index(
        "ix_service_hours_verified_volunteer",
        "service_hours",
        [sa.text("coalesce(volunteer_id, '')"), "started_at"],
        unique=False,
        postgresql_where=sa.text(VERIFIED),
        sqlite_where=sa.text(VERIFIED),
    )


def downgrade() -> None:
    op.drop_index("ix_service_hours_verified_volunteer", table_name="service_hours")
