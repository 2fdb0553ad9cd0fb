"""volunteers.organization_id: the organization a volunteer was registered for (staff scope)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 02:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_volunteers_organization_id", ["organization_id"], unique=False)
    # volunteers registered before: the host of the first team each joined
    op.execute(
        """
        UPDATE volunteers SET organization_id = (
            SELECT teams.host_id FROM team_members JOIN teams ON teams.id = team_members.team_id
            WHERE team_members.volunteer_id = volunteers.id
            ORDER BY team_members.joined_at LIMIT 1
        )
        WHERE organization_id IS NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.drop_index("ix_volunteers_organization_id")
        batch_op.drop_column("organization_id")
