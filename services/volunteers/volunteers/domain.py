"""Volunteers rules: teams, volunteers and their personal data, activities, enrolment and the
waitlist, service hours and who may verify them.

Plain Python: no framework, no I/O. Personal data (the phone and the resident ID number) is
checked and masked here; encrypting it and hashing it for look-ups is the service's business
(``volunteers.crypto``), and nothing in this module puts a phone or an ID number into an error
message, an event or a log line.

Moments are aware UTC ``datetime``; dates (consent, birth) are calendar dates in China.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kit.actor import Actor
from kit.aggregate import Aggregate
from kit.clock import local_date
from kit.text import search_key
from volunteers.exceptions import (
    ActivityEnded,
    ActivityFull,
    HoursOverlap,
    InvalidTransition,
    NotEnrolled,
    OutOfScope,
    RuleBroken,
    SelfVerification,
)

THEMES = (
    "low_carbon_living",
    "civilised_traffic",
    "healthy_living",
    "caring_for_the_vulnerable",
    "rights_mutual_aid",
    "legal_aid",
    "family_education",
    "entrepreneurship_mentoring",
    "other",
)
#: the organizations a team may be hosted by (kinds in the registry's directory)
HOST_KINDS = ("federation", "host_unit")
ENROLMENT_STATUSES = ("enrolled", "waitlisted", "cancelled")
HOURS_STATUSES = ("pending", "verified", "rejected")
REPORT_GROUPS = ("volunteer", "team", "theme", "project", "month")

#: manage teams within their scope (admins everywhere, staff in their federation's subtree)
MANAGERS = ("admin", "federation_staff")
#: may see volunteers' (masked) personal data; contractors, finance and ops may not
ROSTER_ROLES = ("admin", "federation_staff", "team_leader")
#: may read aggregate hours reports (no personal data unless grouped by volunteer)
REPORT_ROLES = ("admin", "federation_staff", "team_leader", "finance_officer", "ops")
PERSONAL_FIELDS = ("phone", "id_number")

MAX_NAME = 100
#: a team's name and an activity's title (their columns, and their search keys' columns)
MAX_TITLE = 200
MAX_SKILLS = 30
MAX_SKILL = 50
MAX_ENTRY_MINUTES = 24 * 60
#: how far past "now" logged hours may end: the clock of whoever read the times off a watch
#: or a phone may run a few minutes ahead of the service's (see ``check_served``)
CLOCK_SKEW = timedelta(minutes=5)


# --- personal data: the mobile phone -------------------------------------------------------

_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９＋Ｘｘ", "0123456789+Xx")
_PHONE_SEPARATORS = re.compile(r"[\s\-－—–()（）.]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def normalise_phone(raw: str | None) -> str:
    """A mainland mobile number as 11 digits: spaces, dashes and a +86 / 0086 prefix removed.

    Raises ``RuleBroken(field="phone", rule="phone_format")``.
    """
    if raw is None or not str(raw).strip():
        raise RuleBroken("a mobile phone number is required", field="phone", rule="required")
    text = _PHONE_SEPARATORS.sub("", str(raw).translate(_FULL_WIDTH_DIGITS))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif len(text) == 13 and text.startswith("86"):
        text = text[2:]
    if not _MOBILE.fullmatch(text):
        raise RuleBroken(
            "a mainland mobile number has 11 digits and starts with 13 to 19",
            field="phone",
            rule="phone_format",
        )
    return text


def mask_phone(phone: str) -> str:
    """138****1234: the carrier prefix and the last four digits."""
    return phone[:3] + "****" + phone[-4:]


# --- personal data: the resident ID number (GB 11643-1999) -----------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"
_SEVENTEEN_DIGITS = re.compile(r"[0-9]{17}")


def id_check_character(first_seventeen: str) -> str:
    """The 18th character of a resident ID number: ISO 7064 MOD 11-2 over the first 17."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_seventeen, ID_WEIGHTS, strict=True)
    )
    return ID_CHECK_CHARACTERS[total % 11]


#: an ID number a spreadsheet turned into a number: 1.10105194912E+17
_AS_NUMBER = re.compile(r"\d(\.\d+)?E\+?\d+")


def check_id_number(raw: str | None, today: date) -> str:
    """An 18-character resident ID number, upper-cased; raises ``RuleBroken`` with
    ``field="id_number"`` and rule ``id_length``, ``id_format``, ``id_birth_date`` or
    ``id_check_character``."""
    text = "".join(str(raw or "").translate(_FULL_WIDTH_DIGITS).split()).upper()
    if _AS_NUMBER.fullmatch(text):
        raise RuleBroken(
            f"the ID number was saved as a number ({text}): Excel keeps 15 digits and loses "
            "the rest; format the column as text (文本) and type the ID numbers again",
            field="id_number",
            rule="id_format",
        )
    if len(text) != 18:
        raise RuleBroken(
            f"a resident ID number has 18 characters, not {len(text)}",
            field="id_number",
            rule="id_length",
        )
    body, check = text[:17], text[17]
    if not _SEVENTEEN_DIGITS.fullmatch(body) or check not in ID_CHECK_CHARACTERS:
        raise RuleBroken(
            "a resident ID number is 17 digits and a check digit or X",
            field="id_number",
            rule="id_format",
        )
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        born = None
    if born is None or born > today or born.year < 1900:
        raise RuleBroken(
            "the birth date in the ID number (characters 7 to 14) is not a real date",
            field="id_number",
            rule="id_birth_date",
        )
    if id_check_character(body) != check:
        raise RuleBroken(
            "the ID number's check character does not match (a digit was mistyped)",
            field="id_number",
            rule="id_check_character",
        )
    return text


