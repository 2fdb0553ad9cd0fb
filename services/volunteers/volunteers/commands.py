"""What each volunteers use case is asked: one frozen dataclass per use case, built by the
service's entrypoint from the payload its marshmallow schema loaded (``CreateTeam(**data)``).

A list query carries its filters and the ``PageRequest`` (limit, cursor, order); an edit of
some of a team's fields carries ``changes``, since a field absent and a field set to null are
not the same request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kit.paging import PageRequest

# --- teams -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateTeam:
    name: str
    theme: str
    host_id: str
    leader_user_id: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class EditTeam:
    team_id: str
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class GetTeam:
    team_id: str


@dataclass(frozen=True)
class ListTeams:
    page: PageRequest
    theme: str | None = None
    host_id: str | None = None
    leader_user_id: str | None = None
    #: a leader's own teams: what a leader lists either way (kept for the API's filter)
    mine: bool | None = None
    q: str | None = None


@dataclass(frozen=True)
class AddMember:
    team_id: str
    volunteer_id: str


@dataclass(frozen=True)
class ListMembers:
    team_id: str
    page: PageRequest


# --- volunteers and their personal data --------------------------------------------------------


@dataclass(frozen=True)
class RegisterVolunteer:
    name: str | None
    phone: str | None
    id_number: str | None = None
    skills: Sequence[str] | str | None = field(default_factory=list)
    consented_on: date | str | None = None
    user_id: str | None = None
    team_id: str | None = None


@dataclass(frozen=True)
class GetVolunteer:
    volunteer_id: str
    #: an admin's read of the personal data in clear (audited)
    unmasked: bool = False
    #: which personal fields to show in clear (None: all of them)
    fields: tuple[str, ...] | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ListVolunteers:
    page: PageRequest
    q: str | None = None
    team_id: str | None = None
    skill: str | None = None


@dataclass(frozen=True)
class ListPersonalDataReads:
    page: PageRequest
    volunteer_id: str | None = None
    actor_id: str | None = None


@dataclass(frozen=True)
class ReencryptPersonalData:
    #: as the caller sent it: the use case checks it is a whole number from 1 to 10,000
    limit: Any


# --- imports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportBatch:
    #: as the caller sent them: the use case checks the id is a UUID and the rows a list
    import_id: Any
    rows: Any


@dataclass(frozen=True)
class GetImportProgress:
    import_id: Any


# --- activities and enrolment ------------------------------------------------------------------


@dataclass(frozen=True)
class CreateActivity:
    title: str
    team_id: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    project_id: str | None = None
    place: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class GetActivity:
    activity_id: str


@dataclass(frozen=True)
class ListActivities:
    page: PageRequest
    team_id: str | None = None
    project_id: str | None = None
    starts_from: date | None = None
    starts_before: date | None = None
    q: str | None = None


@dataclass(frozen=True)
class Enrol:
    activity_id: str
    volunteer_id: str
    waitlist: bool = True


@dataclass(frozen=True)
class CancelEnrolment:
    enrolment_id: str


@dataclass(frozen=True)
class ListEnrolments:
    activity_id: str
    page: PageRequest
    status: str | None = None


@dataclass(frozen=True)
class ProjectPublished:
    """The projects service's fact: a published project and its purchaser."""

    project_id: str
    purchaser_id: str
    occurred_at: Any


# --- service hours -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogHours:
    volunteer_id: str
    activity_id: str
    started_at: datetime
    #: the end, or instead the ``hours`` served from the start
    ended_at: datetime | None = None
    hours: Decimal | float | str | None = None
    note: str | None = None


@dataclass(frozen=True)
class VerifyHours:
    entry_id: str


@dataclass(frozen=True)
class RejectHours:
    entry_id: str
    reason: str | None = None


@dataclass(frozen=True)
class GetHours:
    entry_id: str


@dataclass(frozen=True)
class ListHours:
    page: PageRequest
    status: str | None = None
    volunteer_id: str | None = None
    activity_id: str | None = None
    team_id: str | None = None
    project_id: str | None = None


@dataclass(frozen=True)
class GetStatement:
    """A volunteer's statement of verified hours."""

    volunteer_id: str


@dataclass(frozen=True)
class HoursReport:
    group_by: str
    since: date | None = None
    until: date | None = None
    #: groups per page (None: ``REPORT_LIMIT``)
    limit: int | None = None
    #: the key of the last group of the page before (from the cursor)
    after: str | None = None


@dataclass(frozen=True)
class VolunteersWorkbench:
    """The actor's volunteer figures (the teams she runs)."""


@dataclass(frozen=True)
class GetAssessmentFigures:
    """Volunteers' figure set of a federation's annual assessment: per child federation."""

    federation_id: str
    year: int


# --- certificates (志愿服务证明) -----------------------------------------------------------------


@dataclass(frozen=True)
class PreviewCertificate:
    """The figures a certificate would carry (nothing is issued)."""

    volunteer_id: str
    period_from: date
    period_to: date
    issuer_id: str | None = None


@dataclass(frozen=True)
class IssueCertificate:
    volunteer_id: str
    period_from: date
    period_to: date
    #: the issuing organization: a federation of the staff member's subtree (her own by
    #: default), or the host of the leader's team (the one host of her teams by default)
    issuer_id: str | None = None


@dataclass(frozen=True)
class GetCertificate:
    certificate_id: str


@dataclass(frozen=True)
class ListCertificates:
    page: PageRequest
    volunteer_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class RevokeCertificate:
    certificate_id: str
    reason: str | None = None


@dataclass(frozen=True)
class VerifyCertificate:
    """Anyone's question: is the certificate with this number and code genuine?"""

    number: str
    code: str | None = None


@dataclass(frozen=True)
class LinkAccount:
    """A volunteer account (role ``volunteer``) linked to her record."""

    volunteer_id: str
    user_id: str


@dataclass(frozen=True)
class RunChecks:
    """The daily check as of a moment (the schedule's now, or a test's or ops' time)."""

    as_of: datetime
