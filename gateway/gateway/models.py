"""The gateway's own tables: users, login throttling counters, and the responses kept for
Idempotency-Key replays."""

from __future__ import annotations

import sqlalchemy as sa

from kit.db import NAMING_CONVENTION, UTCDateTime
from kit.tables import audit_metadata

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
#: the gateway publishes and consumes no events: no outbox or inbox tables; it keeps its own
#: audit log (``gateway.audit``: logins, users and roles, refused requests)
KIT_TABLES = False
INCLUDE_METADATA = (audit_metadata,)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("organization_id", sa.String(36), nullable=True),
    sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    #: raised by every change that ends the user's sessions; a token names the version it
    #: was issued under and is refused once they differ
    sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("created_by", sa.String(36), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    #: the materialised path of her organization as the registry told it when she was given
    #: it: whose auditors read the audit records of her logins and changes (None: none)
    sa.Column("scope_path", sa.String(1024), nullable=True),
)

#: one row per (user, Idempotency-Key): the request's fingerprint and, once done, its response
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("response_status", sa.Integer(), nullable=True),
    sa.Column("response_body", sa.Text(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

#: failed-login counters, one per username and per client address (``gateway.throttle``)
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("window_started", UTCDateTime(), nullable=False),
    sa.Column("locked_until", UTCDateTime(), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_login_throttle_expires_at", "expires_at"),
)

#: every replay of dead letters from the ops pages (``gateway.ops``): who, when, which queue,
#: why, and how many messages went back; written before the replay starts, completed after
dead_letter_replays = sa.Table(
    "dead_letter_replays",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("service", sa.String(32), nullable=False),
    sa.Column("queue", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    #: what the person confirmed: at most this many messages (null: all parked)
    sa.Column("requested", sa.Integer(), nullable=True),
    #: how many went back (null until the service answered)
    sa.Column("replayed", sa.Integer(), nullable=True),
    #: started, done, failed (the service refused or failed), unknown (no answer in time)
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error", sa.String(64), nullable=True),
    sa.Column("actor_id", sa.String(36), nullable=False),
    sa.Column("actor_username", sa.String(64), nullable=False),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Index("ix_dead_letter_replays_requested_at", "requested_at", "id"),
)
