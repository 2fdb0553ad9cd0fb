"""Who may see and change what: an actor's scope, resolved against the directory copy.

Plain Python, like the rest of the domain: the roles that manage and read projects, and the
checks every use case asks before it loads, changes or shows a project or a contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from language.actor import Actor
from projects.exceptions import OutOfScope

if TYPE_CHECKING:
    from projects.domain.contract import Contract
    from projects.domain.project import Project

MANAGERS = ("admin", "federation_staff")
#: roles whose members belong to a federation and read what its subtree purchases: drafts,
#: contracts and milestone reports (finance pays them); neither role manages by this alone
LINE_READERS = ("federation_staff", "finance_officer")


@dataclass(frozen=True)
class Scope:
    """What an actor may touch, resolved against the directory (the copy of the registry).

    ``federation_path`` is the materialised path of the actor's own federation (staff and
    finance officers belong to one).

    Who reads what (deny by default: a role not named here reads published projects only):

    - published projects (and their delivery report and OCDS export): everybody signed in;
    - drafts, contracts and milestone reports: admin; staff and finance officers of the
      purchaser or a federation above it; a contractor its own contracts and their reports;
    - team leaders and ops: none of those (their work is volunteers and operations);
    - tenderers of a tender not yet awarded: admin and the staff who manage the project.
    """

    actor: Actor
    federation_path: str | None = None

    def covers(self, purchaser_path: str | None) -> bool:
        """Whether the actor manages projects whose purchaser has ``purchaser_path``."""
        if self.actor.is_admin:
            return True
        if self.actor.role != "federation_staff" or not self.federation_path:
            return False
        return purchaser_path is not None and purchaser_path.startswith(self.federation_path)

    def oversees(self, purchaser_path: str | None) -> bool:
        """Whether the actor reads the unpublished side of projects whose purchaser has
        ``purchaser_path``: admin, and staff or finance of that federation or one above."""
        if self.actor.is_admin:
            return True
        if self.actor.role not in LINE_READERS or not self.federation_path:
            return False
        return purchaser_path is not None and purchaser_path.startswith(self.federation_path)

    def ensure_manages(self, project: Project, purchaser_path: str | None) -> None:
        if self.actor.role not in MANAGERS:
            raise OutOfScope(f"a {self.actor.role} cannot manage projects", role=self.actor.role)
        if not self.covers(purchaser_path):
            raise OutOfScope(
                "the project belongs to a federation outside yours",
                project_id=project.id,
                purchaser_id=project.purchaser_id,
            )

    def can_read(self, project: Project, purchaser_path: Callable[[], str | None]) -> bool:
        """Anybody reads what was published; admin, and staff and finance of the purchaser's
        line, read its drafts too. ``purchaser_path`` is asked only if needed."""
        if self.actor.is_admin or readable_by_everyone(project.published_at):
            return True
        return self.oversees(purchaser_path())

    def reads_contract(self, contract: Contract, purchaser_path: Callable[[], str | None]) -> bool:
        """A contract (its milestones, payments and reports with their evidence): admin, the
        purchaser's line, and the contractor whose contract it is."""
        if self.actor.is_admin:
            return True
        if self.actor.role == "contractor":
            return contract.contractor_id == self.actor.organization_id
        return self.oversees(purchaser_path())

    def sees_tenderers(self, project: Project, purchaser_path: Callable[[], str | None]) -> bool:
        """Who applied is on the public record once the contract is awarded; before that only
        the staff who manage the project (and admin) know it — bidders must not learn each
        other."""
        return project.contract_id is not None or self.covers(purchaser_path())

    def ensure_may_report(self, contract: Contract, purchaser_path: str | None) -> None:
        """A contract is reported on by its contractor; a self-run contract awarded to the
        purchasing federation itself, by the staff who manage the project (the acceptance is
        then another person's: ``Contract.accept``)."""
        if contract.delivered_by_purchaser:
            if self.actor.role in MANAGERS and self.covers(purchaser_path):
                return
            raise OutOfScope(
                "the purchasing federation's staff report on a contract it runs itself",
                role=self.actor.role,
                contract_id=contract.id,
            )
        if self.actor.role != "contractor":
            raise OutOfScope("only the contractor reports on its milestones", role=self.actor.role)


def readable_by_everyone(published_at: datetime | None) -> bool:
    """Once published, a project is readable by everybody signed in (and stays so: cancelled
    or closed, it remains on the public record) — which is why the gateway may cache it."""
    return published_at is not None
