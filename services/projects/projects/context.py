"""What every projects use case is given: the unit of work, the repositories, the directory
copy, the actor, the clock and the one question projects asks outside (funding, about a
source it has not heard of) — and the checks several use cases share: the actor's scope, and
loading a project or a contract only for those who may see it.

The service builds it in one place (``ProjectsService.context``); unit tests build it over
in-memory fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kit.usecase import Clock
from language.actor import Actor
from projects.domain.application import Application
from projects.domain.contract import Contract, Milestone
from projects.domain.project import Project, ensure_source_available
from projects.domain.scope import LINE_READERS, Scope
from projects.exceptions import ContractNotFound, MilestoneNotFound, ProjectNotFound
from projects.public_record import PublicRecord
from projects.repository import ProjectRepository
from projects.sources import AskFunding, FundingSources


@dataclass
class Context:
    """Directory rows are remembered for the unit of work (an acceptance asks for the city
    three times), and read in the statement that loads the project, contract or applications
    they belong to (a round trip to the database costs as much CPU as the rest of a short
    statement); the actor's scope is resolved only when a use case asks for it.
    """

    uow: Any
    repo: ProjectRepository
    sources: FundingSources
    #: the organization directory copy (``language.directory.Directory``): ``get`` and ``many``
    directory: Any
    actor: Actor
    clock: Clock
    #: asks funding about a source the copy has not heard of (None: nobody to ask)
    ask_funding: AskFunding | None = None
    #: the annual assessment's figures (``projects.assessment_repository``)
    assessments: Any = None
    #: the notices the daily checks sent (``kit.schedule.SentNotices``)
    notices: Any = None
    _entries: dict[str, dict[str, Any] | None] = field(default_factory=dict, repr=False)
    _scope: Scope | None = field(default=None, repr=False)

    # --- the directory and the actor's scope -------------------------------------------------

    def entry(self, organization_id: str) -> dict[str, Any] | None:
        if organization_id not in self._entries:
            self._entries[organization_id] = self.directory.get(organization_id)
        return self._entries[organization_id]

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            own_path = None
            if self.actor.role in LINE_READERS and self.actor.organization_id:
                own = self.entry(self.actor.organization_id)
                own_path = own["path"] if own else None
            self._scope = Scope(self.actor, own_path)
        return self._scope

    def path_of(self, organization_id: str) -> str | None:
        entry = self.entry(organization_id)
        return entry["path"] if entry else None

    def _remember(self, organization_id: str, entry: dict[str, Any] | None) -> None:
        """A directory entry read with an aggregate, kept for the rest of the unit of work."""
        self._entries.setdefault(organization_id, entry)

    # --- funding sources ---------------------------------------------------------------------

    def source_owner(self, source_id: str) -> str | None:
        """The owner of the source: from the copy, else from funding (then kept); None if
        funding has no such source (or nobody can ask)."""
        owner_id = self.sources.owner(source_id)
        if owner_id is not None or self.ask_funding is None:
            return owner_id
        facts = self.ask_funding(source_id)
        if not facts:
            return None
        owner_id = str(facts["owner_id"])
        self.sources.remember(
            str(facts["funding_source_id"]), owner_id, int(facts["version"]), self.clock.now()
        )
        return owner_id

    def ensure_source_available(self, source_id: str, purchaser_id: str) -> None:
        """422 ``source_not_available`` unless the source is the purchaser's or a federation's
        above it (a source this copy has not heard of yet is asked of funding first)."""
        owner_id = self.source_owner(str(source_id))
        ensure_source_available(source_id, owner_id, self.path_of(purchaser_id))

    # --- loading with checks -----------------------------------------------------------------

    def readable_project(
        self, project_id: str, *, for_update: bool = False, entry_of: str | None = None
    ) -> Project:
        """The project, if the actor may see it. The purchaser's directory entry (or
        ``entry_of``'s, when the use case will ask for that one) comes in the same statement."""
        project, entry = self.repo.project_and_entry(project_id, entry_of, for_update=for_update)
        self._remember(entry_of or project.purchaser_id, entry)
        if not self.scope.can_read(project, lambda: self.path_of(project.purchaser_id)):
            raise ProjectNotFound(project.id)  # never reveal a draft to those who may not see it
        return project

    def managed_project(self, project_id: str) -> Project:
        project = self.readable_project(project_id, for_update=True)
        self.scope.ensure_manages(project, self.path_of(project.purchaser_id))
        return project

    def locked_contract_of(self, project: Project) -> Contract | None:
        """The project's contract (if awarded), row-locked with its milestones."""
        if not project.contract_id:
            return None
        return self.repo.contract(project.contract_id, for_update=True)

    def visible_contract(self, contract_id: str, *, for_update: bool = False) -> Contract:
        """The contract, if the actor reads it (``Scope.reads_contract``): any other is, to
        them, not there — another federation's answers exactly like a missing one."""
        contract, purchaser = self.repo.contract_and_purchaser(contract_id, for_update=for_update)
        self._remember(contract.purchaser_id, purchaser)
        if not self.scope.reads_contract(contract, lambda: self.path_of(contract.purchaser_id)):
            raise ContractNotFound(contract.id)
        return contract

    def applications(self, project_id: str) -> list[Application]:
        """The project's applications; their providers' directory entries are remembered."""
        pairs = self.repo.applications_and_providers(project_id)
        for application, provider in pairs:
            self._remember(application.provider_id, provider)
        return [application for application, _ in pairs]


def milestone_of(contract: Contract, milestone_id: str) -> Milestone:
    """The contract's milestone, or MILESTONE_NOT_FOUND."""
    milestone = contract.milestone(milestone_id)
    if milestone is None:
        raise MilestoneNotFound(contract.id, str(milestone_id))
    return milestone


@dataclass
class PublicContext:
    """What a public (no login) use case is given: the public record, the clock and how the
    OCDS export names its publisher — and no actor, no repository of the whole service, no
    directory with contacts: a use case run with it can only read what ``PublicRecord``
    selects, which is published projects' public fields."""

    record: PublicRecord
    clock: Clock
    ocid_prefix: str = "ocds-jinguo"
    publisher_name: str = "Jinguo"
