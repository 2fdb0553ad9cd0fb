"""Tables every service has: the outbox, the relay lease and the consumer inbox.

They live in their own MetaData; each service's Alembic environment targets both its own
metadata and this one, so its migrations create them and drift checks cover them.
"""

from __future__ import annotations

import sqlalchemy as sa

from kit.columns import NAMING_CONVENTION, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

#: events waiting to be published (status pending), published (sent) or returned by the
#: broker because no queue was bound to their routing key (unrouted, kept visible)
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column(
        "id",
        sa.Integer().with_variant(sa.BigInteger(), "postgresql"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Index("ix_outbox_status_id", "status", "id"),
)

#: one row per relay name; the relay that holds it (holder, until expires_at) publishes
outbox_lease = sa.Table(
    "outbox_lease",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

#: events a handler has applied, written in the same transaction as the handler's effect
inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("handler", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("applied_at", UTCDateTime(), nullable=False),
)
