"""Volunteers use cases: plain functions of a context (unit of work, actor, keys) and a command.

Each loads what it needs (locking the rows it changes), asks the domain, and leaves the changes
in the session; the caller commits — state and outbox rows together. Who-is-who questions (is
this host a host unit, is it in the actor's subtree) are answered by the service's directory,
kept from registry events.

Lock order, everywhere: activity, then enrolment; volunteer, then service hours entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from eventlet.semaphore import Semaphore

from kit.actor import Actor
from kit.db import UnitOfWork
from kit.directory import Directory
from kit.errors import InvalidInput
from kit.paging import Fetched, PageRequest, encode_cursor, fetched_page, page
from kit.text import search_keys
from volunteers import domain
from volunteers.crypto import PersonalData
from volunteers.domain import (
    Activity,
    Membership,
    Scope,
    ServiceHours,
    Team,
    Volunteer,
    VolunteerDraft,
)
from volunteers.exceptions import (
    ActivityNotFound,
    AlreadyEnrolled,
    AlreadyMember,
    DuplicateTeam,
    DuplicateVolunteer,
    EnrolmentNotFound,
    HoursNotFound,
    OutOfScope,
    RuleBroken,
    TeamNotFound,
    UnmaskingNotAllowed,
    VolunteerNotFound,
)
from volunteers.models import team_members, volunteers
from volunteers.repository import VolunteersRepository

#: writers of volunteers (one registration, an import's batch) take turns within a process. A
#: batch's COPY blocks the whole process while it runs; were another greenlet of this process
#: holding an uncommitted row the COPY must wait for, neither could go on.
VOLUNTEER_WRITES = Semaphore(1)

IMPORT_COLUMNS = ("name", "phone", "id_number", "skills", "consented_on", "team")
MAX_CELL = 1000

#: asks the projects service about a project the local copy has not heard of, as the actor:
#: ``{"purchaser_id", "status"}``, or None when there is no such project for her
ProjectLookup = Callable[[str], dict[str, Any] | None]


class Context:
    """What every use case needs: the repository, the directory, the actor and their scope,
    and the keys that open personal data."""

    def __init__(
        self,
        uow: UnitOfWork,
        actor: Actor,
        personal_data: PersonalData | None = None,
        projects: ProjectLookup | None = None,
    ) -> None:
        self.uow = uow
        self.repo = VolunteersRepository(uow.session)  # type: ignore[arg-type]
        self.directory = Directory(uow)
        self.actor = actor
        self._personal_data = personal_data
        self.projects = projects
        self._entries: dict[str, dict[str, Any] | None] = {}
        self._scope: Scope | None = None

    @property
    def personal_data(self) -> PersonalData:
        assert self._personal_data is not None, "this use case needs the personal data keys"
        return self._personal_data

    def entry(self, organization_id: str) -> dict[str, Any] | None:
        if organization_id not in self._entries:
            self._entries[organization_id] = self.directory.get(organization_id)
        return self._entries[organization_id]

    def path_of(self, organization_id: str) -> str | None:
        entry = self.entry(organization_id)
        return entry["path"] if entry else None

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            own = None
            if self.actor.role == "federation_staff" and self.actor.organization_id:
                own = self.path_of(self.actor.organization_id)
            self._scope = Scope(self.actor, own)
        return self._scope

    def manages(self, team: Team) -> bool:
        return self.scope.leads(team) or self.scope.covers(self.path_of(team.host_id))

    def managed_team(self, team_id: str, *, for_update: bool = False) -> Team:
        """A team the actor runs; any other is not there for her (404, as a missing one)."""
        team = self.repo.team(team_id, for_update=for_update)
        if not self.manages(team):
            raise TeamNotFound(team.id)
        return team

    def named_team(self, team_id: str) -> Team:
        """A team named in a request body: unknown (or not the actor's to run, which she is
        not told apart) is a 422 naming the field."""
        team = self.repo.find_team(team_id)
        if team is None or not self.manages(team):
            raise RuleBroken(
                f"no team {team_id}", field="team_id", rule="exists", code="TEAM_UNKNOWN"
            )
        return team

    def managed_activity(self, activity_id: str, *, for_update: bool = False) -> Activity:
        """An activity of a team the actor runs; any other is not there for her (404)."""
        activity = self.repo.activity(activity_id, for_update=for_update)
        if not self.manages(self.repo.team(activity.team_id)):
            raise ActivityNotFound(activity.id)
        return activity

    def named_volunteer(self, volunteer_id: str, *, for_update: bool = False) -> Volunteer:
        """A volunteer named in a request body: unknown, or one the actor may not see, is the
        same 422 — nobody acts on (and so opens the record of) a volunteer she cannot see."""
        volunteer = self.repo.find_volunteer(volunteer_id)
        if volunteer is not None and self.repo.sees_volunteer(volunteer.id, self.roster_scope()):
            if for_update:
                volunteer = self.repo.volunteer(volunteer.id, for_update=True)
            return volunteer
        raise RuleBroken(
            f"no volunteer {volunteer_id}",
            field="volunteer_id",
            rule="exists",
            code="VOLUNTEER_UNKNOWN",
        )

    def roster_scope(self) -> Any:
        """The condition on volunteers the actor may see (None: all of them, for an admin):
        a leader her teams' members, whom she registered, herself, and the volunteers
        registered for her teams' hosts or a federation above them who are in no team yet;
        staff the volunteers registered for their subtree, its teams' members, and whom they
        registered; any other role nobody."""
        if self.actor.is_admin:
            return None
        if self.actor.role == "team_leader":
            return self.repo.leader_sees(self.actor.user_id, self.leader_line())
        if self.actor.role == "federation_staff":
            return self.repo.staff_sees(self.scope.federation_path or "-", self.actor.user_id)
        return self.repo.nobody()

    def leader_line(self) -> list[str]:
        """The hosts of the teams the actor leads and every organization above them."""
        hosts = self.repo.hosts_led_by(self.actor.user_id)
        line: set[str] = set()
        for entry in self.directory.many(hosts).values():
            line.update(domain.ids_on_path(entry["path"]))
        return sorted(line)

    def visible_volunteers(self, volunteer_ids: Sequence[str]) -> set[str]:
        return self.repo.visible_volunteer_ids(volunteer_ids, self.roster_scope())

    def team_scope(self) -> Any:
        """The teams whose rosters, activities and hours the actor sees (None: all of them;
        reports also give a finance officer her federation's teams' totals, and ops every
        team's)."""
        if self.actor.role == "team_leader":
            return self.repo.team_scope(None, self.actor.user_id)
        if self.actor.role == "federation_staff":
            return self.repo.team_scope(self.scope.federation_path or "-", None)
        if self.actor.role == "finance_officer":
            own = self.path_of(self.actor.organization_id) if self.actor.organization_id else None
            return self.repo.team_scope(own or "-", None)
        return None


def _page_of(fetched: Fetched, request: PageRequest) -> dict[str, Any]:
    return fetched_page(fetched, request)


# --- teams -----------------------------------------------------------------------------------


def create_team(ctx: Context, data: dict[str, Any], at: datetime) -> Team:
    if ctx.actor.role not in domain.MANAGERS:
        raise OutOfScope(
            "teams are set up by federation staff (team leaders run them)", role=ctx.actor.role
        )
    host_id = data["host_id"]
    domain.check_host(host_id, ctx.entry(host_id))
    if not ctx.scope.covers(ctx.path_of(host_id)):
        raise OutOfScope(
            "you set up teams under your own federation and the organizations below it",
            field="host_id",
        )
    existing = ctx.repo.team_named(host_id, data["name"])
    if existing is not None:
        raise DuplicateTeam(host_id, existing.id)
    team = Team(
        name=data["name"],
        theme=data["theme"],
        host_id=host_id,
        leader_user_id=data.get("leader_user_id"),
        description=data.get("description"),
        created_by=ctx.actor.user_id,
        created_at=at,
    )
    ctx.repo.add(team)
    return team


def edit_team(ctx: Context, team_id: str, changes: dict[str, Any], at: datetime) -> Team:
    team = ctx.managed_team(team_id, for_update=True)
    if not ctx.scope.covers(ctx.path_of(team.host_id)):
        raise OutOfScope(
            "a team's name, theme and leader are changed by the federations above its host",
            team_id=team.id,
        )
    if "name" in changes and changes["name"] != team.name:
        existing = ctx.repo.team_named(team.host_id, changes["name"])
        if existing is not None:
            raise DuplicateTeam(team.host_id, existing.id)
    team.edit(changes, at)
    return team


def get_team(ctx: Context, team_id: str) -> dict[str, Any]:
    """A team the actor runs (a leader her own, staff their subtree's, an admin any)."""
    ctx.scope.ensure_roster()
    team = ctx.managed_team(team_id)
    return team_view(team, ctx.repo.member_counts([team.id]).get(team.id, 0))


def list_teams(ctx: Context, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
    """The teams the actor runs: a leader lists her own (``mine`` or not), staff their
    subtree's, an admin every team."""
    ctx.scope.ensure_roster()
    leader = filters.get("leader_user_id")
    within_path = None
    if ctx.actor.role == "team_leader":
        if leader and leader != ctx.actor.user_id:
            return page([], request, total=0)
        leader = ctx.actor.user_id
    elif ctx.actor.role == "federation_staff":
        within_path = ctx.scope.federation_path or "-"
    items = ctx.repo.list_teams(
        request,
        theme=filters.get("theme"),
        host_id=filters.get("host_id"),
        leader_user_id=leader,
        q=filters.get("q"),
        within_path=within_path,
    )
    result = _page_of(items, request)
    counts = ctx.repo.member_counts([team.id for team in result["items"]])
    result["items"] = [team_view(team, counts.get(team.id, 0)) for team in result["items"]]
    return result


def team_view(team: Team, members: int) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "theme": team.theme,
        "host_id": team.host_id,
        "leader_user_id": team.leader_user_id,
        "description": team.description,
        "members": members,
        "created_by": team.created_by,
        "created_at": team.created_at,
        "updated_at": team.updated_at,
        "version": team.version,
    }


def add_member(ctx: Context, team_id: str, volunteer_id: str, at: datetime) -> Membership:
    ctx.scope.ensure_roster()
    team = ctx.managed_team(team_id)
    volunteer = ctx.named_volunteer(volunteer_id)
    if ctx.repo.membership(team.id, volunteer.id) is not None:
        raise AlreadyMember(team.id, volunteer.id)
    membership = Membership(
        team_id=team.id, volunteer_id=volunteer.id, added_by=ctx.actor.user_id, joined_at=at
    )
    ctx.repo.add(membership)
    return membership


def list_members(ctx: Context, team_id: str, request: PageRequest) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    team = ctx.managed_team(team_id)
    items = ctx.repo.list_volunteers(request, team_id=team.id)
    result = _page_of(items, request)
    result["items"] = volunteer_views(ctx, result["items"])
    return result


# --- volunteers ------------------------------------------------------------------------------


def _hashes(ctx: Context, draft: VolunteerDraft) -> tuple[str, str | None]:
    digest = ctx.personal_data.digest
    phone_hash = digest("phone", draft.phone)
    id_hash = digest("id_number", draft.id_number) if draft.id_number else None
    return phone_hash, id_hash


def register_volunteer(
    ctx: Context, data: dict[str, Any], at: datetime, today: date
) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    draft = domain.check_registration(
        name=data.get("name"),
        phone=data.get("phone"),
        id_number=data.get("id_number"),
        skills=data.get("skills"),
        consented_on=data.get("consented_on"),
        user_id=data.get("user_id"),
        today=today,
    )
    team = None
    if data.get("team_id"):
        team = ctx.named_team(data["team_id"])
    phone_hash, id_hash = _hashes(ctx, draft)
    for row in ctx.repo.existing([phone_hash], [id_hash] if id_hash else []):
        # refused all the same; named only to whom may see her (no probing by phone number)
        shown = row.id if ctx.visible_volunteers([row.id]) else None
        raise DuplicateVolunteer("phone" if row.phone_hash == phone_hash else "id_number", shown)
    volunteer_id = str(uuid.uuid4())
    seal = ctx.personal_data.seal
    volunteer = Volunteer(
        id=volunteer_id,
        draft=draft,
        phone_cipher=seal(draft.phone, "phone", volunteer_id),
        phone_hash=phone_hash,
        id_number_cipher=seal(draft.id_number, "id_number", volunteer_id)
        if draft.id_number
        else None,
        id_number_hash=id_hash,
        created_by=ctx.actor.user_id,
        created_at=at,
        organization_id=ctx.scope.registering_organization(team.host_id if team else None),
    )
    ctx.repo.add(volunteer)
    if team is not None:
        ctx.uow.session.flush()  # type: ignore[union-attr] - the member row refers to it
        ctx.repo.add(
            Membership(
                team_id=team.id, volunteer_id=volunteer_id, added_by=ctx.actor.user_id, joined_at=at
            )
        )
    return volunteer_views(ctx, [volunteer], teams={volunteer_id: [team.id] if team else []})[0]


def visible_volunteer(ctx: Context, volunteer_id: str) -> Volunteer:
    """The volunteer, if the actor may see her (a team leader: her members, whom she
    registered, and herself; staff: their subtree's); to anybody else she is not there."""
    volunteer = ctx.repo.volunteer(volunteer_id)
    if volunteer.user_id is not None and volunteer.user_id == ctx.actor.user_id:
        return volunteer
    ctx.scope.ensure_roster()
    if not ctx.repo.sees_volunteer(volunteer.id, ctx.roster_scope()):
        raise VolunteerNotFound(volunteer.id)
    return volunteer


def get_volunteer(
    ctx: Context,
    volunteer_id: str,
    *,
    unmasked: bool,
    fields: list[str] | None,
    reason: str | None,
    at: datetime,
) -> dict[str, Any]:
    """A volunteer, personal data masked; an admin may ask for it in clear, and that read is
    written to the audit in the same transaction as it happens."""
    if unmasked and not ctx.actor.is_admin:
        raise UnmaskingNotAllowed(ctx.actor.role)
    volunteer = visible_volunteer(ctx, volunteer_id)
    revealed: tuple[str, ...] = ()
    if unmasked:
        wanted = fields or list(domain.PERSONAL_FIELDS)
        revealed = tuple(
            name
            for name in domain.PERSONAL_FIELDS
            if name in wanted and getattr(volunteer, f"{name}_cipher") is not None
        )
        ctx.repo.record_read(
            {
                "id": str(uuid.uuid4()),
                "volunteer_id": volunteer.id,
                "fields": ",".join(revealed),
                "actor_id": ctx.actor.user_id,
                "actor_name": ctx.actor.username[:64],
                "actor_role": ctx.actor.role,
                "reason": reason,
                "read_at": at,
            }
        )
    return volunteer_views(ctx, [volunteer], revealed=revealed)[0]


def list_volunteers(ctx: Context, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    items = ctx.repo.list_volunteers(
        request,
        q=filters.get("q"),
        team_id=filters.get("team_id"),
        skill=filters.get("skill"),
        visible=ctx.roster_scope(),
    )
    result = _page_of(items, request)
    skill = filters.get("skill")
    found = [v for v in result["items"] if not skill or skill in v.skills]
    result["items"] = volunteer_views(ctx, found)
    return result


def volunteer_views(
    ctx: Context,
    people: list[Volunteer],
    *,
    revealed: tuple[str, ...] = (),
    teams: dict[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Volunteers as the API shows them: phone and ID number masked unless ``revealed``."""
    if teams is None:
        teams = ctx.repo.teams_of([v.id for v in people])
    open_ = ctx.personal_data.open
    views = []
    for volunteer in people:
        phone = open_(volunteer.phone_cipher, "phone", volunteer.id)
        id_number = (
            open_(volunteer.id_number_cipher, "id_number", volunteer.id)
            if volunteer.id_number_cipher
            else None
        )
        views.append(
            {
                "id": volunteer.id,
                "name": volunteer.name,
                "phone": phone if "phone" in revealed else domain.mask_phone(phone),
                "id_number": None
                if id_number is None
                else id_number
                if "id_number" in revealed
                else domain.mask_id_number(id_number),
                "unmasked": list(revealed),
                "skills": volunteer.skills,
                "consented_on": volunteer.consented_on,
                "user_id": volunteer.user_id,
                "team_ids": teams.get(volunteer.id, []),
                "created_by": volunteer.created_by,
                "created_at": volunteer.created_at,
            }
        )
    return views


def audit(ctx: Context, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
    if not ctx.actor.is_admin:
        raise OutOfScope("the audit of personal data reads is for admins", role=ctx.actor.role)
    rows = ctx.repo.reads(
        request, volunteer_id=filters.get("volunteer_id"), actor_id=filters.get("actor_id")
    )
    result = _page_of(rows, request)
    result["items"] = [
        {**row._mapping, "fields": row.fields.split(",") if row.fields else []}
        for row in result["items"]
    ]
    return result


def reencrypt(uow: UnitOfWork, personal_data: PersonalData, limit: int) -> int:
    """Seal up to ``limit`` volunteers' data again with the current key; how many were."""
    repo = VolunteersRepository(uow.session)  # type: ignore[arg-type]
    stale = repo.stale_envelopes(personal_data.current_key_id, limit)
    for volunteer in stale:
        for name in domain.PERSONAL_FIELDS:
            envelope = getattr(volunteer, f"{name}_cipher")
            if envelope is not None and not personal_data.is_current(envelope):
                clear = personal_data.open(envelope, name, volunteer.id)
                setattr(volunteer, f"{name}_cipher", personal_data.seal(clear, name, volunteer.id))
    return len(stale)


# --- import ----------------------------------------------------------------------------------


def _cells(row: Any) -> tuple[int, list[str | None]]:
    """A row of a batch as the gateway sends it: [line, name, phone, id_number, skills,
    consented_on, team], cells text or null."""
    if not isinstance(row, list) or not 1 <= len(row) <= len(IMPORT_COLUMNS) + 1:
        raise InvalidInput("each row is [line, name, phone, ...]", field="rows", rule="shape")
    line = row[0]
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise InvalidInput("a row starts with its line number", field="rows", rule="line")
    cells: list[str | None] = []
    for cell in row[1:]:
        if cell is not None and not isinstance(cell, str):
            raise InvalidInput("cells are text or null", field="rows", rule="cell_type")
        cells.append(cell or None)
    cells.extend([None] * (len(IMPORT_COLUMNS) - len(cells)))
    return line, cells


def _row_error(line: int, kind: str, field: str, rule: str, message: str, **more: Any) -> dict:
    return {"line": line, "kind": kind, "field": field, "rule": rule, "message": message, **more}


def import_batch(
    ctx: Context, import_id: str, rows: list[Any], at: datetime, today: date
) -> dict[str, Any]:
    """One batch of a CSV import: every valid, new row goes in (all of them in this unit of
    work), every other row comes back with its line and why."""
    ctx.scope.ensure_roster()
    tally = domain.ImportTally(received=len(rows))
    accepted: list[tuple[int, VolunteerDraft, str | None]] = []
    for row in rows:
        line, cells = _cells(row)
        name, phone, id_number, skills, consented_on, team_ref = cells
        too_long = next(
            (
                field
                for field, cell in zip(IMPORT_COLUMNS, cells, strict=True)
                if cell is not None and len(cell) > MAX_CELL
            ),
            None,
        )
        if too_long is not None:
            # refused whole, not cut short: a cut skills list would go in silently wrong
            tally.invalid += 1
            tally.errors.append(
                _row_error(
                    line,
                    "invalid",
                    too_long,
                    "max_length",
                    f"a cell has at most {MAX_CELL} characters",
                )
            )
            continue
        try:
            draft = domain.check_registration(
                name=name,
                phone=phone,
                id_number=id_number,
                skills=skills,
                consented_on=consented_on,
                today=today,
            )
        except RuleBroken as problem:
            tally.invalid += 1
            tally.errors.append(
                _row_error(line, "invalid", problem.field, problem.rule, problem.message)
            )
            continue
        accepted.append((line, draft, team_ref.strip() if team_ref and team_ref.strip() else None))

    teams = _resolve_teams(ctx, {ref for _, _, ref in accepted if ref})
    digest = ctx.personal_data.digest
    checked: list[tuple[int, VolunteerDraft, str | None, str, str | None]] = []
    first_line_of: dict[str, int] = {}
    for line, draft, team_ref in accepted:
        if team_ref is not None and isinstance(teams[team_ref], dict):
            problem = teams[team_ref]
            tally.invalid += 1
            tally.errors.append(
                _row_error(line, "invalid", "team", problem["rule"], problem["message"])
            )
            continue
        phone_hash = digest("phone", draft.phone)
        id_hash = digest("id_number", draft.id_number) if draft.id_number else None
        duplicate = None
        for field, value in (("phone", phone_hash), ("id_number", id_hash)):
            if value is not None and value in first_line_of:
                duplicate = (field, first_line_of[value])
                break
        if duplicate is not None:
            tally.duplicate += 1
            tally.errors.append(
                _row_error(
                    line,
                    "duplicate",
                    duplicate[0],
                    "unique",
                    f"the same {duplicate[0].replace('_', ' ')} as line {duplicate[1]}",
                    duplicate_of_line=duplicate[1],
                )
            )
            continue
        first_line_of[phone_hash] = line
        if id_hash is not None:
            first_line_of[id_hash] = line
        team_id = teams[team_ref].id if team_ref is not None else None  # type: ignore[union-attr]
        checked.append((line, draft, team_id, phone_hash, id_hash))

    existing: dict[str, Any] = {}
    for row in ctx.repo.existing(
        [c[3] for c in checked], [c[4] for c in checked if c[4] is not None]
    ):
        existing[row.phone_hash] = row
        if row.id_number_hash:
            existing[row.id_number_hash] = row
    # a volunteer registered already is named (by id, or by line of this import) only to
    # whom may see her; to anybody else the row is a duplicate without saying of whom
    visible = ctx.visible_volunteers([row.id for row in existing.values()])
    new_volunteers: list[dict[str, Any]] = []
    new_members: list[dict[str, Any]] = []
    fresh: list[tuple[int, VolunteerDraft, str | None, str, str | None]] = []
    for item in checked:
        line, _, _, phone_hash, id_hash = item
        hit_field = "phone" if phone_hash in existing else None
        if hit_field is None and id_hash is not None and id_hash in existing:
            hit_field = "id_number"
        if hit_field is None:
            fresh.append(item)
            continue
        other = existing[phone_hash if hit_field == "phone" else id_hash]  # type: ignore[index]
        tally.duplicate += 1
        if other.id not in visible:
            tally.errors.append(
                _row_error(
                    line,
                    "duplicate",
                    hit_field,
                    "unique",
                    f"a volunteer with this {hit_field.replace('_', ' ')} is registered already",
                )
            )
        elif other.import_id == import_id and other.import_line is not None:
            tally.errors.append(
                _row_error(
                    line,
                    "duplicate",
                    hit_field,
                    "unique",
                    f"the same {hit_field.replace('_', ' ')} as line {other.import_line}",
                    duplicate_of_line=other.import_line,
                )
            )
        else:
            tally.errors.append(
                _row_error(
                    line,
                    "duplicate",
                    hit_field,
                    "unique",
                    f"a volunteer with this {hit_field.replace('_', ' ')} is registered already",
                    duplicate_of_volunteer_id=other.id,
                )
            )

    hosts = {team.id: team.host_id for team in teams.values() if isinstance(team, Team)}
    seal = ctx.personal_data.seal
    names = search_keys([draft.name for _, draft, _, _, _ in fresh])
    actor_id = ctx.actor.user_id
    for (line, draft, team_id, phone_hash, id_hash), search_name in zip(fresh, names, strict=True):
        volunteer_id = str(uuid.uuid4())
        new_volunteers.append(
            {
                "id": volunteer_id,
                "name": draft.name,
                "search_name": search_name[: domain.MAX_NAME],
                "phone_cipher": seal(draft.phone, "phone", volunteer_id),
                "phone_hash": phone_hash,
                "id_number_cipher": seal(draft.id_number, "id_number", volunteer_id)
                if draft.id_number
                else None,
                "id_number_hash": id_hash,
                "skills": draft.skills,
                "consented_on": draft.consented_on,
                "user_id": None,
                "created_by": actor_id,
                "created_at": at,
                "import_id": import_id,
                "import_line": line,
                "organization_id": ctx.scope.registering_organization(
                    hosts[team_id] if team_id is not None else None
                ),
            }
        )
        if team_id is not None:
            new_members.append(
                {
                    "team_id": team_id,
                    "volunteer_id": volunteer_id,
                    "added_by": actor_id,
                    "joined_at": at,
                }
            )
    ctx.repo.bulk_insert(volunteers, new_volunteers)
    ctx.repo.bulk_insert(team_members, new_members)
    tally.imported = len(new_volunteers)
    if new_volunteers:
        ctx.uow.emit(
            "volunteer_registered",
            volunteer_ids=[row["id"] for row in new_volunteers],
            import_id=import_id,
            actor_id=actor_id,
        )
    tally.errors.sort(key=lambda error: error["line"])
    return tally.as_dict()


def import_progress(ctx: Context, import_id: str) -> dict[str, Any]:
    """How far an import has come, polled while its file goes in (or after it stopped): the
    volunteers it wrote and the last line among them. Whole batches commit, so this moves a
    batch at a time. An import is its importer's: anyone else (but an admin) reads nothing of
    it, as if it had not started."""
    ctx.scope.ensure_roster()
    try:
        import_id = str(uuid.UUID(str(import_id)))
    except ValueError:
        raise InvalidInput("import_id is a UUID", field="import_id", rule="uuid") from None
    own = None if ctx.actor.is_admin else ctx.actor.user_id
    imported, through_line = ctx.repo.import_progress(import_id, own)
    return {"import_id": import_id, "imported": imported, "through_line": through_line}


def _resolve_teams(ctx: Context, refs: set[str]) -> dict[str, Team | dict[str, str]]:
    """Each team named in an import (by id or by name, 简/繁 alike) → the team, or why not."""
    resolved: dict[str, Team | dict[str, str]] = {}
    if not refs:
        return resolved
    ids = {}
    for ref in refs:
        try:
            ids[ref] = str(uuid.UUID(ref))
        except ValueError:
            continue
    by_id = ctx.repo.teams_by_ids(list(ids.values()))
    by_name: dict[str, list[Team]] = {}
    for team in ctx.repo.teams_named(
        [domain.team_search_key(ref) for ref in refs if ref not in ids]
    ):
        by_name.setdefault(team.search_name, []).append(team)
    for ref in refs:
        if ref in ids:
            candidates = [by_id[ids[ref]]] if ids[ref] in by_id else []
        else:
            candidates = by_name.get(domain.team_search_key(ref), [])
        # a team the actor does not run is not there for her, as for any other request
        candidates = [team for team in candidates if ctx.manages(team)]
        if not candidates:
            resolved[ref] = {"rule": "exists", "message": f"no team {ref!r}"}
        elif len(candidates) > 1:
            resolved[ref] = {
                "rule": "ambiguous",
                "message": f"{len(candidates)} teams are called {ref!r}; give the team's id",
            }
        else:
            resolved[ref] = candidates[0]
    return resolved


# --- activities and enrolment ----------------------------------------------------------------


def create_activity(ctx: Context, data: dict[str, Any], at: datetime) -> Activity:
    team = ctx.named_team(data["team_id"])
    if data.get("project_id"):
        ensure_project_available(ctx, str(data["project_id"]), team, at)
    activity = Activity(
        title=data["title"],
        team_id=team.id,
        project_id=data.get("project_id"),
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        place=data.get("place"),
        capacity=data["capacity"],
        description=data.get("description"),
        created_by=ctx.actor.user_id,
        created_at=at,
    )
    ctx.repo.add(activity)
    return activity


def ensure_project_available(ctx: Context, project_id: str, team: Team, at: datetime) -> None:
    """The project an activity names: one the service has heard of (from ``project_published``,
    or — not yet heard of — from the projects service, asked as the actor, so a project
    published a second ago is usable at once), purchased in the line of the actor's
    organization or of the team's host. Unknown is a 422 ``exists``, elsewhere a 422
    ``project_not_available``, both on ``project_id``."""
    purchaser_id = ctx.repo.known_purchaser(project_id)
    if purchaser_id is None:
        answer = ctx.projects(project_id) if ctx.projects is not None else None
        if answer is None:
            raise RuleBroken(
                f"no project {project_id}",
                field="project_id",
                rule="exists",
                code="PROJECT_UNKNOWN",
                project_id=project_id,
            )
        purchaser_id = str(answer["purchaser_id"])
        if answer.get("status") != "draft":  # a draft's purchaser may still change
            ctx.repo.learn_project(project_id, purchaser_id, at)
    lines = [ctx.path_of(team.host_id)]
    if ctx.actor.organization_id:
        lines.append(ctx.path_of(ctx.actor.organization_id))
    domain.ensure_project_available(project_id, ctx.path_of(purchaser_id), lines)


def learn_project(uow: UnitOfWork, event: dict[str, Any]) -> None:
    """``project_published``: the project may be named by activities in its purchaser's line."""
    VolunteersRepository(uow.session).learn_project(  # type: ignore[arg-type]
        str(event["project_id"]), str(event["purchaser_id"]), event["occurred_at"]
    )


def get_activity(ctx: Context, activity_id: str) -> Activity:
    """An activity of a team the actor runs; any other is a 404."""
    ctx.scope.ensure_roster()
    return ctx.managed_activity(activity_id)


def list_activities(ctx: Context, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
    """The activities of the teams the actor runs."""
    ctx.scope.ensure_roster()
    starts_from = filters.get("starts_from")
    starts_before = filters.get("starts_before")
    items = ctx.repo.list_activities(
        request,
        team_ids=ctx.team_scope(),
        team_id=filters.get("team_id"),
        project_id=filters.get("project_id"),
        starts_from=repo_day(starts_from),
        starts_before=repo_day(starts_before),
        q=filters.get("q"),
    )
    return _page_of(items, request)


def repo_day(day: date | None) -> datetime | None:
    from kit.clock import CHINA

    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def _managed_activity(ctx: Context, activity_id: str) -> Activity:
    """The activity, row-locked: everything about its places is decided under this lock."""
    return ctx.managed_activity(activity_id, for_update=True)


def enrol(ctx: Context, activity_id: str, volunteer_id: str, waitlist: bool, at: datetime) -> Any:
    activity = _managed_activity(ctx, activity_id)
    volunteer = ctx.named_volunteer(volunteer_id)
    existing = ctx.repo.enrolment_of(activity.id, volunteer.id)
    if existing is not None and existing.status != "cancelled":
        raise AlreadyEnrolled(activity.id, volunteer.id, existing.id, existing.status)
    if existing is not None:
        activity.reenrol(existing, waitlist=waitlist, actor=ctx.actor, at=at)
        return existing
    enrolment = activity.enrol(volunteer.id, waitlist=waitlist, actor=ctx.actor, at=at)
    ctx.repo.add(enrolment)
    return enrolment


def cancel_enrolment(ctx: Context, enrolment_id: str, at: datetime) -> dict[str, Any]:
    peek = ctx.repo.enrolment(enrolment_id)
    try:
        activity = _managed_activity(ctx, peek.activity_id)
    except ActivityNotFound:
        raise EnrolmentNotFound(enrolment_id) from None
    enrolment = ctx.repo.enrolment(enrolment_id, for_update=True)
    first = ctx.repo.first_waitlisted(activity.id) if enrolment.status == "enrolled" else None
    promoted = activity.cancel(enrolment, first, actor=ctx.actor, at=at)
    return {"enrolment": enrolment, "promoted": promoted}


def list_enrolments(
    ctx: Context, activity_id: str, filters: dict[str, Any], request: PageRequest
) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    activity = ctx.managed_activity(activity_id)
    items = ctx.repo.list_enrolments(activity.id, request, status=filters.get("status"))
    result = _page_of(items, request)
    _name_volunteers(ctx, result["items"])
    return result


def _name_volunteers(ctx: Context, items: list[Any]) -> None:
    """Each enrolment or hours entry of a page with its volunteer's name (those who run a team
    see its members' names on its roster already), read for the page in one query. The name
    rides on the loaded object for the dump; nothing is written."""
    names = ctx.repo.names_of([item.volunteer_id for item in items])
    for item in items:
        item.volunteer_name = names.get(item.volunteer_id)


# --- service hours ---------------------------------------------------------------------------


def log_hours(ctx: Context, data: dict[str, Any], at: datetime) -> ServiceHours:
    activity = ctx.repo.find_activity(data["activity_id"])
    if activity is None or not ctx.manages(ctx.repo.team(activity.team_id)):
        raise RuleBroken(
            f"no activity {data['activity_id']}",
            field="activity_id",
            rule="exists",
            code="ACTIVITY_UNKNOWN",
        )
    # the volunteer's row lock serialises her entries: two overlapping ones logged at once
    # cannot both pass the overlap check
    volunteer = ctx.named_volunteer(data["volunteer_id"], for_update=True)
    started_at = data["started_at"]
    ended_at = data.get("ended_at")
    end_field = "ended_at"
    if ended_at is None:
        end_field = "hours"
        if data.get("hours") is None:
            raise RuleBroken("give ended_at (or hours)", field="ended_at", rule="required")
        ended_at = started_at + timedelta(minutes=domain.minutes_from_hours(data["hours"]))
    domain.duration_minutes(started_at, ended_at)
    enrolment = ctx.repo.enrolment_of(activity.id, volunteer.id)
    entry = domain.log_hours(
        volunteer_id=volunteer.id,
        activity=activity,
        enrolment_status=enrolment.status if enrolment else None,
        others=ctx.repo.hours_overlapping(volunteer.id, started_at, ended_at),
        started_at=started_at,
        ended_at=ended_at,
        actor=ctx.actor,
        at=at,
        note=data.get("note"),
        end_field=end_field,
    )
    ctx.repo.add(entry)
    return entry


def decide_hours(
    ctx: Context, entry_id: str, verify: bool, reason: str | None, at: datetime
) -> ServiceHours:
    peek = ctx.repo.hours(entry_id)
    volunteer = ctx.repo.volunteer(peek.volunteer_id, for_update=True)
    entry = ctx.repo.hours(entry_id, for_update=True)
    team = ctx.repo.team(entry.team_id)
    if not _sees_hours(ctx, team, volunteer):
        raise HoursNotFound(entry.id)
    domain.ensure_may_decide(
        entry,
        actor=ctx.actor,
        scope=ctx.scope,
        team=team,
        host_path=ctx.path_of(team.host_id),
        volunteer_user_id=volunteer.user_id,
    )
    if verify:
        entry.verify(ctx.actor, at)
    else:
        entry.reject(reason, ctx.actor, at)
    return entry


def _sees_hours(ctx: Context, team: Team, volunteer: Volunteer) -> bool:
    """Hours are seen by those who run the team, and by the volunteer they are for."""
    if volunteer.user_id is not None and volunteer.user_id == ctx.actor.user_id:
        return True
    return ctx.manages(team)


def get_hours(ctx: Context, entry_id: str) -> ServiceHours:
    entry = ctx.repo.hours(entry_id)
    volunteer = ctx.repo.volunteer(entry.volunteer_id)
    if volunteer.user_id is not None and volunteer.user_id == ctx.actor.user_id:
        return entry
    ctx.scope.ensure_roster()
    if not _sees_hours(ctx, ctx.repo.team(entry.team_id), volunteer):
        raise HoursNotFound(entry.id)
    return entry


def list_hours(ctx: Context, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    items = ctx.repo.list_hours(
        request,
        status=filters.get("status"),
        volunteer_id=filters.get("volunteer_id"),
        activity_id=filters.get("activity_id"),
        team_id=filters.get("team_id"),
        project_id=filters.get("project_id"),
        team_ids=ctx.team_scope(),
    )
    result = _page_of(items, request)
    _name_volunteers(ctx, result["items"])
    return result


def statement(ctx: Context, volunteer_id: str) -> dict[str, Any]:
    """A volunteer's own statement of verified hours: every entry and the total."""
    volunteer = visible_volunteer(ctx, volunteer_id)
    entries = ctx.repo.statement(volunteer.id)
    total = sum(entry.minutes for entry in entries)
    return {
        "volunteer_id": volunteer.id,
        "name": volunteer.name,
        "entries": [dict(entry._mapping) for entry in entries],
        "total_minutes": total,
        "total_hours": domain.hours(total),
    }


def report(ctx: Context, filters: dict[str, Any], *, paged: bool) -> dict[str, Any]:
    """Verified hours grouped by volunteer, team, theme, project or month; computed by the
    database. Staff see their subtree's teams, a leader her own teams."""
    if ctx.actor.role not in domain.REPORT_ROLES:
        raise OutOfScope(f"a {ctx.actor.role} does not read hours reports", role=ctx.actor.role)
    group_by = filters["group_by"]
    if group_by == "volunteer":
        ctx.scope.ensure_roster()
    since, until = domain.report_period(filters.get("since"), filters.get("until"))
    limit = filters.get("limit") or REPORT_LIMIT if paged else None
    rows, totals = ctx.repo.report(
        group_by,
        since=since,
        until=until,
        team_ids=ctx.team_scope(),
        limit=limit,
        after=filters.get("after"),
    )
    next_cursor = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].key])
    return {
        "group_by": group_by,
        "since": since,
        "until": until,
        "items": [
            {
                "key": row.key or None,
                "label": row.label or None,
                "entries": row.entries,
                "minutes": int(row.minutes),
                "hours": domain.hours(int(row.minutes)),
            }
            for row in rows
        ],
        "total": {
            "entries": totals.entries,
            "minutes": int(totals.minutes),
            "hours": domain.hours(int(totals.minutes)),
        },
        "next_cursor": next_cursor,
    }


REPORT_LIMIT = 500
