"""The gateway's own tables: users, login throttling counters, and the responses kept for
Idempotency-Key replays."""

from __future__ import annotations

import sqlalchemy as sa

from kit.db import NAMING_CONVENTION, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
#: the gateway publishes and consumes no events: no outbox or inbox tables
KIT_TABLES = False

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
