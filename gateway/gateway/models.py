"""The gateway's own tables: users, and the responses kept for Idempotency-Key replays."""

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
