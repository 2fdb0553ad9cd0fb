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

#: the audit trail's own MetaData: every service's database has it (``kit.migrate`` adds it with
#: the kit's tables), and the gateway, which has none of the kit's other tables, includes it
audit_metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

#: one hash-chained record per attributable act (``kit.audit``); append-only, a trigger refuses
#: UPDATE and DELETE (DELETE only of records a signed checkpoint covers: pruning)
audit_records = sa.Table(
    "audit_records",
    audit_metadata,
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("record_id", sa.String(36), nullable=False, unique=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("user_id", sa.String(36), nullable=True),
    sa.Column("username", sa.String(150), nullable=True),
    sa.Column("role", sa.String(32), nullable=True),
    sa.Column("organization_id", sa.String(36), nullable=True),
    sa.Column("client_address", sa.String(64), nullable=True),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(64), nullable=False),
    sa.Column("object_id", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("changes", sa.JSON(), nullable=False),
    sa.Column("scope_path", sa.String(1024), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_records_at", "at"),
    sa.Index("ix_audit_records_user_id_seq", "user_id", "seq"),
    sa.Index("ix_audit_records_object_type_object_id_seq", "object_type", "object_id", "seq"),
    sa.Index("ix_audit_records_action_seq", "action", "seq"),
    sa.Index(
        "ix_audit_records_scope_path",
        "scope_path",
        postgresql_ops={"scope_path": "varchar_pattern_ops"},
    ),
)

#: what pruning left: the last pruned record's seq and hash, signed (HMAC-SHA256 with the
#: audit key), so the chain verifies from the first record kept
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    audit_metadata,
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("pruned_before", UTCDateTime(), nullable=False),
    sa.Column("records", sa.Integer(), nullable=False),
    sa.Column("signature", sa.String(64), nullable=False),
)
