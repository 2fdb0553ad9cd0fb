"""Who may manage what: an actor's roles and, for federation staff, the subtree of her own
federation in the directory (the copy of the registry); and the lines of that hierarchy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from language.actor import Actor
from volunteers.exceptions import OutOfScope

if TYPE_CHECKING:
    from volunteers.domain.roster import Team

#: manage teams within their scope (admins everywhere, staff in their federation's subtree)
MANAGERS = ("admin", "federation_staff")
#: may see volunteers' (masked) personal data; contractors, finance and ops may not
ROSTER_ROLES = ("admin", "federation_staff", "team_leader")
#: may read aggregate hours reports (no personal data unless grouped by volunteer)
REPORT_ROLES = ("admin", "federation_staff", "team_leader", "finance_officer", "ops")


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
