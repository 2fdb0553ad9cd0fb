"""SQL for volunteers: teams, volunteers, activities, enrolments, service hours, reports.

Bulk paths (an import's batch) go around the ORM: PostgreSQL takes the rows with ``COPY``,
SQLite with one ``executemany``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kit.clock import CHINA
from kit.paging import Fetched, PageRequest, fetch_page, ordering
from kit.text import search_key
from language.directory import organizations as directory
from volunteers.domain.activities import Activity, Enrolment
from volunteers.domain.certificates import Certificate, ServedEntry
from volunteers.domain.hours import ServiceHours
from volunteers.domain.roster import Membership, Team, Volunteer
from volunteers.exceptions import (
    ActivityNotFound,
    CertificateNotFound,
    EnrolmentNotFound,
    HoursNotFound,
    TeamNotFound,
    VolunteerNotFound,
)
from volunteers.models import (
    activities,
    certificates,
    enrolments,
    known_projects,
    personal_data_reads,
    service_hours,
    start_mappers,
    team_members,
    teams,
    volunteers,
)

#: how long a bulk insert waits for a row lock before it gives up (and the batch is retried):
#: COPY runs with the green wait callback unset, so while it waits the whole process waits
COPY_LOCK_TIMEOUT = "5s"
_ONE_DAY = timedelta(days=1)
#: the advisory lock under which a year's certificate numbers are taken (plus the year)
CERTIFICATE_NUMBER_LOCK = 0x4A47_0000


#: the orders a person may list teams, volunteers and activities in (``sort=name``,
#: ``sort=-starts_at``); enrolments, hours and the audit keep theirs
TEAM_ORDER = ordering(teams, "-created_at", "name", "created_at")
VOLUNTEER_ORDER = ordering(volunteers, "-created_at", "name", "created_at")
ACTIVITY_ORDER = ordering(activities, "-starts_at", "starts_at", "title", "created_at")
ENROLMENT_ORDER = ordering(enrolments, "position", "position")
HOURS_ORDER = ordering(service_hours, "-logged_at", "logged_at")
READS_ORDER = ordering(personal_data_reads, "-read_at", "read_at")
CERTIFICATE_ORDER = ordering(certificates, "-issued_at", "issued_at")


def _day_start(day: date) -> datetime:
    """Midnight in China, the start of ``day`` for users (a report's since/until)."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


class VolunteersRepository:
    def __init__(self, session: Session) -> None:
        start_mappers()
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def add(self, *entities: Any) -> None:
        self.session.add_all(entities)

    def flush(self) -> None:
        """Write what was added so far (a row that refers to it may follow)."""
        self.session.flush()

    def _get(self, cls: type, key: str, missing: type, *, for_update: bool = False) -> Any:
        found = self.session.get(
            cls, str(key), with_for_update=for_update or None, populate_existing=for_update
        )
        if found is None:
            raise missing(str(key))
        return found

    # --- teams ------------------------------------------------------------------------------

    def team(self, team_id: str, *, for_update: bool = False) -> Team:
        if for_update:
            # NO KEY UPDATE: does not block the key-share locks that inserting members takes
            found = self.session.execute(
                sa.select(Team)
                .where(teams.c.id == str(team_id))
                .with_for_update(key_share=True)  # FOR NO KEY UPDATE on PostgreSQL
                .execution_options(populate_existing=True)
            ).scalar()
            if found is None:
                raise TeamNotFound(str(team_id))
            return found
        return self._get(Team, team_id, TeamNotFound)

    def find_team(self, team_id: str) -> Team | None:
        return self.session.get(Team, str(team_id))

    def teams_by_ids(self, ids: Sequence[str]) -> dict[str, Team]:
        if not ids:
            return {}
        found = self.session.execute(sa.select(Team).where(teams.c.id.in_(sorted(set(ids)))))
        return {team.id: team for team in found.scalars()}

    def teams_named(self, search_names: Sequence[str]) -> list[Team]:
        if not search_names:
            return []
        query = sa.select(Team).where(teams.c.search_name.in_(sorted(set(search_names))))
        return list(self.session.execute(query).scalars())

    def team_named(self, host_id: str, name: str) -> Team | None:
        return self.session.execute(
            sa.select(Team).where(teams.c.host_id == host_id).where(teams.c.name == name)
        ).scalar()

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
        query = sa.select(Team)
        if theme:
            query = query.where(teams.c.theme == theme)
        if host_id:
            query = query.where(teams.c.host_id == str(host_id))
        if leader_user_id:
            query = query.where(teams.c.leader_user_id == str(leader_user_id))
        if q:
            query = query.where(teams.c.search_name.contains(search_key(q), autoescape=True))
        if within_path is not None:
            query = query.where(teams.c.host_id.in_(_in_subtree(within_path)))
        return fetch_page(self.session, query, page)

    def member_counts(self, team_ids: Sequence[str]) -> dict[str, int]:
        if not team_ids:
            return {}
        rows = self.session.execute(
            sa.select(team_members.c.team_id, sa.func.count())
            .where(team_members.c.team_id.in_(sorted(set(team_ids))))
            .group_by(team_members.c.team_id)
        )
        return {team_id: count for team_id, count in rows}

    def teams_led_by(self, user_id: str) -> Any:
        """A subquery of the ids of the teams ``user_id`` leads."""
        return sa.select(teams.c.id).where(teams.c.leader_user_id == str(user_id))

    def hosts_led_by(self, user_id: str) -> list[str]:
        """The hosts of the teams ``user_id`` leads."""
        query = sa.select(teams.c.host_id).where(teams.c.leader_user_id == str(user_id)).distinct()
        return list(self.session.execute(query).scalars())

    # --- volunteers -------------------------------------------------------------------------

    def volunteer(self, volunteer_id: str, *, for_update: bool = False) -> Volunteer:
        return self._get(Volunteer, volunteer_id, VolunteerNotFound, for_update=for_update)

    def find_volunteer(self, volunteer_id: str) -> Volunteer | None:
        return self.session.get(Volunteer, str(volunteer_id))

    def existing(self, phone_hashes: Sequence[str], id_hashes: Sequence[str]) -> list[Any]:
        """Volunteers holding any of these look-up hashes (id, hashes, where they came from)."""
        conditions = []
        if phone_hashes:
            conditions.append(volunteers.c.phone_hash.in_(sorted(set(phone_hashes))))
        if id_hashes:
            conditions.append(volunteers.c.id_number_hash.in_(sorted(set(id_hashes))))
        if not conditions:
            return []
        query = sa.select(
            volunteers.c.id,
            volunteers.c.phone_hash,
            volunteers.c.id_number_hash,
            volunteers.c.import_id,
            volunteers.c.import_line,
        ).where(sa.or_(*conditions))
        return list(self.session.execute(query))

    def names_of(self, volunteer_ids: Sequence[str]) -> dict[str, str]:
        """The names of these volunteers (for lists of enrolments and hours)."""
        ids = sorted({str(v) for v in volunteer_ids})
        if not ids:
            return {}
        query = sa.select(volunteers.c.id, volunteers.c.name).where(volunteers.c.id.in_(ids))
        return {row.id: row.name for row in self.session.execute(query)}

    def import_progress(self, import_id: str, created_by: str | None) -> tuple[int, int | None]:
        """How many volunteers an import has written so far and the last line among them
        (only ``created_by``'s rows, unless None)."""
        query = sa.select(sa.func.count(), sa.func.max(volunteers.c.import_line)).where(
            volunteers.c.import_id == str(import_id)
        )
        if created_by is not None:
            query = query.where(volunteers.c.created_by == str(created_by))
        count, last = self.session.execute(query).one()
        return int(count or 0), (int(last) if last is not None else None)

    def list_volunteers(
        self,
        page: PageRequest,
        *,
        q: str | None = None,
        team_id: str | None = None,
        skill: str | None = None,
        visible: Any = None,
    ) -> Fetched:
        query = sa.select(Volunteer)
        if q:
            query = query.where(volunteers.c.search_name.contains(search_key(q), autoescape=True))
        if team_id:
            members = sa.select(team_members.c.volunteer_id).where(
                team_members.c.team_id == str(team_id)
            )
            query = query.where(volunteers.c.id.in_(members))
        if skill:
            # skills are a JSON list of strings; a contains-match on its text form is enough to
            # narrow down, the exact match is checked in Python by the caller
            # rows written through the ORM hold the list as ASCII JSON ("\\u6cd5..."), rows an
            # import copied in hold it as UTF-8: look for either spelling
            text = sa.cast(volunteers.c.skills, sa.Text)
            query = query.where(
                sa.or_(
                    text.contains(json.dumps(skill, ensure_ascii=False), autoescape=True),
                    text.contains(json.dumps(skill), autoescape=True),
                )
            )
        if visible is not None:
            query = query.where(visible)
        return fetch_page(self.session, query, page)

    def leader_sees(self, user_id: str, line: Sequence[str]) -> Any:
        """A team leader sees the members of the teams she leads, whom she registered, herself,
        and the volunteers registered for an organization in ``line`` (her teams' hosts and
        the federations above them) who are in no team yet: the pool she recruits from."""
        members = sa.select(team_members.c.volunteer_id).where(
            team_members.c.team_id.in_(self.teams_led_by(user_id))
        )
        conditions = [
            volunteers.c.id.in_(members),
            volunteers.c.created_by == str(user_id),
            volunteers.c.user_id == str(user_id),
        ]
        if line:
            placed = sa.select(team_members.c.volunteer_id).where(
                team_members.c.volunteer_id == volunteers.c.id
            )
            conditions.append(
                sa.and_(
                    volunteers.c.organization_id.in_(sorted(set(line))),
                    ~sa.exists(placed),
                )
            )
        return sa.or_(*conditions)

    def staff_sees(self, within_path: str, user_id: str) -> Any:
        """Federation staff see the volunteers registered for an organization of their subtree,
        the members of its teams, and whom they registered themselves."""
        subtree = _in_subtree(within_path)
        members = sa.select(team_members.c.volunteer_id).where(
            team_members.c.team_id.in_(sa.select(teams.c.id).where(teams.c.host_id.in_(subtree)))
        )
        return sa.or_(
            volunteers.c.organization_id.in_(subtree),
            volunteers.c.id.in_(members),
            volunteers.c.created_by == str(user_id),
        )

    @staticmethod
    def nobody() -> Any:
        """The condition no volunteer meets."""
        return sa.false()

    def sees_volunteer(self, volunteer_id: str, visible: Any) -> bool:
        if visible is None:
            return True
        query = sa.select(volunteers.c.id).where(volunteers.c.id == str(volunteer_id))
        return self.session.execute(query.where(visible)).first() is not None

    def visible_volunteer_ids(self, volunteer_ids: Sequence[str], visible: Any) -> set[str]:
        """Which of these volunteers the condition ``visible`` lets one see."""
        ids = sorted(set(volunteer_ids))
        if visible is None or not ids:
            return set(ids)
        query = sa.select(volunteers.c.id).where(volunteers.c.id.in_(ids)).where(visible)
        return set(self.session.execute(query).scalars())

    def teams_of(self, volunteer_ids: Sequence[str]) -> dict[str, list[str]]:
        if not volunteer_ids:
            return {}
        rows = self.session.execute(
            sa.select(team_members.c.volunteer_id, team_members.c.team_id)
            .where(team_members.c.volunteer_id.in_(sorted(set(volunteer_ids))))
            .order_by(team_members.c.joined_at)
        )
        found: dict[str, list[str]] = {}
        for volunteer_id, team_id in rows:
            found.setdefault(volunteer_id, []).append(team_id)
        return found

    def membership(self, team_id: str, volunteer_id: str) -> Membership | None:
        return self.session.get(Membership, (str(team_id), str(volunteer_id)))

    def stale_envelopes(self, current_key_id: str, limit: int) -> list[Volunteer]:
        """Volunteers with an envelope sealed by another key than the current one."""
        prefix = current_key_id + ":"
        query = (
            sa.select(Volunteer)
            .where(
                sa.or_(
                    ~volunteers.c.phone_cipher.startswith(prefix),
                    sa.and_(
                        volunteers.c.id_number_cipher.is_not(None),
                        ~volunteers.c.id_number_cipher.startswith(prefix),
                    ),
                )
            )
            .order_by(volunteers.c.id)
            .limit(limit)
            .with_for_update()
        )
        return list(self.session.execute(query).scalars())

    # --- bulk inserts -----------------------------------------------------------------------

    def add_imported(
        self, volunteer_rows: list[dict[str, Any]], member_rows: list[dict[str, Any]]
    ) -> None:
        """An import's batch: its volunteers' rows, then their memberships, in bulk."""
        self.bulk_insert(volunteers, volunteer_rows)
        self.bulk_insert(team_members, member_rows)

    def bulk_insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert many rows at once: COPY on PostgreSQL, one executemany elsewhere."""
        if not rows:
            return
        if self.dialect == "postgresql":
            self._copy(table, rows)
        else:
            self.session.execute(sa.insert(table), rows)

    def _copy(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        import psycopg2.extensions

        columns = list(rows[0])
        buffer = io.StringIO()
        csv.writer(buffer).writerows(_copy_rows(rows, columns))
        buffer.seek(0)
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        driver = self.session.connection().connection.driver_connection
        # psycogreen's wait callback refuses COPY; without it the copy blocks this process for
        # its few milliseconds. lock_timeout bounds the wait should a row it must check be
        # held by a transaction that cannot finish while this process is blocked.
        green_wait = psycopg2.extensions.get_wait_callback()
        psycopg2.extensions.set_wait_callback(None)
        try:
            with driver.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{COPY_LOCK_TIMEOUT}'")
                cursor.copy_expert(statement, buffer)
        finally:
            psycopg2.extensions.set_wait_callback(green_wait)

    # --- activities and enrolments ----------------------------------------------------------

    def activity(self, activity_id: str, *, for_update: bool = False) -> Activity:
        return self._get(Activity, activity_id, ActivityNotFound, for_update=for_update)

    def find_activity(self, activity_id: str) -> Activity | None:
        return self.session.get(Activity, str(activity_id))

    def list_activities(
        self,
        page: PageRequest,
        *,
        team_id: str | None = None,
        project_id: str | None = None,
        starts_from: datetime | None = None,
        starts_before: datetime | None = None,
        q: str | None = None,
        team_ids: Any = None,
    ) -> Fetched:
        query = sa.select(Activity)
        if team_ids is not None:
            query = query.where(activities.c.team_id.in_(team_ids))
        if team_id:
            query = query.where(activities.c.team_id == str(team_id))
        if project_id:
            query = query.where(activities.c.project_id == str(project_id))
        if starts_from:
            query = query.where(activities.c.starts_at >= starts_from)
        if starts_before:
            query = query.where(activities.c.starts_at < starts_before)
        if q:
            query = query.where(activities.c.search_title.contains(search_key(q), autoescape=True))
        return fetch_page(self.session, query, page)

    def enrolment(self, enrolment_id: str, *, for_update: bool = False) -> Enrolment:
        return self._get(Enrolment, enrolment_id, EnrolmentNotFound, for_update=for_update)

    def enrolment_of(self, activity_id: str, volunteer_id: str) -> Enrolment | None:
        return self.session.execute(
            sa.select(Enrolment)
            .where(enrolments.c.activity_id == str(activity_id))
            .where(enrolments.c.volunteer_id == str(volunteer_id))
        ).scalar()

    def first_waitlisted(self, activity_id: str) -> Enrolment | None:
        return self.session.execute(
            sa.select(Enrolment)
            .where(enrolments.c.activity_id == str(activity_id))
            .where(enrolments.c.status == "waitlisted")
            .order_by(enrolments.c.position)
            .limit(1)
        ).scalar()

    def list_enrolments(
        self, activity_id: str, page: PageRequest, *, status: str | None = None
    ) -> Fetched:
        query = sa.select(Enrolment).where(enrolments.c.activity_id == str(activity_id))
        if status:
            query = query.where(enrolments.c.status == status)
        return fetch_page(self.session, query, page)

    # --- the projects activities may name ---------------------------------------------------

    def known_purchaser(self, project_id: str) -> str | None:
        query = sa.select(known_projects.c.purchaser_id).where(
            known_projects.c.project_id == str(project_id)
        )
        return self.session.execute(query).scalar()

    def learn_project(self, project_id: str, purchaser_id: str, at: datetime) -> None:
        """Keep a project's purchaser (once: a published project's purchaser never changes)."""
        from sqlalchemy.dialects import postgresql, sqlite

        insert = (postgresql if self.dialect == "postgresql" else sqlite).insert(known_projects)
        self.session.execute(
            insert.values(
                project_id=str(project_id), purchaser_id=str(purchaser_id), learnt_at=at
            ).on_conflict_do_nothing(index_elements=["project_id"])
        )

    # --- service hours ----------------------------------------------------------------------

    def hours(self, entry_id: str, *, for_update: bool = False) -> ServiceHours:
        return self._get(ServiceHours, entry_id, HoursNotFound, for_update=for_update)

    def hours_overlapping(
        self, volunteer_id: str, started_at: datetime, ended_at: datetime
    ) -> list[ServiceHours]:
        """The volunteer's entries (any activity, rejected ones aside) that share any time
        with [started_at, ended_at)."""
        return list(
            self.session.execute(
                sa.select(ServiceHours)
                .where(service_hours.c.volunteer_id == str(volunteer_id))
                .where(service_hours.c.status != "rejected")
                .where(service_hours.c.started_at < ended_at)
                .where(service_hours.c.ended_at > started_at)
            ).scalars()
        )

    def list_hours(
        self,
        page: PageRequest,
        *,
        status: str | None = None,
        volunteer_id: str | None = None,
        activity_id: str | None = None,
        team_id: str | None = None,
        project_id: str | None = None,
        team_ids: Any = None,
    ) -> Fetched:
        table = service_hours
        query = sa.select(ServiceHours)
        for column, value in (
            (table.c.status, status),
            (table.c.volunteer_id, volunteer_id),
            (table.c.activity_id, activity_id),
            (table.c.team_id, team_id),
            (table.c.project_id, project_id),
        ):
            if value:
                query = query.where(column == str(value))
        if team_ids is not None:
            query = query.where(table.c.team_id.in_(team_ids))
        return fetch_page(self.session, query, page)

    def statement(self, volunteer_id: str, team_ids: Any = None) -> list[Any]:
        """A volunteer's verified hours, oldest first, with the activity's title; with
        ``team_ids`` (a ``team_scope``), only those served in these teams."""
        query = (
            sa.select(
                service_hours.c.id,
                service_hours.c.activity_id,
                activities.c.title.label("activity_title"),
                service_hours.c.team_id,
                service_hours.c.project_id,
                service_hours.c.started_at,
                service_hours.c.ended_at,
                service_hours.c.minutes,
                service_hours.c.decided_by,
                service_hours.c.decided_at,
            )
            .join(activities, activities.c.id == service_hours.c.activity_id)
            .where(service_hours.c.volunteer_id == str(volunteer_id))
            .where(service_hours.c.status == "verified")
            .order_by(service_hours.c.started_at, service_hours.c.id)
        )
        if team_ids is not None:
            query = query.where(service_hours.c.team_id.in_(team_ids))
        return list(self.session.execute(query))

    # --- certificates -----------------------------------------------------------------------

    def certificate(self, certificate_id: str, *, for_update: bool = False) -> Certificate:
        return self._get(Certificate, certificate_id, CertificateNotFound, for_update=for_update)

    def certificate_by_number(self, number: str) -> Certificate | None:
        query = sa.select(Certificate).where(certificates.c.number == str(number))
        return self.session.execute(query).scalars().first()

    def next_certificate_sequence(self, year: int) -> int:
        """The next number of the year. On PostgreSQL the year's numbers are taken in turn (a
        transaction-scoped advisory lock, held to the commit); on SQLite writers are serialised
        anyway, and a collision on the unique (year, sequence) has the issue tried again."""
        if self.dialect == "postgresql":
            key = CERTIFICATE_NUMBER_LOCK + year
            self.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        query = sa.select(sa.func.max(certificates.c.sequence)).where(certificates.c.year == year)
        return int(self.session.execute(query).scalar() or 0) + 1

    def list_certificates(
        self,
        page: PageRequest,
        *,
        volunteer_id: str | None = None,
        status: str | None = None,
        visible: Any = None,
    ) -> Fetched:
        query = sa.select(Certificate)
        if volunteer_id:
            query = query.where(certificates.c.volunteer_id == str(volunteer_id))
        if status:
            query = query.where(certificates.c.status == str(status))
        if visible is not None:
            query = query.where(
                certificates.c.volunteer_id.in_(sa.select(volunteers.c.id).where(visible))
            )
        return fetch_page(self.session, query, page)

    @staticmethod
    def own_record(user_id: str) -> Any:
        """The condition a volunteer's own record meets (her account is linked to it)."""
        return volunteers.c.user_id == str(user_id)

    def issuer_teams(self, issuer_path: str, leader_user_id: str | None) -> Any:
        """The teams an issuer certifies hours of: hosted in its subtree (and, for a leader,
        led by her)."""
        query = sa.select(teams.c.id).where(teams.c.host_id.in_(_in_subtree(issuer_path)))
        if leader_user_id is not None:
            query = query.where(teams.c.leader_user_id == str(leader_user_id))
        return query

    def served_entries(
        self, volunteer_id: str, since: date, until: date, team_ids: Any
    ) -> list[ServedEntry]:
        """The volunteer's verified entries started within [since, until] (China days) in these
        teams, with the activity's title and place and the team's theme."""
        query = (
            sa.select(
                service_hours.c.activity_id,
                activities.c.title,
                teams.c.theme,
                activities.c.place,
                service_hours.c.minutes,
                service_hours.c.started_at,
            )
            .join(activities, activities.c.id == service_hours.c.activity_id)
            .join(teams, teams.c.id == service_hours.c.team_id)
            .where(service_hours.c.volunteer_id == str(volunteer_id))
            .where(service_hours.c.status == "verified")
            .where(service_hours.c.started_at >= _day_start(since))
            .where(service_hours.c.started_at < _day_start(until) + _ONE_DAY)
            .where(service_hours.c.team_id.in_(team_ids))
        )
        return [
            ServedEntry(
                activity_id=row.activity_id,
                activity_title=row.title,
                theme=row.theme,
                place=row.place,
                minutes=int(row.minutes),
                served_on=row.started_at.astimezone(CHINA).date(),
            )
            for row in self.session.execute(query)
        ]

    def team_scope(self, within_path: str | None, leader_user_id: str | None) -> Any:
        """A subquery of team ids an actor may see (None: every team)."""
        if leader_user_id is not None:
            return self.teams_led_by(leader_user_id)
        if within_path is not None:
            return sa.select(teams.c.id).where(teams.c.host_id.in_(_in_subtree(within_path)))
        return None

    def report(
        self,
        group_by: str,
        *,
        since: date | None,
        until: date | None,
        team_ids: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> tuple[list[Any], Any]:
        """Verified hours grouped by the database: rows of (key, label, entries, minutes) in
        key order (from ``after``, at most ``limit`` + 1), and the totals over every group."""
        conditions = _report_conditions(since, until, team_ids)
        totals = self.session.execute(
            sa.select(
                sa.func.count().label("entries"),
                sa.func.coalesce(sa.func.sum(service_hours.c.minutes), 0).label("minutes"),
            ).where(*conditions)
        ).one()
        groups = _report_groups(group_by, conditions, limit, after).subquery()
        names = {"volunteer": volunteers, "team": teams}.get(group_by)
        if names is None:
            query = sa.select(
                groups.c.key, groups.c.key.label("label"), groups.c.entries, groups.c.minutes
            )
        else:
            query = sa.select(
                groups.c.key, names.c.name.label("label"), groups.c.entries, groups.c.minutes
            ).select_from(groups.outerjoin(names, names.c.id == groups.c.key))
        return list(self.session.execute(query.order_by(groups.c.key))), totals

    def hours_figures(
        self,
        *,
        team_ids: Any,
        status: str,
        since: date | None = None,
        until: date | None = None,
    ) -> dict[str, int]:
        """How many entries of a status the teams have (started within the days, China time,
        as the hours report counts them) and their minutes: one aggregate."""
        conditions = _hours_conditions(status, since, until, team_ids)
        entries, minutes = self.session.execute(
            sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.sum(service_hours.c.minutes), 0)
            ).where(*conditions)
        ).one()
        return {"entries": int(entries), "minutes": int(minutes)}

    # --- the audit of personal data read in clear --------------------------------------------

    def record_read(self, row: dict[str, Any]) -> None:
        self.session.execute(sa.insert(personal_data_reads).values(**row))

    def reads(
        self,
        page: PageRequest,
        *,
        volunteer_id: str | None = None,
        actor_id: str | None = None,
    ) -> Fetched:
        table = personal_data_reads
        query = sa.select(table)
        if volunteer_id:
            query = query.where(table.c.volunteer_id == str(volunteer_id))
        if actor_id:
            query = query.where(table.c.actor_id == str(actor_id))
        return fetch_page(self.session, query, page, scalars=False)

    # --- the daily check --------------------------------------------------------------------

    def teams_awaiting_verification(self) -> list[dict[str, Any]]:
        """Teams with a leader and service-hours entries waiting for verification: how many,
        and when the oldest began."""
        rows = self.session.execute(
            sa.select(
                teams.c.id.label("team_id"),
                teams.c.leader_user_id,
                sa.func.count(service_hours.c.id).label("entries"),
                sa.func.min(service_hours.c.started_at).label("oldest_started_at"),
            )
            .select_from(service_hours.join(teams, service_hours.c.team_id == teams.c.id))
            .where(service_hours.c.status == "pending")
            .where(teams.c.leader_user_id.is_not(None))
            .group_by(teams.c.id, teams.c.leader_user_id)
            .order_by(teams.c.id)
        )
        found = []
        for row in rows:
            oldest = row.oldest_started_at
            if oldest is not None and oldest.tzinfo is None:  # SQLite's min() of the column
                oldest = oldest.replace(tzinfo=UTC)
            found.append({**row._mapping, "oldest_started_at": oldest})
        return found


