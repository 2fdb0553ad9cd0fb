"""refused_commitments: contracts funding could not commit money to

A milestone accepted on such a contract used to wait for a commitment that never came: its
``milestone_accepted`` was retried until it dead-lettered. Funding now remembers each refusal
and answers such a milestone with ``disbursement_rejected`` at once.

Refusals made before this revision are taken from the ``commitment_rejected`` events still in
the outbox (sent ones are kept for its retention, 7 days by default), so a dead letter parked
before the upgrade is rejected, not parked again, when ops replay it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 07:45:00
"""

import json

import sqlalchemy as sa
from alembic import op

import kit.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refused_commitments",
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("shortfall", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("cause", sa.String(length=100), nullable=False),
        sa.Column("at", kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_refused_commitments")),
    )
    outbox = sa.table(
        "outbox",
        sa.column("event_id", sa.String),
        sa.column("event_type", sa.String),
        sa.column("body", sa.Text),
        sa.column("created_at", kit.db.UTCDateTime()),
    )
    refused = sa.table(
        "refused_commitments",
        sa.column("contract_id", sa.String),
        sa.column("shortfall", sa.BigInteger),
        sa.column("reason", sa.String),
        sa.column("cause", sa.String),
        sa.column("at", kit.db.UTCDateTime()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(outbox.c.event_id, outbox.c.body, outbox.c.created_at)
        .where(outbox.c.event_type == "commitment_rejected")
        .order_by(outbox.c.created_at)
    )
    earlier: dict[str, dict] = {}
    for event_id, body, created_at in rows:
        event = json.loads(body)
        earlier.setdefault(
            str(event["contract_id"]),
            {
                "contract_id": str(event["contract_id"]),
                "shortfall": int(event["shortfall"]),
                "reason": str(event["reason"])[:200],
                "cause": f"outbox:{event_id}",
                "at": created_at,
            },
        )
    if earlier:
        bind.execute(sa.insert(refused), list(earlier.values()))


def downgrade() -> None:
    op.drop_table("refused_commitments")
