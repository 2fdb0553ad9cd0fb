"""Service hours: an entry's duration and window, overlaps with the volunteer's other entries,
and maker-checker verification (never by whom logged them, nor by the volunteer herself)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kit.aggregate import Aggregate
from kit.clock import local_date
from language.actor import Actor
from volunteers.domain.activities import Activity
from volunteers.domain.roster import Team
from volunteers.domain.scope import Scope
from volunteers.exceptions import (
    HoursOverlap,
    InvalidTransition,
    NotEnrolled,
    OutOfScope,
    RuleBroken,
    SelfVerification,
)

HOURS_STATUSES = ("pending", "verified", "rejected")
MAX_ENTRY_MINUTES = 24 * 60
#: how far past "now" logged hours may end: the clock of whoever read the times off a watch
#: or a phone may run a few minutes ahead of the service's (see ``check_served``)
CLOCK_SKEW = timedelta(minutes=5)


def minutes_from_hours(hours: Any) -> int:
    """Hours given as a number or text (1.5, "2.25") as whole minutes, without floats."""
    try:
        exact = Decimal(str(hours)) * 60
    except (InvalidOperation, ValueError):
        raise RuleBroken("hours is a number", field="hours", rule="number") from None
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise RuleBroken(
            "hours must come to whole minutes (e.g. 1.5 or 2.25)",
            field="hours",
            rule="whole_minutes",
        )
    return int(exact)


def duration_minutes(started_at: datetime, ended_at: datetime) -> int:
    if started_at.tzinfo is None or ended_at.tzinfo is None:
        raise RuleBroken("give times with their UTC offset", field="started_at", rule="aware")
    if ended_at <= started_at:
        raise RuleBroken(
            "the service ends before it starts", field="ended_at", rule="after_started_at"
        )
    minutes = int((ended_at - started_at).total_seconds() // 60)
    if minutes < 1:
        raise RuleBroken("service hours last a minute or more", field="ended_at", rule="min")
    if minutes > MAX_ENTRY_MINUTES:
        raise RuleBroken(
            "one entry covers at most 24 hours; log each day on its own",
            field="ended_at",
            rule="max",
        )
    return minutes


def check_served(ended_at: datetime, at: datetime, *, field: str = "ended_at") -> None:
    """Hours are logged for time already served: an entry whose end lies after ``at`` (now)
    is refused, ``RuleBroken(field, rule="not_in_future")``. ``field`` is what the end was given
    as: ``ended_at``, or ``hours`` when the end is the start plus the hours.

    A clock skew of ``CLOCK_SKEW`` (5 minutes) is allowed: an end up to 5 minutes after now
    passes, so that a shift logged the minute it ends, by a clock a little fast, is not
    refused.
    """
    if ended_at > at + CLOCK_SKEW:
        what = "the start plus the hours" if field == "hours" else "the end"
        raise RuleBroken(
            f"hours are logged for time already served: {what} lies in the future",
            field=field,
            rule="not_in_future",
            ended_at=ended_at.isoformat(),
            now=at.isoformat(),
        )


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: one ending at 10:00 and the next starting at 10:00 do not overlap."""
    return a_start < b_end and b_start < a_end


