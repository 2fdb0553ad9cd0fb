"""Activities of a team, enrolment with a capacity and a waitlist, and the project an
activity may name (one purchased in the line of the actor's organization or the team's host)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from kit.aggregate import Aggregate
from kit.text import search_key
from language.actor import Actor
from volunteers.domain.roster import MAX_TITLE
from volunteers.domain.scope import in_line
from volunteers.exceptions import ActivityEnded, ActivityFull, InvalidTransition, RuleBroken

ENROLMENT_STATUSES = ("enrolled", "waitlisted", "cancelled")


def check_window(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise RuleBroken("give times with their UTC offset", field="starts_at", rule="aware")
    if ends_at <= starts_at:
        raise RuleBroken(
            "the activity ends before it starts", field="ends_at", rule="after_starts_at"
        )


class Activity(Aggregate):
    def __init__(
        self,
        *,
        title: str,
        team_id: str,
        project_id: str | None,
        starts_at: datetime,
        ends_at: datetime,
        place: str | None,
        capacity: int,
        description: str | None,
        created_by: str,
        created_at: datetime,
        id: str | None = None,
    ) -> None:
        check_window(starts_at, ends_at)
        if capacity < 1:
            raise RuleBroken("an activity has at least one place", field="capacity", rule="min")
        self.id = id or str(uuid.uuid4())
        self.title = title
        self.search_title = search_key(title)[:MAX_TITLE]
        self.team_id = team_id
        self.project_id = project_id
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.place = place
        self.capacity = capacity
        self.description = description
        self.enrolled_count = 0
        self.waitlisted_count = 0
        #: the next enrolment's place in line: the waitlist moves up in this order
        self.next_position = 1
        self.created_by = created_by
        self.created_at = created_at
        self.version = 1

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.enrolled_count, 0)

    def ensure_not_ended(self, at: datetime) -> None:
        """Nobody enrols (or re-enrols, or joins the waitlist) once the activity has ended:
        ``ActivityEnded`` (a conflict) naming its end. Up to its end, joining is allowed, even
        once it has started."""
        if at >= self.ends_at:
            raise ActivityEnded(self.id, self.ends_at.isoformat())

    def enrol(self, volunteer_id: str, *, waitlist: bool, actor: Actor, at: datetime) -> Enrolment:
        """A place if one is left; else a place in the waitlist, or ``ActivityFull``;
        ``ActivityEnded`` once the activity is over (``at`` is now).

        The caller holds the activity's row lock: the counts here are the truth.
        """
        self.ensure_not_ended(at)
        if self.enrolled_count < self.capacity:
            status = "enrolled"
            self.enrolled_count += 1
        elif waitlist:
            status = "waitlisted"
            self.waitlisted_count += 1
        else:
            raise ActivityFull(self.id, self.capacity)
        enrolment = Enrolment(
            activity_id=self.id,
            volunteer_id=volunteer_id,
            status=status,
            position=self.next_position,
            created_by=actor.user_id,
            created_at=at,
        )
        self.next_position += 1
        self.version += 1
        self._announce(enrolment, actor)
        return enrolment

    def reenrol(self, enrolment: Enrolment, *, waitlist: bool, actor: Actor, at: datetime) -> None:
        """A cancelled enrolment taken up again: at the back of the line."""
        if enrolment.status != "cancelled":
            raise InvalidTransition("enrolment", "re-enrol", enrolment.status)
        self.ensure_not_ended(at)
        if self.enrolled_count < self.capacity:
            enrolment.status = "enrolled"
            self.enrolled_count += 1
        elif waitlist:
            enrolment.status = "waitlisted"
            self.waitlisted_count += 1
        else:
            raise ActivityFull(self.id, self.capacity)
        enrolment.position = self.next_position
        enrolment.created_at = at
        enrolment.created_by = actor.user_id
        enrolment.cancelled_at = None
        enrolment.cancelled_by = None
        enrolment.promoted_at = None
        self.next_position += 1
        self.version += 1
        self._announce(enrolment, actor)

    def cancel(
        self,
        enrolment: Enrolment,
        first_waitlisted: Enrolment | None,
        *,
        actor: Actor,
        at: datetime,
    ) -> Enrolment | None:
        """Cancel ``enrolment``; if it held a place, the first in the waitlist takes it.

        Returns the enrolment that moved up, if any.
        """
        if enrolment.status == "cancelled":
            raise InvalidTransition("enrolment", "cancel", enrolment.status)
        held_a_place = enrolment.status == "enrolled"
        if held_a_place:
            self.enrolled_count -= 1
        else:
            self.waitlisted_count -= 1
        enrolment.status = "cancelled"
        enrolment.cancelled_at = at
        enrolment.cancelled_by = actor.user_id
        self.version += 1
        self._announce(enrolment, actor)
        if not held_a_place or first_waitlisted is None:
            return None
        if first_waitlisted.status != "waitlisted":
            raise InvalidTransition("enrolment", "move up", first_waitlisted.status)
        first_waitlisted.status = "enrolled"
        first_waitlisted.promoted_at = at
        self.waitlisted_count -= 1
        self.enrolled_count += 1
        self._announce(first_waitlisted, actor)
        return first_waitlisted

    def _announce(self, enrolment: Enrolment, actor: Actor) -> None:
        self.record(
            "volunteer_enrolled",
            enrolment_id=enrolment.id,
            volunteer_id=enrolment.volunteer_id,
            activity_id=self.id,
            project_id=self.project_id,
            status=enrolment.status,
            actor_id=actor.user_id,
        )


class Enrolment(Aggregate):
    def __init__(
        self,
        *,
        activity_id: str,
        volunteer_id: str,
        status: str,
        position: int,
        created_by: str,
        created_at: datetime,
        id: str | None = None,
    ) -> None:
        self.id = id or str(uuid.uuid4())
        self.activity_id = activity_id
        self.volunteer_id = volunteer_id
        self.status = status
        self.position = position
        self.created_by = created_by
        self.created_at = created_at
        self.promoted_at: datetime | None = None
        self.cancelled_at: datetime | None = None
        self.cancelled_by: str | None = None


def ensure_project_available(
    project_id: str, purchaser_path: str | None, lines: Iterable[str | None]
) -> None:
    """An activity names a project only if its purchaser is in one of ``lines`` (the acting
    user's organization, the team's host): the activity's verified hours add up on it.

    Raises ``RuleBroken(field="project_id", rule="project_not_available")``."""
    if not any(in_line(purchaser_path, line) for line in lines):
        raise RuleBroken(
            "the project was purchased outside your federation's line and the team's host's: "
            "its hours are not yours to count",
            field="project_id",
            rule="project_not_available",
            code="PROJECT_NOT_AVAILABLE",
            project_id=project_id,
        )
