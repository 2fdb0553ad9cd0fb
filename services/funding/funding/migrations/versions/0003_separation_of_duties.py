"""separation of duties: who awarded a contract, who verified a provider, adjustments pending

``commitments.awarded_by`` (the award event's actor) and ``provider_verifications`` (the
registry's ``organization_verified`` actor) let funding refuse an approval by someone who had a
hand in what a disbursement pays for. ``source_adjustments`` holds top-ups and corrections at
or above the threshold until a second finance officer confirms or refuses them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:00:00
"""

import sqlalchemy as sa
from alembic import op

import kit.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("commitments") as batch:
        batch.add_column(sa.Column("awarded_by", sa.String(length=36), nullable=True))
    op.create_table(
        "source_adjustments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=False),
        sa.Column("requested_by_name", sa.String(length=150), nullable=False),
        sa.Column("requested_at", kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decided_by_name", sa.String(length=150), nullable=True),
        sa.Column("decided_at", kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_source_adjustments_not_zero")),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'refused')",
            name=op.f("ck_source_adjustments_status"),
        ),
        sa.CheckConstraint(
            "status = 'pending' OR (decided_by IS NOT NULL AND decided_by <> requested_by)",
            name=op.f("ck_source_adjustments_decided_by_another"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["funding_sources.id"],
            name=op.f("fk_source_adjustments_source_id_funding_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_adjustments")),
    )
    op.create_index(
        "ix_source_adjustments_status_requested_at",
        "source_adjustments",
        ["status", "requested_at"],
    )
    op.create_index("ix_source_adjustments_source_id", "source_adjustments", ["source_id"])
    op.create_table(
        "provider_verifications",
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("verified_by", sa.String(length=36), nullable=False),
        sa.Column("at", kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "verified_by", name=op.f("pk_provider_verifications")
        ),
    )


def downgrade() -> None:
    op.drop_table("provider_verifications")
    op.drop_index("ix_source_adjustments_source_id", table_name="source_adjustments")
    op.drop_index("ix_source_adjustments_status_requested_at", table_name="source_adjustments")
    op.drop_table("source_adjustments")
    with op.batch_alter_table("commitments") as batch:
        batch.drop_column("awarded_by")
