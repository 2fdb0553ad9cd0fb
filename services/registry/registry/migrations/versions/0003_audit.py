"""the audit trail: hash-chained audit records, pruning checkpoints, append-only triggers

Revision ID: 0003_audit
Revises: 0002
Create Date: 2026-12-02 12:30:00.000000
"""

from alembic import op

from kit import audit


revision = "0003_audit"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    audit.create_tables(op)


def downgrade() -> None:
    audit.drop_tables(op)
