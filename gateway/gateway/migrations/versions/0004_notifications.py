"""notifications and their e-mail deliveries, users' e-mail, the kit's inbox and lease

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import kit.db


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('handler', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('applied_at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('handler', 'event_id', name=op.f('pk_inbox'))
    )
    op.create_table('outbox_lease',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('expires_at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_outbox_lease'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('event_id', 'user_id', name=op.f('uq_notifications_event_id_user_id'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_id_created_at', ['user_id', 'created_at', 'id'], unique=False)

    op.create_table('notice_deliveries',
    sa.Column('notification_id', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('notification_id', 'channel', name=op.f('pk_notice_deliveries'))
    )
    with op.batch_alter_table('notice_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_notice_deliveries_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email')

    with op.batch_alter_table('notice_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_notice_deliveries_status_next_attempt_at')

    op.drop_table('notice_deliveries')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_id_created_at')

    op.drop_table('notifications')
    op.drop_table('outbox_lease')
    op.drop_table('inbox')
