"""An in-memory ``VolunteersRepository`` and a small world to run volunteers use cases in.

The fake keeps the real repository's method names and answers: entities are the domain's own
objects, row answers (``existing``, ``statement``, ``reads``, ``report``) carry attributes and
``_mapping`` as SQLAlchemy rows do, lists come back as ``Fetched`` pages in the order, cursor
and limit the ``PageRequest`` names, with the total under the filters. The real repository's
conditions (who sees which volunteers, which teams) are SQL; here they are predicates, built
and applied by the fake the way the SQL reads. Subtrees are those of the ``FakeDirectory``.

What this fake cannot show — row locks, COPY, the unique indexes — the integration tests do.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from kit import audit
from kit.clock import CHINA
from kit.paging import Fetched, PageRequest
from kit.text import search_key
from kit.usecase import FixedClock
from language.actor import Actor
from tests.unit.fakes import FakeDirectory, FakeSentNotices, FakeUnitOfWork
from volunteers.context import Context
from volunteers.crypto import PersonalData
from volunteers.domain.activities import Activity, Enrolment
from volunteers.domain.certificates import Certificate, ServedEntry
from volunteers.domain.hours import ServiceHours
from volunteers.domain.identity import AUDIT_PERSONAL
from volunteers.domain.roster import Membership, Team, Volunteer
from volunteers.exceptions import (
    ActivityNotFound,
    CertificateNotFound,
    EnrolmentNotFound,
    HoursNotFound,
    TeamNotFound,
    VolunteerNotFound,
)
from volunteers.signing import CertificateKey

VolunteerCondition = Callable[[Volunteer], bool]
TeamCondition = Callable[[str], bool]


class Row:
    """A result row as SQLAlchemy gives it: its columns as attributes and as ``_mapping``."""

    def __init__(self, **values: Any) -> None:
        self.__dict__["_mapping"] = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_mapping"][name]
        except KeyError:
            raise AttributeError(name) from None


def _compare(a: tuple[Any, ...], b: tuple[Any, ...], descending: bool) -> int:
    """Order two sort keys (value, *ties) as ``kit.paging.Sort`` does: NULLs last in either
    direction, ties broken by the tie columns in the same direction."""
    (value_a, *ties_a), (value_b, *ties_b) = a, b
    if (value_a is None) != (value_b is None):
        return 1 if value_a is None else -1
    sign = -1 if descending else 1
    if value_a is not None and value_a != value_b:
        return sign * (1 if value_a > value_b else -1)
    if ties_a == ties_b:
        return 0
    return sign * (1 if ties_a > ties_b else -1)


def fetch(items: Iterable[Any], request: PageRequest) -> Fetched:
    """``kit.paging.fetch_page`` over a list: sorted, after the cursor, ``limit + 1`` rows, and
    the total under the filters (the cursor aside)."""
    items = list(items)
    sort = request.sort
    assert sort is not None, "a list's PageRequest is made with its ordering"

    def key(item: Any) -> tuple[Any, ...]:
        return (sort.field.value_of(item), *(tie.value_of(item) for tie in sort.ordering.ties))

    ordered = sorted(
        items, key=functools.cmp_to_key(lambda x, y: _compare(key(x), key(y), sort.descending))
    )
    if request.after is not None:
        after = tuple(request.after)
        ordered = [item for item in ordered if _compare(key(item), after, sort.descending) > 0]
    return Fetched(rows=ordered[: request.limit + 1], total=len(items))


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


class FakeVolunteersRepository:
    def __init__(self, uow: FakeUnitOfWork, directory: FakeDirectory) -> None:
        self.uow = uow
        self.directory = directory
        self.teams: dict[str, Team] = {}
        self.volunteers: dict[str, Volunteer] = {}
        self.memberships: dict[tuple[str, str], Membership] = {}
        self.activities: dict[str, Activity] = {}
        self.enrolments: dict[str, Enrolment] = {}
        self.entries: dict[str, ServiceHours] = {}
        self.known_projects: dict[str, tuple[str, Any]] = {}
        self.read_rows: list[dict[str, Any]] = []
        self.certificates: dict[str, Certificate] = {}
        #: how many times the use cases asked to write what they added (``flush``)
        self.flushes = 0

    def _seen(self, entity: Any) -> Any:
        return self.uow.track(entity) if entity is not None else None

    def add(self, *entities: Any) -> None:
        for entity in entities:
            if isinstance(entity, Team):
                self.teams[entity.id] = entity
            elif isinstance(entity, Volunteer):
                self.volunteers[entity.id] = entity
            elif isinstance(entity, Membership):
                self.memberships[(entity.team_id, entity.volunteer_id)] = entity
            elif isinstance(entity, Activity):
                self.activities[entity.id] = entity
            elif isinstance(entity, Enrolment):
                self.enrolments[entity.id] = entity
            elif isinstance(entity, ServiceHours):
                self.entries[entity.id] = entity
            elif isinstance(entity, Certificate):
                taken = {(c.year, c.sequence) for c in self.certificates.values()}
                assert (entity.year, entity.sequence) not in taken, "unique (year, sequence)"
                self.certificates[entity.id] = entity
            else:
                raise TypeError(f"the repository does not keep {type(entity).__name__}")
            self._seen(entity)

    def flush(self) -> None:
        self.flushes += 1

    def _subtree(self, path: str) -> set[str]:
        return {i for i, e in self.directory.entries.items() if e["path"].startswith(path)}

    # --- teams ------------------------------------------------------------------------------

    def team(self, team_id: str, *, for_update: bool = False) -> Team:
        if str(team_id) not in self.teams:
            raise TeamNotFound(str(team_id))
        return self._seen(self.teams[str(team_id)])

    def find_team(self, team_id: str) -> Team | None:
        return self._seen(self.teams.get(str(team_id)))

    def teams_by_ids(self, ids: Sequence[str]) -> dict[str, Team]:
        return {i: self._seen(self.teams[i]) for i in set(ids) if i in self.teams}

    def teams_named(self, search_names: Sequence[str]) -> list[Team]:
        wanted = set(search_names)
        return [self._seen(t) for t in self.teams.values() if t.search_name in wanted]

    def team_named(self, host_id: str, name: str) -> Team | None:
        found = (t for t in self.teams.values() if t.host_id == host_id and t.name == name)
        return self._seen(next(found, None))

    def list_teams(
        self,
        page: PageRequest,
        *,
        theme: str | None = None,
        host_id: str | None = None,
        leader_user_id: str | None = None,
        q: str | None = None,
        within_path: str | None = None,
    ) -> Fetched:
        subtree = self._subtree(within_path) if within_path is not None else None
        found = [
            team
            for team in self.teams.values()
            if (not theme or team.theme == theme)
            and (not host_id or team.host_id == str(host_id))
            and (not leader_user_id or team.leader_user_id == str(leader_user_id))
            and (not q or search_key(q) in team.search_name)
            and (subtree is None or team.host_id in subtree)
        ]
        return fetch(found, page)

    def member_counts(self, team_ids: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for team_id, _ in self.memberships:
            if team_id in set(team_ids):
                counts[team_id] = counts.get(team_id, 0) + 1
        return counts

    def _led_by(self, user_id: str) -> set[str]:
        return {t.id for t in self.teams.values() if t.leader_user_id == str(user_id)}

    def hosts_led_by(self, user_id: str) -> list[str]:
        return sorted({t.host_id for t in self.teams.values() if t.leader_user_id == str(user_id)})

    # --- volunteers -------------------------------------------------------------------------

    def volunteer(self, volunteer_id: str, *, for_update: bool = False) -> Volunteer:
        if str(volunteer_id) not in self.volunteers:
            raise VolunteerNotFound(str(volunteer_id))
        return self._seen(self.volunteers[str(volunteer_id)])

    def find_volunteer(self, volunteer_id: str) -> Volunteer | None:
        return self._seen(self.volunteers.get(str(volunteer_id)))

    def existing(self, phone_hashes: Sequence[str], id_hashes: Sequence[str]) -> list[Any]:
        phones, ids = set(phone_hashes), set(id_hashes)
        return [
            Row(
                id=v.id,
                phone_hash=v.phone_hash,
                id_number_hash=v.id_number_hash,
                import_id=v.import_id,
                import_line=v.import_line,
            )
            for v in self.volunteers.values()
            if v.phone_hash in phones or (v.id_number_hash is not None and v.id_number_hash in ids)
        ]

    def names_of(self, volunteer_ids: Sequence[str]) -> dict[str, str]:
        ids = {str(v) for v in volunteer_ids}
        return {i: v.name for i, v in self.volunteers.items() if i in ids}

    def import_progress(self, import_id: str, created_by: str | None) -> tuple[int, int | None]:
        lines = [
            v.import_line
            for v in self.volunteers.values()
            if v.import_id == str(import_id)
            and (created_by is None or v.created_by == str(created_by))
        ]
        return len(lines), max((line for line in lines if line is not None), default=None)

    def _members_of(self, team_ids: set[str]) -> set[str]:
        return {v for t, v in self.memberships if t in team_ids}

    def list_volunteers(
        self,
        page: PageRequest,
        *,
        q: str | None = None,
        team_id: str | None = None,
        skill: str | None = None,
        visible: VolunteerCondition | None = None,
    ) -> Fetched:
        members = self._members_of({str(team_id)}) if team_id else None
        found = [
            v
            for v in self.volunteers.values()
            if (not q or search_key(q) in v.search_name)
            and (members is None or v.id in members)
            and (not skill or skill in v.skills)
            and (visible is None or visible(v))
        ]
        return fetch([self._seen(v) for v in found], page)

    def leader_sees(self, user_id: str, line: Sequence[str]) -> VolunteerCondition:
        """Her teams' members, whom she registered, herself, and the volunteers registered
        for an organization of ``line`` who are in no team yet."""
        members = self._members_of(self._led_by(user_id))
        placed = {v for _, v in self.memberships}
        pool = set(line)
        return lambda v: (
            v.id in members
            or v.created_by == str(user_id)
            or v.user_id == str(user_id)
            or (bool(pool) and v.organization_id in pool and v.id not in placed)
        )

    def staff_sees(self, within_path: str, user_id: str) -> VolunteerCondition:
        """The volunteers registered for the subtree, its teams' members, whom they registered."""
        subtree = self._subtree(within_path)
        teams = {t.id for t in self.teams.values() if t.host_id in subtree}
        members = self._members_of(teams)
        return lambda v: (
            v.organization_id in subtree or v.id in members or v.created_by == str(user_id)
        )

    @staticmethod
    def nobody() -> VolunteerCondition:
        return lambda v: False

    def sees_volunteer(self, volunteer_id: str, visible: VolunteerCondition | None) -> bool:
        if visible is None:
            return True
        volunteer = self.volunteers.get(str(volunteer_id))
        return volunteer is not None and visible(volunteer)

    def visible_volunteer_ids(
        self, volunteer_ids: Sequence[str], visible: VolunteerCondition | None
    ) -> set[str]:
        ids = set(volunteer_ids)
        if visible is None or not ids:
            return ids
        return {i for i in ids if i in self.volunteers and visible(self.volunteers[i])}

    def teams_of(self, volunteer_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        ordered = sorted(self.memberships.values(), key=lambda m: m.joined_at)
        for membership in ordered:
            if membership.volunteer_id in set(volunteer_ids):
                found.setdefault(membership.volunteer_id, []).append(membership.team_id)
        return found

    def membership(self, team_id: str, volunteer_id: str) -> Membership | None:
        return self.memberships.get((str(team_id), str(volunteer_id)))

    def stale_envelopes(self, current_key_id: str, limit: int) -> list[Volunteer]:
        prefix = current_key_id + ":"
        stale = [
            v
            for v in sorted(self.volunteers.values(), key=lambda v: v.id)
            if not v.phone_cipher.startswith(prefix)
            or (v.id_number_cipher is not None and not v.id_number_cipher.startswith(prefix))
        ]
        return [self._seen(v) for v in stale[:limit]]

    def add_imported(
        self, volunteer_rows: list[dict[str, Any]], member_rows: list[dict[str, Any]]
    ) -> None:
        """Rows as a bulk insert writes them: no domain events of their own."""
        for row in volunteer_rows:
            volunteer = Volunteer.__new__(Volunteer)
            volunteer.__dict__.update(row)
            self.volunteers[volunteer.id] = volunteer
        for row in member_rows:
            self.memberships[(row["team_id"], row["volunteer_id"])] = Membership(**row)

    # --- activities and enrolments ----------------------------------------------------------

    def activity(self, activity_id: str, *, for_update: bool = False) -> Activity:
        if str(activity_id) not in self.activities:
            raise ActivityNotFound(str(activity_id))
        return self._seen(self.activities[str(activity_id)])

    def find_activity(self, activity_id: str) -> Activity | None:
        return self._seen(self.activities.get(str(activity_id)))

    def list_activities(
        self,
        page: PageRequest,
        *,
        team_id: str | None = None,
        project_id: str | None = None,
        starts_from: datetime | None = None,
        starts_before: datetime | None = None,
        q: str | None = None,
        team_ids: TeamCondition | None = None,
    ) -> Fetched:
        found = [
            a
            for a in self.activities.values()
            if (team_ids is None or team_ids(a.team_id))
            and (not team_id or a.team_id == str(team_id))
            and (not project_id or a.project_id == str(project_id))
            and (not starts_from or a.starts_at >= starts_from)
            and (not starts_before or a.starts_at < starts_before)
            and (not q or search_key(q) in a.search_title)
        ]
        return fetch(found, page)

    def enrolment(self, enrolment_id: str, *, for_update: bool = False) -> Enrolment:
        if str(enrolment_id) not in self.enrolments:
            raise EnrolmentNotFound(str(enrolment_id))
        return self._seen(self.enrolments[str(enrolment_id)])

    def enrolment_of(self, activity_id: str, volunteer_id: str) -> Enrolment | None:
        found = (
            e
            for e in self.enrolments.values()
            if e.activity_id == str(activity_id) and e.volunteer_id == str(volunteer_id)
        )
        return self._seen(next(found, None))

    def first_waitlisted(self, activity_id: str) -> Enrolment | None:
        waiting = [
            e
            for e in self.enrolments.values()
            if e.activity_id == str(activity_id) and e.status == "waitlisted"
        ]
        return self._seen(min(waiting, key=lambda e: e.position, default=None))

    def list_enrolments(
        self, activity_id: str, page: PageRequest, *, status: str | None = None
    ) -> Fetched:
        found = [
            e
            for e in self.enrolments.values()
            if e.activity_id == str(activity_id) and (not status or e.status == status)
        ]
        return fetch(found, page)

    # --- the projects activities may name ---------------------------------------------------

    def known_purchaser(self, project_id: str) -> str | None:
        known = self.known_projects.get(str(project_id))
        return known[0] if known else None

    def learn_project(self, project_id: str, purchaser_id: str, at: datetime) -> None:
        self.known_projects.setdefault(str(project_id), (str(purchaser_id), at))

    # --- service hours ----------------------------------------------------------------------

    def teams_awaiting_verification(self) -> list[dict[str, Any]]:
        found: dict[str, list[ServiceHours]] = {}
        for entry in self.entries.values():
            team = self.teams.get(entry.team_id)
            if entry.status == "pending" and team is not None and team.leader_user_id:
                found.setdefault(team.id, []).append(entry)
        return [
            {
                "team_id": team_id,
                "leader_user_id": self.teams[team_id].leader_user_id,
                "entries": len(entries),
                "oldest_started_at": min(e.started_at for e in entries),
            }
            for team_id, entries in sorted(found.items())
        ]

    def hours(self, entry_id: str, *, for_update: bool = False) -> ServiceHours:
        if str(entry_id) not in self.entries:
            raise HoursNotFound(str(entry_id))
        return self._seen(self.entries[str(entry_id)])

    def hours_overlapping(
        self, volunteer_id: str, started_at: datetime, ended_at: datetime
    ) -> list[ServiceHours]:
        return [
            self._seen(e)
            for e in self.entries.values()
            if e.volunteer_id == str(volunteer_id)
            and e.status != "rejected"
            and e.started_at < ended_at
            and e.ended_at > started_at
        ]

    def list_hours(
        self,
        page: PageRequest,
        *,
        status: str | None = None,
        volunteer_id: str | None = None,
        activity_id: str | None = None,
        team_id: str | None = None,
        project_id: str | None = None,
        team_ids: TeamCondition | None = None,
    ) -> Fetched:
        wanted = {
            "status": status,
            "volunteer_id": volunteer_id,
            "activity_id": activity_id,
            "team_id": team_id,
            "project_id": project_id,
        }
        found = [
            e
            for e in self.entries.values()
            if all(not value or getattr(e, name) == str(value) for name, value in wanted.items())
            and (team_ids is None or team_ids(e.team_id))
        ]
        return fetch(found, page)

    def statement(self, volunteer_id: str, team_ids: TeamCondition | None = None) -> list[Any]:
        verified = [
            e
            for e in self.entries.values()
            if e.volunteer_id == str(volunteer_id)
            and e.status == "verified"
            and (team_ids is None or team_ids(e.team_id))
        ]
        return [
            Row(
                id=e.id,
                activity_id=e.activity_id,
                activity_title=self.activities[e.activity_id].title,
                team_id=e.team_id,
                project_id=e.project_id,
                started_at=e.started_at,
                ended_at=e.ended_at,
                minutes=e.minutes,
                decided_by=e.decided_by,
                decided_at=e.decided_at,
            )
            for e in sorted(verified, key=lambda e: (e.started_at, e.id))
        ]

    # --- certificates -----------------------------------------------------------------------

    def certificate(self, certificate_id: str, *, for_update: bool = False) -> Certificate:
        found = self.certificates.get(str(certificate_id))
        if found is None:
            raise CertificateNotFound(str(certificate_id))
        return self._seen(found)

    def certificate_by_number(self, number: str) -> Certificate | None:
        found = [c for c in self.certificates.values() if c.number == str(number)]
        return self._seen(found[0]) if found else None

    def next_certificate_sequence(self, year: int) -> int:
        return (
            max((c.sequence for c in self.certificates.values() if c.year == year), default=0) + 1
        )

    def list_certificates(
        self,
        page: PageRequest,
        *,
        volunteer_id: str | None = None,
        status: str | None = None,
        visible: VolunteerCondition | None = None,
    ) -> Fetched:
        found = [
            c
            for c in self.certificates.values()
            if (not volunteer_id or c.volunteer_id == str(volunteer_id))
            and (not status or c.status == status)
            and (visible is None or visible(self.volunteers[c.volunteer_id]))
        ]
        return fetch(found, page)

    @staticmethod
    def own_record(user_id: str) -> VolunteerCondition:
        return lambda v: v.user_id == str(user_id)

    def issuer_teams(self, issuer_path: str, leader_user_id: str | None) -> TeamCondition:
        subtree = self._subtree(issuer_path)
        return lambda team_id: (
            team_id in self.teams
            and self.teams[team_id].host_id in subtree
            and (leader_user_id is None or self.teams[team_id].leader_user_id == leader_user_id)
        )

    def served_entries(
        self, volunteer_id: str, since: date, until: date, team_ids: TeamCondition
    ) -> list[ServedEntry]:
        return [
            ServedEntry(
                activity_id=e.activity_id,
                activity_title=self.activities[e.activity_id].title,
                theme=self.teams[e.team_id].theme,
                place=self.activities[e.activity_id].place,
                minutes=e.minutes,
                served_on=e.started_at.astimezone(CHINA).date(),
            )
            for e in self.entries.values()
            if e.volunteer_id == str(volunteer_id)
            and e.status == "verified"
            and _day_start(since) <= e.started_at < _day_start(until) + timedelta(days=1)
            and team_ids(e.team_id)
        ]

    def team_scope(self, within_path: str | None, leader_user_id: str | None) -> Any:
        """Which teams an actor may see, as a condition on a team's id (None: every team)."""
        if leader_user_id is not None:
            return lambda team_id: team_id in self._led_by(leader_user_id)
        if within_path is not None:
            subtree = self._subtree(within_path)
            return lambda team_id: team_id in self.teams and self.teams[team_id].host_id in subtree
        return None

    def hours_figures(
        self,
        *,
        team_ids: TeamCondition | None,
        status: str,
        since: date | None = None,
        until: date | None = None,
    ) -> dict[str, int]:
        counted = [
            e
            for e in self.entries.values()
            if e.status == status
            and (not since or e.started_at >= _day_start(since))
            and (not until or e.started_at < _day_start(until) + timedelta(days=1))
            and (team_ids is None or team_ids(e.team_id))
        ]
        return {"entries": len(counted), "minutes": sum(e.minutes for e in counted)}

    def report(
        self,
        group_by: str,
        *,
        since: date | None,
        until: date | None,
        team_ids: TeamCondition | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> tuple[list[Any], Any]:
        counted = [
            e
            for e in self.entries.values()
            if e.status == "verified"
            and (not since or e.started_at >= _day_start(since))
            and (not until or e.started_at < _day_start(until) + timedelta(days=1))
            and (team_ids is None or team_ids(e.team_id))
        ]
        totals = Row(entries=len(counted), minutes=sum(e.minutes for e in counted))
        groups: dict[str, list[ServiceHours]] = {}
        for entry in counted:
            groups.setdefault(self._group_key(group_by, entry) or "", []).append(entry)
        keys = sorted(k for k in groups if after is None or k > after)
        if limit is not None:
            keys = keys[: limit + 1]
        rows = [
            Row(
                key=key,
                label=self._label(group_by, key),
                entries=len(groups[key]),
                minutes=sum(e.minutes for e in groups[key]),
            )
            for key in keys
        ]
        return rows, totals

    def _group_key(self, group_by: str, entry: ServiceHours) -> str | None:
        if group_by == "theme":
            return self.teams[entry.team_id].theme
        attribute = {"volunteer": "volunteer_id", "team": "team_id", "month": "service_month"}
        return getattr(entry, attribute.get(group_by, "project_id"))

    def _label(self, group_by: str, key: str) -> str | None:
        if group_by == "volunteer":
            return self.volunteers[key].name if key in self.volunteers else None
        if group_by == "team":
            return self.teams[key].name if key in self.teams else None
        return key

    # --- the audit of personal data read in clear --------------------------------------------

    def record_read(self, row: dict[str, Any]) -> None:
        self.read_rows.append(dict(row))

    def reads(
        self, page: PageRequest, *, volunteer_id: str | None = None, actor_id: str | None = None
    ) -> Fetched:
        found = [
            Row(**row)
            for row in self.read_rows
            if (not volunteer_id or row["volunteer_id"] == str(volunteer_id))
            and (not actor_id or row["actor_id"] == str(actor_id))
        ]
        return fetch(found, page)


class VolunteersWorld:
    """The volunteers service's use cases over fakes: one unit of work (its ``events`` are
    every commit so far), the directory, the repository, real keys (fresh ones), a fixed
    clock, and the projects service's answers (``projects``: id → answer)."""

    def __init__(self, at: datetime) -> None:
        self.uow = FakeUnitOfWork("volunteers")
        self.directory = FakeDirectory()
        self.repo = FakeVolunteersRepository(self.uow, self.directory)
        #: fresh keys (kept, so that a test can rotate the data key)
        self.data_key, self.hash_key = os.urandom(32), os.urandom(32)
        self.keys = PersonalData(self.data_key, self.hash_key)
        self.clock = FixedClock(at)
        #: a fresh certificate key
        self.signer = CertificateKey(os.urandom(32))
        self.notices = FakeSentNotices()
        self.projects: dict[str, dict[str, Any]] = {}
        #: the project ids the projects service was asked about
        self.asked: list[str] = []

    def _ask(self, project_id: str) -> dict[str, Any] | None:
        self.asked.append(project_id)
        return self.projects.get(project_id)

    def context(self, actor: Actor) -> Context:
        return Context(
            uow=self.uow,
            repo=self.repo,  # type: ignore[arg-type]
            directory=self.directory,
            actor=actor,
            clock=self.clock,
            personal_data=self.keys,
            projects=self._ask,
            signer=self.signer,
            notices=self.notices,
        )

    def execute(self, actor: Actor, use_case: Callable[[Context, Any], Any], command: Any) -> Any:
        """As ``UseCases.execute``: the use case, then commit; nothing committed on an error."""
        try:
            ctx = self.context(actor)
            result = use_case(ctx, command)
            audit.record_act(
                self.uow,
                ctx,
                actor.to_dict(),
                use_case,
                command,
                result,
                personal=AUDIT_PERSONAL,
            )
        except Exception:
            self.uow.rollback()
            for aggregate in self.uow.seen:
                aggregate.pull_events()
            raise
        self.uow.commit()
        return result

    def query(self, actor: Actor, use_case: Callable[[Context, Any], Any], command: Any) -> Any:
        """As ``UseCases.query``: a read, nothing committed (and no event may be staged)."""
        result = use_case(self.context(actor), command)
        pending = [e for a in self.uow.seen for e in a.__dict__.get("_pending_events", [])]
        assert not pending, f"a read recorded events: {pending}"
        return result