class ServiceHours(Aggregate):
    def __init__(
        self,
        *,
        volunteer_id: str,
        activity: Activity,
        started_at: datetime,
        ended_at: datetime,
        logged_by: str,
        logged_at: datetime,
        note: str | None = None,
        id: str | None = None,
    ) -> None:
        self.id = id or str(uuid.uuid4())
        self.volunteer_id = volunteer_id
        self.activity_id = activity.id
        self.team_id = activity.team_id
        self.project_id = activity.project_id
        self.started_at = started_at
        self.ended_at = ended_at
        self.minutes = duration_minutes(started_at, ended_at)
        self.service_month = local_date(started_at).strftime("%Y-%m")
        self.note = note
        self.status = "pending"
        self.logged_by = logged_by
        self.logged_at = logged_at
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.reject_reason: str | None = None
        self.version = 1

    def verify(self, actor: Actor, at: datetime) -> None:
        self._decide("verify", actor, at)
        self.status = "verified"
        self.record(
            "service_hours_verified",
            entry_id=self.id,
            volunteer_id=self.volunteer_id,
            activity_id=self.activity_id,
            team_id=self.team_id,
            project_id=self.project_id,
            minutes=self.minutes,
            verified_by=actor.user_id,
            actor_id=actor.user_id,
        )

    def reject(self, reason: str | None, actor: Actor, at: datetime) -> None:
        # the state first: rejecting a decided entry is a 409 naming its status, reason or not
        self.ensure_pending("reject")
        if not reason or not reason.strip():
            raise RuleBroken("say why the hours are rejected", field="reason", rule="required")
        self._decide("reject", actor, at)
        self.status = "rejected"
        self.reject_reason = reason.strip()

    def ensure_pending(self, action: str) -> None:
        if self.status != "pending":
            raise InvalidTransition("service hours entry", action, self.status, entry_id=self.id)

    def _decide(self, action: str, actor: Actor, at: datetime) -> None:
        self.ensure_pending(action)
        self.decided_by = actor.user_id
        self.decided_at = at
        self.version += 1


def log_hours(
    *,
    volunteer_id: str,
    activity: Activity,
    enrolment_status: str | None,
    others: Iterable[ServiceHours],
    started_at: datetime,
    ended_at: datetime,
    actor: Actor,
    at: datetime,
    note: str | None = None,
    end_field: str = "ended_at",
) -> ServiceHours:
    """A pending entry of service hours, if every rule holds.

    ``others`` are the volunteer's entries (any activity) that might overlap, rejected ones
    excluded; ``enrolment_status`` is the volunteer's enrolment in this activity, if any.
    ``at`` is now: the hours must have been served by then (``check_served``: up to 5 minutes
    of clock skew allowed); ``end_field`` names the field the end came from (``ended_at``, or
    ``hours`` when the end is the start plus the hours) in that refusal. The activity's window
    is checked first: hours running past its end are ``within_activity``, even if still to come.
    """
    entry = ServiceHours(
        volunteer_id=volunteer_id,
        activity=activity,
        started_at=started_at,
        ended_at=ended_at,
        logged_by=actor.user_id,
        logged_at=at,
        note=note,
    )
    if started_at < activity.starts_at or ended_at > activity.ends_at:
        raise RuleBroken(
            "service hours lie within the activity's start and end",
            field="started_at" if started_at < activity.starts_at else "ended_at",
            rule="within_activity",
            activity_starts_at=activity.starts_at.isoformat(),
            activity_ends_at=activity.ends_at.isoformat(),
        )
    check_served(ended_at, at, field=end_field)
    if enrolment_status != "enrolled":
        raise NotEnrolled(activity.id, volunteer_id, enrolment_status)
    for other in others:
        if other.status != "rejected" and overlaps(
            started_at, ended_at, other.started_at, other.ended_at
        ):
            raise HoursOverlap(other.id)
    return entry


def ensure_may_decide(
    entry: ServiceHours,
    *,
    actor: Actor,
    scope: Scope,
    team: Team,
    host_path: str | None,
    volunteer_user_id: str | None,
) -> None:
    """Maker-checker: the team's leader, staff above its host or an admin decide — never the
    person who logged the hours, nor the volunteer they are for."""
    if actor.user_id == entry.logged_by:
        raise SelfVerification(entry.id, "you logged these hours")
    if volunteer_user_id is not None and actor.user_id == volunteer_user_id:
        raise SelfVerification(entry.id, "these are your own hours")
    if not scope.manages(team, host_path):
        raise OutOfScope(
            "hours are verified by the team's leader, staff above its host, or an admin",
            entry_id=entry.id,
            role=actor.role,
        )
