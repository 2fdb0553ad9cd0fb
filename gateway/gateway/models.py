"""The gateway's own tables: users, login throttling counters, the responses kept for
Idempotency-Key replays, and the users' notifications with their e-mail deliveries."""

from __future__ import annotations

import sqlalchemy as sa

from kit import tables
from kit.db import NAMING_CONVENTION, UTCDateTime
from kit.tables import audit_metadata

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
#: the gateway publishes no events (no outbox), but consumes the reminders' events for the
#: notifications (the kit's ``inbox``), runs one mail relay among its replicas (a lease row in
#: ``outbox_lease``) and keeps its own audit log (``gateway.audit``: logins, users and roles,
#: refused requests): those kit tables only
KIT_TABLES = False
kit_metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
tables.inbox.to_metadata(kit_metadata)
tables.outbox_lease.to_metadata(kit_metadata)
INCLUDE_METADATA = (kit_metadata, audit_metadata)

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
    #: where her notifications are also mailed (when an SMTP relay is configured); optional
    sa.Column("email", sa.String(254), nullable=True),
    #: a volunteer's account: the volunteer record she is (in the volunteers service, whose
    #: record carries the account's id too); one account per volunteer
    sa.Column("volunteer_id", sa.String(36), nullable=True),
    sa.UniqueConstraint("volunteer_id"),
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

#: one in-app notice for one user (``gateway.notices``), made from one event: once per
#: (event, user), however often the event is delivered
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False),
    #: the event type it came from (milestone_due, ...)
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    #: the console's route of the object it is about (``/contracts/<id>``)
    sa.Column("link", sa.String(500), nullable=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("read_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("event_id", "user_id"),
    sa.Index("ix_notifications_user_id_created_at", "user_id", "created_at", "id"),
)

#: a notice to send through another channel (e-mail), written with the notice and sent
#: after it committed by the mail relay (``gateway.mail``): pending until sent, retried
#: with backoff, failed after the last attempt
notice_deliveries = sa.Table(
    "notice_deliveries",
    metadata,
    sa.Column("notification_id", sa.String(36), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("address", sa.String(254), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Index("ix_notice_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)
