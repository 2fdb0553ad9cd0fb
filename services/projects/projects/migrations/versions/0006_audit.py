"""the audit trail: hash-chained audit records, pruning checkpoints, append-only triggers

Revision ID: 0006_audit
Revises: 0005
Create Date: 2026-12-02 12:30:00.000000
"""

from alembic import op

from kit import audit


revision = "0006_audit"
down_revision = "0005_workbench"
branch_labels = None
depends_on = None


def upgrade() -> None:
    audit.create_tables(op)


def downgrade() -> None:
    audit.drop_tables(op)
