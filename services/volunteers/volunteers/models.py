"""Volunteers tables, mapped onto the plain domain classes (SQLAlchemy imperative mapping).

Personal data has no column in clear: ``*_cipher`` holds the AES-GCM envelope and ``*_hash``
the keyed HMAC that the unique indexes compare (see ``volunteers.crypto``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry

from kit.columns import mapping_once
from kit.db import NAMING_CONVENTION, UTCDateTime
from kit.schedule import reminders_table
from language.directory import metadata as directory_metadata
from volunteers.domain.activities import Activity, Enrolment
from volunteers.domain.certificates import Certificate
from volunteers.domain.hours import ServiceHours
from volunteers.domain.roster import Membership, Team, Volunteer

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
#: volunteers keeps a copy of the registry's organizations (language.directory): team hosts, scope
INCLUDE_METADATA = (directory_metadata,)

ENVELOPE = 255
HASH = 64

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("search_name", sa.String(200), nullable=False),
    sa.Column("theme", sa.String(32), nullable=False),
    sa.Column("host_id", sa.String(36), nullable=False),
    sa.Column("leader_user_id", sa.String(36), nullable=True),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.UniqueConstraint("host_id", "name"),
    sa.Index("ix_teams_leader_user_id", "leader_user_id"),
    sa.Index("ix_teams_created_at_id", "created_at", "id"),
)

volunteers = sa.Table(
    "volunteers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("search_name", sa.String(100), nullable=False),
    sa.Column("phone_cipher", sa.String(ENVELOPE), nullable=False),
    sa.Column("phone_hash", sa.String(HASH), nullable=False),
    sa.Column("id_number_cipher", sa.String(ENVELOPE), nullable=True),
    sa.Column("id_number_hash", sa.String(HASH), nullable=True),
    sa.Column("skills", sa.JSON(), nullable=False),
    sa.Column("consented_on", sa.Date(), nullable=False),
    sa.Column("user_id", sa.String(36), nullable=True),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # which import brought the volunteer in, and from which line of the file: a duplicate in a
    # later batch of the same file is reported as "duplicates line N"
    sa.Column("import_id", sa.String(36), nullable=True),
    sa.Column("import_line", sa.Integer(), nullable=True),
    # the organization she was registered for (the registering staff's federation, or the
    # host of the team she joined): federation staff see the roster of their own subtree
    sa.Column("organization_id", sa.String(36), nullable=True),
    sa.UniqueConstraint("phone_hash"),
    sa.UniqueConstraint("id_number_hash"),
    sa.Index("ix_volunteers_created_at_id", "created_at", "id"),
    sa.Index("ix_volunteers_user_id", "user_id"),
    sa.Index("ix_volunteers_organization_id", "organization_id"),
)

team_members = sa.Table(
    "team_members",
    metadata,
    sa.Column("team_id", sa.String(36), sa.ForeignKey("teams.id"), primary_key=True),
    sa.Column("volunteer_id", sa.String(36), sa.ForeignKey("volunteers.id"), primary_key=True),
    sa.Column("added_by", sa.String(36), nullable=False),
    sa.Column("joined_at", UTCDateTime(), nullable=False),
    sa.Index("ix_team_members_volunteer_id", "volunteer_id"),
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("search_title", sa.String(200), nullable=False),
    sa.Column("team_id", sa.String(36), sa.ForeignKey("teams.id"), nullable=False),
    sa.Column("project_id", sa.String(36), nullable=True),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime(), nullable=False),
    sa.Column("place", sa.String(200), nullable=True),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("capacity", sa.Integer(), nullable=False),
    sa.Column("enrolled_count", sa.Integer(), nullable=False),
    sa.Column("waitlisted_count", sa.Integer(), nullable=False),
    sa.Column("next_position", sa.Integer(), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.CheckConstraint("capacity >= 1", name="capacity_positive"),
    # the last line of defence for the rule the activity's row lock enforces
    sa.CheckConstraint("enrolled_count <= capacity", name="never_over_capacity"),
    sa.CheckConstraint("enrolled_count >= 0 AND waitlisted_count >= 0", name="counts"),
    sa.CheckConstraint("ends_at > starts_at", name="window"),
    sa.Index("ix_activities_team_id_starts_at", "team_id", "starts_at"),
    sa.Index("ix_activities_project_id", "project_id"),
    sa.Index("ix_activities_starts_at_id", "starts_at", "id"),
)

enrolments = sa.Table(
    "enrolments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("activity_id", sa.String(36), sa.ForeignKey("activities.id"), nullable=False),
    sa.Column("volunteer_id", sa.String(36), sa.ForeignKey("volunteers.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("promoted_at", UTCDateTime(), nullable=True),
    sa.Column("cancelled_at", UTCDateTime(), nullable=True),
    sa.Column("cancelled_by", sa.String(36), nullable=True),
    sa.UniqueConstraint("activity_id", "volunteer_id"),
    sa.Index("ix_enrolments_activity_id_status_position", "activity_id", "status", "position"),
    sa.Index("ix_enrolments_volunteer_id", "volunteer_id"),
)

service_hours = sa.Table(
    "service_hours",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("volunteer_id", sa.String(36), sa.ForeignKey("volunteers.id"), nullable=False),
    sa.Column("activity_id", sa.String(36), sa.ForeignKey("activities.id"), nullable=False),
    # the activity's team and project, kept on the entry so reports group without a join
    sa.Column("team_id", sa.String(36), sa.ForeignKey("teams.id"), nullable=False),
    sa.Column("project_id", sa.String(36), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime(), nullable=False),
    sa.Column("minutes", sa.Integer(), nullable=False),
    # YYYY-MM of started_at in China time: the month a report counts the hours in
    sa.Column("service_month", sa.String(7), nullable=False),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("logged_by", sa.String(36), nullable=False),
    sa.Column("logged_at", UTCDateTime(), nullable=False),
    sa.Column("decided_by", sa.String(36), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("reject_reason", sa.Text(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.CheckConstraint("minutes > 0", name="minutes_positive"),
    sa.CheckConstraint("ended_at > started_at", name="period"),
    sa.Index("ix_service_hours_volunteer_id_started_at", "volunteer_id", "started_at"),
    sa.Index("ix_service_hours_status_started_at", "status", "started_at"),
    sa.Index("ix_service_hours_activity_id", "activity_id"),
    sa.Index("ix_service_hours_team_id_status", "team_id", "status"),
    sa.Index("ix_service_hours_logged_at_id", "logged_at", "id"),
)

#: the hours report by volunteer reads verified entries in its key's order and stops after a
#: page (migration 0003): without it, every volunteer's group is built and sorted first
sa.Index(
    "ix_service_hours_verified_volunteer",
    sa.func.coalesce(service_hours.c.volunteer_id, sa.literal_column("''")),
    service_hours.c.started_at,
    postgresql_where=service_hours.c.status == "verified",
    sqlite_where=service_hours.c.status == "verified",
)

#: the workbench's "hours awaiting verification" card counts and sums the pending entries of
#: every team in the actor's subtree (migration 0005): read from this small partial index alone
#: (the pending entries are the verification queue, not the history), not from the heap
sa.Index(
    "ix_service_hours_pending_team",
    service_hours.c.team_id,
    service_hours.c.minutes,
    postgresql_where=service_hours.c.status == "pending",
    sqlite_where=service_hours.c.status == "pending",
)

#: the projects an activity may name, kept from the projects service's ``project_published``
#: events (and from its answers, when asked about a project the events have not brought yet):
#: an activity names a project only if its purchaser is in the actor's or the team's line
known_projects = sa.Table(
    "known_projects",
    metadata,
    sa.Column("project_id", sa.String(36), primary_key=True),
    sa.Column("purchaser_id", sa.String(36), nullable=False),
    sa.Column("learnt_at", UTCDateTime(), nullable=False),
)

#: every read of personal data in clear: who, when, which volunteer, which fields
personal_data_reads = sa.Table(
    "personal_data_reads",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("volunteer_id", sa.String(36), sa.ForeignKey("volunteers.id"), nullable=False),
    sa.Column("fields", sa.String(64), nullable=False),
    sa.Column("actor_id", sa.String(36), nullable=False),
    sa.Column("actor_name", sa.String(64), nullable=False),
    sa.Column("actor_role", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("read_at", UTCDateTime(), nullable=False),
    sa.Index("ix_personal_data_reads_read_at_id", "read_at", "id"),
    sa.Index("ix_personal_data_reads_volunteer_id", "volunteer_id"),
)


#: volunteer service certificates: the content frozen at issue (JSON, signed with Ed25519 by
#: ``signature`` under the key ``key_id``); the columns beside it are copies for lists and
#: filters, checked against the signed content whenever a certificate is verified
certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("year", sa.Integer(), nullable=False),
    sa.Column("sequence", sa.Integer(), nullable=False),
    sa.Column("volunteer_id", sa.String(36), sa.ForeignKey("volunteers.id"), nullable=False),
    sa.Column("issuer_id", sa.String(36), nullable=False),
    sa.Column("period_from", sa.Date(), nullable=False),
    sa.Column("period_to", sa.Date(), nullable=False),
    sa.Column("total_minutes", sa.Integer(), nullable=False),
    sa.Column("content", sa.JSON(), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("issued_by", sa.String(36), nullable=False),
    sa.Column("issued_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_by", sa.String(36), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("revoke_reason", sa.String(500), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.UniqueConstraint("number"),
    sa.UniqueConstraint("year", "sequence"),
    sa.Index("ix_certificates_volunteer_id", "volunteer_id"),
    sa.Index("ix_certificates_issued_at_id", "issued_at", "id"),
)
#: the notices the daily check sent (``kit.schedule``): one per team and day (migration 0008)
reminders_sent = reminders_table(metadata)


def _map(mapper: registry) -> None:
    """Map the domain classes onto the tables."""
    mapper.map_imperatively(Team, teams)
    mapper.map_imperatively(Volunteer, volunteers)
    mapper.map_imperatively(Membership, team_members)
    mapper.map_imperatively(Activity, activities)
    mapper.map_imperatively(Enrolment, enrolments)
    mapper.map_imperatively(ServiceHours, service_hours)
    mapper.map_imperatively(Certificate, certificates)


start_mappers = mapping_once(metadata, _map)
