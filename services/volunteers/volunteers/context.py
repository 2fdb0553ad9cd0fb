"""What every volunteers use case is given: the unit of work, the repository, the directory
copy, the actor, the clock and the service's two ports — the keys that open personal data and
the projects service's answer about a project the service has not heard of yet.

The service builds it in one place (``VolunteersService.context``, through ``Context.over``);
unit tests build it over in-memory fakes. The questions several use cases ask (is this team the
actor's to run, which volunteers may she see) are answered here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kit.schedule import SentNotices
from kit.usecase import Clock, SystemClock
from language.actor import Actor
from language.directory import Directory
from volunteers.assessment_repository import AssessmentRepository
from volunteers.domain.activities import Activity
from volunteers.domain.roster import Team, Volunteer
from volunteers.domain.scope import Scope, ids_on_path
from volunteers.exceptions import ActivityNotFound, RuleBroken, TeamNotFound
from volunteers.models import reminders_sent
from volunteers.repository import VolunteersRepository

#: asks the projects service about a project the local copy has not heard of, as the actor:
#: ``{"purchaser_id", "status"}``, or None when there is no such project for her
ProjectLookup = Callable[[str], dict[str, Any] | None]


class PersonalDataKeys(Protocol):
    """The keys that seal, open and hash personal data (``volunteers.crypto.PersonalData``)."""

    current_key_id: str

    def seal(self, plaintext: str, field: str, volunteer_id: str) -> str: ...

    def open(self, envelope: str, field: str, volunteer_id: str) -> str: ...

    def is_current(self, envelope: str | None) -> bool: ...

    def digest(self, field: str, value: str) -> str: ...


class DirectoryCopy(Protocol):
    """The service's copy of the registry's organizations (``language.directory.Directory``)."""

    def get(self, organization_id: str) -> dict[str, Any] | None: ...

    def many(self, ids: list[str]) -> dict[str, dict[str, Any]]: ...


@dataclass
class Context:
    uow: Any
    repo: VolunteersRepository
    directory: DirectoryCopy
    actor: Actor
    clock: Clock
    personal_data: PersonalDataKeys
    projects: ProjectLookup
    #: the annual assessment's figures (``volunteers.assessment_repository``)
    assessments: Any = None
    #: the certificate key (``volunteers.signing.CertificateKey``): signs and verifies
    signer: Any = None
    #: the notices the daily check sent (``kit.schedule.SentNotices``)
    notices: Any = None
    _entries: dict[str, dict[str, Any] | None] = field(default_factory=dict, repr=False)
    _scope: Scope | None = field(default=None, repr=False)

    @classmethod
    def over(
        cls,
        uow: Any,
        actor: Actor,
        personal_data: PersonalDataKeys,
        projects: ProjectLookup,
        clock: Clock | None = None,
        signer: Any = None,
    ) -> Context:
        """The context over a real unit of work: its repository and directory copy."""
        return cls(
            uow=uow,
            repo=VolunteersRepository(uow.session),
            directory=Directory(uow),
            actor=actor,
            clock=clock or SystemClock(),
            personal_data=personal_data,
            projects=projects,
            assessments=AssessmentRepository(uow.session),
            signer=signer,
            notices=SentNotices(uow.session, reminders_sent),
        )

    # --- the directory ----------------------------------------------------------------------

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

    # --- teams and activities the actor runs --------------------------------------------------

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

    # --- volunteers the actor sees ----------------------------------------------------------

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
            line.update(ids_on_path(entry["path"]))
        return sorted(line)

    def visible_volunteers(self, volunteer_ids: Sequence[str]) -> set[str]:
        return self.repo.visible_volunteer_ids(volunteer_ids, self.roster_scope())