def _report_conditions(since: date | None, until: date | None, team_ids: Any) -> list[Any]:
    """The verified hours a report counts: started within its days (China time), of its
    teams."""
    return _hours_conditions("verified", since, until, team_ids)


def _hours_conditions(
    status: str, since: date | None, until: date | None, team_ids: Any
) -> list[Any]:
    """Entries of a status, started within the days (China time), of the teams."""
    table = service_hours
    conditions = [table.c.status == status]
    if since:
        conditions.append(table.c.started_at >= _day_start(since))
    if until:
        conditions.append(table.c.started_at < _day_start(until) + _ONE_DAY)
    if team_ids is not None:
        conditions.append(table.c.team_id.in_(team_ids))
    return conditions


def _report_groups(group_by: str, conditions: list[Any], limit: int | None, after: Any) -> Any:
    """The groups of a report (key, entries, minutes) in key order, from ``after``, at most
    ``limit`` + 1 of them."""
    table = service_hours
    source: Any = table
    if group_by == "theme":
        source = table.join(teams, teams.c.id == table.c.team_id)
    key = {
        "volunteer": table.c.volunteer_id,
        "team": table.c.team_id,
        "project": table.c.project_id,
        "month": table.c.service_month,
        "theme": teams.c.theme,
    }[group_by]
    # a group without a key (hours of activities outside any project) sorts first, as ""
    sort_key = sa.func.coalesce(key, "")
    grouped = (
        sa.select(
            sort_key.label("key"),
            sa.func.count().label("entries"),
            sa.func.sum(table.c.minutes).label("minutes"),
        )
        .select_from(source)
        .where(*conditions)
    )
    if after is not None:
        grouped = grouped.where(sort_key > after)
    grouped = grouped.group_by(sort_key).order_by(sort_key)
    if limit is not None:
        grouped = grouped.limit(limit + 1)
    return grouped


def _in_subtree(path: str) -> Any:
    return sa.select(directory.c.id).where(directory.c.path.like(path + "%"))


#: the types COPY's CSV format takes as they are (``_copy_value`` returns them unchanged)
_AS_IS = frozenset((str, int, type(None)))


def _copy_rows(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    """The rows' values in ``columns`` order, as COPY's CSV format reads them. Converted a
    column at a time, and only in a column that holds something else than text, integers and
    nulls: a batch's cells are mostly text, and a call per cell was most of a COPY's cost."""
    cells = []
    for column in columns:
        values = [row[column] for row in rows]
        if not _AS_IS.issuperset(map(type, values)):
            values = [_copy_value(value) for value in values]
        cells.append(values)
    return zip(*cells, strict=True)


def _copy_value(value: Any) -> Any:
    """A Python value as COPY's CSV format reads it (None stays an unquoted empty field)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "t" if value else "f"
    return value