def mask_id_number(id_number: str) -> str:
    """3501**********1234: the province and city, and the last four characters."""
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


# --- the rest of a registration --------------------------------------------------------------

_SKILL_SEPARATORS = re.compile(r"[、，,;；\s]+")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def check_name(raw: str | None) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise RuleBroken("the volunteer's name is required", field="name", rule="required")
    if len(name) > MAX_NAME:
        raise RuleBroken(
            f"a name has at most {MAX_NAME} characters", field="name", rule="max_length"
        )
    return name


def parse_skills(raw: str | Iterable[str] | None) -> list[str]:
    """Skills as a list: from a list, or from text separated by 、，, ; or spaces."""
    if raw is None:
        return []
    parts = _SKILL_SEPARATORS.split(raw) if isinstance(raw, str) else list(raw)
    skills: list[str] = []
    for part in parts:
        skill = " ".join(str(part).split())
        if not skill or skill in skills:
            continue
        if len(skill) > MAX_SKILL:
            raise RuleBroken(
                f"a skill has at most {MAX_SKILL} characters", field="skills", rule="max_length"
            )
        skills.append(skill)
    if len(skills) > MAX_SKILLS:
        raise RuleBroken(f"at most {MAX_SKILLS} skills", field="skills", rule="max_items")
    return skills


def parse_consent_date(raw: str | date | None, today: date) -> date:
    """The date the volunteer signed the consent form: 2024-03-05, 2024/3/5, 2024年3月5日."""
    if isinstance(raw, date):
        consented = raw
    else:
        text = str(raw or "").strip()
        if not text:
            raise RuleBroken(
                "the date the volunteer consented is required: no consent, no registration",
                field="consented_on",
                rule="required",
            )
        match = _DATE.fullmatch(text)
        try:
            if match is None:
                raise ValueError(text)
            consented = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise RuleBroken(
                "the consent date is not a date (write 2024-03-05)",
                field="consented_on",
                rule="date_format",
            ) from None
    if consented > today:
        raise RuleBroken(
            "the consent date lies in the future", field="consented_on", rule="not_in_future"
        )
    return consented


@dataclass(frozen=True)
class VolunteerDraft:
    """A registration that passed every rule, personal data still in clear (never stored so)."""

    name: str
    phone: str
    id_number: str | None
    skills: list[str]
    consented_on: date
    user_id: str | None = None


def check_registration(
    *,
    name: str | None,
    phone: str | None,
    id_number: str | None,
    skills: str | Iterable[str] | None,
    consented_on: str | date | None,
    today: date,
    user_id: str | None = None,
) -> VolunteerDraft:
    """Every rule of a registration, first failure raised (fields in the order of a form)."""
    return VolunteerDraft(
        name=check_name(name),
        phone=normalise_phone(phone),
        id_number=check_id_number(id_number, today) if id_number and id_number.strip() else None,
        skills=parse_skills(skills),
        consented_on=parse_consent_date(consented_on, today),
        user_id=user_id,
    )


# --- scope: who may manage what -------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What an actor may touch. ``federation_path`` is a staff user's own federation's path in
    the directory (the copy of the registry)."""

    actor: Actor
    federation_path: str | None = None

    def covers(self, host_path: str | None) -> bool:
        """Whether the actor manages teams hosted by the organization at ``host_path``."""
        if self.actor.is_admin:
            return True
        if self.actor.role != "federation_staff" or not self.federation_path:
            return False
        return host_path is not None and host_path.startswith(self.federation_path)

    def leads(self, team: Team) -> bool:
        return self.actor.role == "team_leader" and team.leader_user_id == self.actor.user_id

    def manages(self, team: Team, host_path: str | None) -> bool:
        """Whether the actor runs the team: its leader, staff above its host, an admin. The
        teams one runs are the teams one sees: any other is not there (404)."""
        return self.leads(team) or self.covers(host_path)

    def ensure_manages(self, team: Team, host_path: str | None) -> None:
        if not self.manages(team, host_path):
            raise OutOfScope(
                "the team is run by its leader and the federations above its host",
                team_id=team.id,
                role=self.actor.role,
            )

    def registering_organization(self, team_host_id: str | None) -> str | None:
        """The organization a volunteer this actor registers belongs to: a staff member's own
        federation, else the host of the team she joins (if any)."""
        if self.actor.role == "federation_staff" and self.actor.organization_id:
            return self.actor.organization_id
        return team_host_id

    def ensure_roster(self) -> None:
        """Volunteers' personal data (even masked) is for those who run teams."""
        if self.actor.role not in ROSTER_ROLES:
            raise OutOfScope(
                f"a {self.actor.role} has no access to volunteers' personal data",
                role=self.actor.role,
            )


