"""token versions for revoking sessions, and login throttling counters

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 00:55:00.000000
"""
from alembic import op
import sqlalchemy as sa
import kit.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('window_started', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index('ix_login_throttle_expires_at', ['expires_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_version')

    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_index('ix_login_throttle_expires_at')

    op.drop_table('login_throttle')
