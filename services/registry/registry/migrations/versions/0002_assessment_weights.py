"""assessment weights per federation and year, and every change of them

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import kit.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assessment_weights',
    sa.Column('federation_id', sa.String(length=36), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=36), nullable=False),
    sa.Column('updated_at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['federation_id'], ['organizations.id'], name=op.f('fk_assessment_weights_federation_id_organizations')),
    sa.PrimaryKeyConstraint('federation_id', 'year', name=op.f('pk_assessment_weights'))
    )
    op.create_table('assessment_weight_changes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('federation_id', sa.String(length=36), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.String(length=36), nullable=False),
    sa.Column('actor_name', sa.String(length=150), nullable=False),
    sa.Column('at', kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['federation_id'], ['organizations.id'], name=op.f('fk_assessment_weight_changes_federation_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_weight_changes'))
    )
    op.create_index('ix_assessment_weight_changes_federation_id_year_at', 'assessment_weight_changes', ['federation_id', 'year', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_assessment_weight_changes_federation_id_year_at', table_name='assessment_weight_changes')
    op.drop_table('assessment_weight_changes')
    op.drop_table('assessment_weights')
