"""users.volunteer_id: a volunteer's account names her record (issue 16)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("volunteer_id", sa.String(length=36), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_volunteer_id"), ["volunteer_id"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_volunteer_id"), type_="unique")
        batch.drop_column("volunteer_id")