def ids_on_path(path: str | None) -> list[str]:
    """The organizations a materialised path runs through, top first: the organization at
    ``/a/b/c/`` is ``c``, under ``b``, under ``a``."""
    return [part for part in (path or "").split("/") if part]


def in_line(path: str | None, other: str | None) -> bool:
    """Whether two organizations lie on one line of the hierarchy: one of them is the other
    or above it (a city and a district of it are; two sibling districts are not)."""
    if not path or not other:
        return False
    return path.startswith(other) or other.startswith(path)


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


def check_host(host_id: str, entry: dict[str, Any] | None) -> None:
    """A team's host is a federation or a host unit the directory knows, and active."""
    if entry is None or entry.get("kind") not in HOST_KINDS:
        raise RuleBroken(
            "the host must be a federation or a host unit known to the registry",
            field="host_id",
            rule="host_kind",
            host_id=host_id,
            host_kind=entry.get("kind") if entry else None,
        )
    if entry.get("status") not in ("registered", "verified", "reinstated"):
        raise RuleBroken(
            f"the host organization is {entry.get('status')}",
            field="host_id",
            rule="active",
            host_id=host_id,
        )


# --- teams and volunteers --------------------------------------------------------------------


class Team(Aggregate):
    def __init__(
        self,
        *,
        name: str,
        theme: str,
        host_id: str,
        leader_user_id: str | None,
        description: str | None,
        created_by: str,
        created_at: datetime,
        id: str | None = None,
    ) -> None:
        self.id = id or str(uuid.uuid4())
        self.name = name
        self.search_name = team_search_key(name)
        self.theme = check_theme(theme)
        self.host_id = host_id
        self.leader_user_id = leader_user_id
        self.description = description
        self.created_by = created_by
        self.created_at = created_at
        self.updated_at = created_at
        self.version = 1

    def edit(self, changes: dict[str, Any], at: datetime) -> None:
        if "name" in changes:
            self.name = changes["name"]
            self.search_name = team_search_key(self.name)
        if "theme" in changes:
            self.theme = check_theme(changes["theme"])
        for key in ("leader_user_id", "description"):
            if key in changes:
                setattr(self, key, changes[key])
        self.updated_at = at
        self.version += 1


def team_search_key(name: str) -> str:
    """The key a team is searched and matched by. Cut to its column: case folding can
    lengthen a name (ß becomes ss)."""
    return search_key(name)[:MAX_TITLE]


def check_theme(theme: str) -> str:
    if theme not in THEMES:
        raise RuleBroken(f"theme must be one of {', '.join(THEMES)}", field="theme", rule="one_of")
    return theme


class Volunteer(Aggregate):
    """A volunteer as stored: personal data only as ciphertext and keyed hash."""

    def __init__(
        self,
        *,
        draft: VolunteerDraft,
        phone_cipher: str,
        phone_hash: str,
        id_number_cipher: str | None,
        id_number_hash: str | None,
        created_by: str,
        created_at: datetime,
        organization_id: str | None = None,
        id: str | None = None,
    ) -> None:
        self.id = id or str(uuid.uuid4())
        self.name = draft.name
        self.search_name = search_key(draft.name)[:MAX_NAME]
        self.phone_cipher = phone_cipher
        self.phone_hash = phone_hash
        self.id_number_cipher = id_number_cipher
        self.id_number_hash = id_number_hash
        self.skills = list(draft.skills)
        self.consented_on = draft.consented_on
        self.user_id = draft.user_id
        self.created_by = created_by
        self.created_at = created_at
        self.import_id: str | None = None
        self.import_line: int | None = None
        self.organization_id = organization_id
        # only the id: no personal data in events
        self.record("volunteer_registered", volunteer_ids=[self.id], actor_id=created_by)


class Membership(Aggregate):
    def __init__(self, *, team_id: str, volunteer_id: str, added_by: str, joined_at: datetime):
        self.team_id = team_id
        self.volunteer_id = volunteer_id
        self.added_by = added_by
        self.joined_at = joined_at


# --- activities and enrolment ----------------------------------------------------------------


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


# --- service hours ---------------------------------------------------------------------------


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


# --- reports ---------------------------------------------------------------------------------


def hours(minutes: int) -> float:
    """Minutes as hours to two decimals, for display (storage is always integer minutes)."""
    return float((Decimal(minutes) / 60).quantize(Decimal("0.01")))


def report_period(since: date | None, until: date | None) -> tuple[date | None, date | None]:
    if since and until and until < since:
        raise RuleBroken("until is before since", field="until", rule="after_since")
    return since, until


def day_after(day: date) -> date:
    return day + timedelta(days=1)


@dataclass
class ImportTally:
    """What one batch of an import came to."""

    received: int = 0
    imported: int = 0
    invalid: int = 0
    duplicate: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "imported": self.imported,
            "invalid": self.invalid,
            "duplicate": self.duplicate,
            "errors": self.errors,
        }
