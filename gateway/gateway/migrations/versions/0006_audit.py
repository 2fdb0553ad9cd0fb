"""the gateway's audit log (logins, users and roles, refused requests) and each user's scope

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:40:00.000000
"""
from alembic import op
import sqlalchemy as sa

from kit import audit


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    audit.create_tables(op)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope_path', sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('scope_path')
    audit.drop_tables(op)
