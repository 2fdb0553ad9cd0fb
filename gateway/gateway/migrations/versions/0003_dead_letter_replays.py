"""the audit of dead-letter replays from the ops pages

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-10 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import kit.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dead_letter_replays',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('queue', sa.String(length=255), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested', sa.Integer(), nullable=True),
    sa.Column('replayed', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.Column('actor_id', sa.String(length=36), nullable=False),
    sa.Column('actor_username', sa.String(length=64), nullable=False),
    sa.Column('requested_at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letter_replays'))
    )
    with op.batch_alter_table('dead_letter_replays', schema=None) as batch_op:
        batch_op.create_index('ix_dead_letter_replays_requested_at', ['requested_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dead_letter_replays', schema=None) as batch_op:
        batch_op.drop_index('ix_dead_letter_replays_requested_at')

    op.drop_table('dead_letter_replays')
