"""Projects use cases: plain functions of a unit of work, a command and the actor.

Each loads what it needs (locking the rows it changes), asks the domain, and leaves the
changes in the session; the caller commits the unit of work — state and outbox rows together.
Who-is-who questions (is this provider verified, is this federation in the actor's subtree)
are answered by the service's own directory, kept from registry events.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from kit.actor import Actor
from kit.db import UnitOfWork
from kit.directory import ACTIVE_STATUSES, Directory
from kit.paging import PageRequest, fetched_page, page
from projects import domain, sources
from projects.domain import Contract, Milestone, Project, Scope
from projects.exceptions import (
    ApplicationNotFound,
    ContractNotFound,
    DuplicateApplication,
    FileNotFound,
    MilestoneNotFound,
    OutOfScope,
    ProjectNotFound,
    RuleBroken,
)
from projects.repository import ProjectRepository


class Context:
    """What every use case needs: the repository, the directory and the actor's scope.

    Directory rows are remembered for the unit of work (an acceptance asks for the city
    three times), and read in the statement that loads the project, contract or applications
    they belong to (a round trip to the database costs as much CPU as the rest of a short
    statement); the actor's scope is resolved only when a use case asks for it.
    """

    def __init__(
        self, uow: UnitOfWork, actor: Actor, ask_funding: sources.AskFunding | None = None
    ) -> None:
        self.uow = uow
        self.ask_funding = ask_funding
        self.repo = ProjectRepository(uow.session)  # type: ignore[arg-type]
        self.directory = Directory(uow)
        self.actor = actor
        self._entries: dict[str, dict[str, Any] | None] = {}
        self._scope: Scope | None = None

    def entry(self, organization_id: str) -> dict[str, Any] | None:
        if organization_id not in self._entries:
            self._entries[organization_id] = self.directory.get(organization_id)
        return self._entries[organization_id]

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            own_path = None
            if self.actor.role in domain.LINE_READERS and self.actor.organization_id:
                own = self.entry(self.actor.organization_id)
                own_path = own["path"] if own else None
            self._scope = Scope(self.actor, own_path)
        return self._scope

    def path_of(self, organization_id: str) -> str | None:
        entry = self.entry(organization_id)
        return entry["path"] if entry else None

    def ensure_source_available(self, source_id: str, purchaser_id: str) -> None:
        """422 ``source_not_available`` unless the source is the purchaser's or a federation's
        above it (a source this copy has not heard of yet is asked of funding first)."""
        owner_id = sources.owner_of(self.uow, str(source_id), self.ask_funding)
        domain.ensure_source_available(source_id, owner_id, self.path_of(purchaser_id))

    # --- loading with checks ---------------------------------------------------------------

    def _remember(self, organization_id: str, entry: dict[str, Any] | None) -> None:
        """A directory entry read with an aggregate, kept for the rest of the unit of work."""
        self._entries.setdefault(organization_id, entry)

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

    def managed_project_and_contract(self, project_id: str) -> tuple[Project, Contract | None]:
        """Both locked, contract first (the order every use case and handler keeps)."""
        peek = self.readable_project(project_id)
        contract = (
            self.repo.contract(peek.contract_id, for_update=True) if peek.contract_id else None
        )
        return self.managed_project(project_id), contract

    def managed_project(self, project_id: str) -> Project:
        project = self.readable_project(project_id, for_update=True)
        self.scope.ensure_manages(project, self.path_of(project.purchaser_id))
        return project

    def visible_contract(self, contract_id: str, *, for_update: bool = False) -> Contract:
        """The contract, if the actor reads it (``Scope.reads_contract``): any other is, to
        them, not there — another federation's answers exactly like a missing one."""
        contract, purchaser = self.repo.contract_and_purchaser(contract_id, for_update=for_update)
        self._remember(contract.purchaser_id, purchaser)
        if not self.scope.reads_contract(contract, lambda: self.path_of(contract.purchaser_id)):
            raise ContractNotFound(contract.id)
        return contract

    def applications(self, project_id: str) -> list[Any]:
        """The project's applications; their providers' directory entries are remembered."""
        pairs = self.repo.applications_and_providers(project_id)
        for application, provider in pairs:
            self._remember(application.provider_id, provider)
        return [application for application, _ in pairs]


def _milestone(contract: Contract, milestone_id: str) -> Milestone:
    milestone = contract.milestone(milestone_id)
    if milestone is None:
        raise MilestoneNotFound(contract.id, str(milestone_id))
    return milestone


# --- projects ---------------------------------------------------------------------------------


def draft_project(ctx: Context, data: dict[str, Any], at: datetime) -> Project:
    purchaser_id = data.get("purchaser_id") or ctx.actor.organization_id
    if purchaser_id is None:
        raise RuleBroken("name the purchasing federation", field="purchaser_id", rule="required")
    purchaser = ctx.entry(purchaser_id)
    if purchaser is None or purchaser.get("kind") != "federation":
        raise RuleBroken(
            "the purchaser must be a federation known to the registry",
            field="purchaser_id",
            rule="federation",
            purchaser_id=purchaser_id,
        )
    if purchaser.get("status") not in ACTIVE_STATUSES:
        raise RuleBroken(
            f"the purchasing federation is {purchaser.get('status')}",
            field="purchaser_id",
            rule="active",
        )
    if ctx.actor.role not in domain.MANAGERS or not ctx.scope.covers(purchaser["path"]):
        raise OutOfScope(
            "you draft projects for your own federation and those under it", field="purchaser_id"
        )
    ctx.ensure_source_available(data["funding_source_id"], purchaser_id)
    project = Project(
        title=data["title"],
        category=data["category"],
        model=data["model"],
        purchaser_id=purchaser_id,
        funding_source_id=data["funding_source_id"],
        budget=data["budget"],
        starts_on=data["starts_on"],
        ends_on=data["ends_on"],
        target_beneficiaries=data.get("target_beneficiaries", 0),
        indicators=data.get("indicators") or [],
        description=data.get("description"),
        created_by=ctx.actor.user_id,
        created_at=at,
    )
    ctx.repo.add(project)
    return project


def edit_project(ctx: Context, project_id: str, changes: dict[str, Any], at: datetime) -> Project:
    project = ctx.managed_project(project_id)
    project.edit(changes, at)
    if "funding_source_id" in changes:  # refused: the unit of work is not committed
        ctx.ensure_source_available(changes["funding_source_id"], project.purchaser_id)
    return project


def publish_project(ctx: Context, project_id: str, at: datetime) -> Project:
    project = ctx.managed_project(project_id)
    project.publish(ctx.actor, at)
    return project


def cancel_project(ctx: Context, project_id: str, reason: str | None, at: datetime) -> Project:
    project = ctx.managed_project(project_id)
    contract = (
        ctx.repo.contract(project.contract_id, for_update=True) if project.contract_id else None
    )
    project.cancel(reason, ctx.actor, at, contract)
    return project


def get_project(ctx: Context, project_id: str) -> Any:
    """The project as a row (reads need no ORM instance), if the actor may see it."""
    project = ctx.repo.project_view(project_id)
    if not ctx.scope.can_read(project, lambda: ctx.path_of(project.purchaser_id)):
        raise ProjectNotFound(project.id)
    return project


def list_projects(ctx: Context, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
    """Admin lists everything; everybody else what has been published, and staff and finance
    also their own subtree's drafts (``Scope.can_read``)."""
    within_path = None
    published = False
    if not ctx.actor.is_admin:
        published = True
        if ctx.actor.role in domain.LINE_READERS and ctx.scope.federation_path:
            within_path = ctx.scope.federation_path
    fetched = ctx.repo.list_projects(
        request,
        status=filters.get("status"),
        category=filters.get("category"),
        purchaser_id=filters.get("purchaser_id"),
        contractor_id=filters.get("contractor_id"),
        q=filters.get("q"),
        within_path=within_path,
        visible_to_all_from=published,
    )
    return fetched_page(fetched, request)


# --- applications -------------------------------------------------------------------------


def submit_application(ctx: Context, project_id: str, data: dict[str, Any], at: datetime) -> Any:
    provider_id = data["provider_id"]
    project = ctx.readable_project(project_id, for_update=True, entry_of=provider_id)
    existing = ctx.repo.application_of(project.id, provider_id)
    application = domain.apply_for(
        project,
        provider_id=provider_id,
        provider=ctx.entry(provider_id),
        amount=data["amount"],
        proposal=data["proposal"],
        actor=ctx.actor,
        at=at,
    )
    if existing is not None:
        raise DuplicateApplication(project.id, provider_id, existing.id)
    ctx.repo.add(application)
    return application


def list_applications(ctx: Context, project_id: str) -> list[Any]:
    project = ctx.readable_project(project_id)
    if ctx.actor.role == "contractor":
        return ctx.repo.applications(project.id, provider_id=ctx.actor.organization_id or "-")
    ctx.scope.ensure_manages(project, ctx.path_of(project.purchaser_id))
    return ctx.repo.applications(project.id)


# --- the award ------------------------------------------------------------------------------


def award_contract(ctx: Context, project_id: str, data: dict[str, Any], at: datetime) -> Contract:
    project = ctx.managed_project(project_id)
    applications = ctx.applications(project.id)
    application = None
    if data.get("application_id"):
        application = next((a for a in applications if a.id == data["application_id"]), None)
        if application is None:
            raise ApplicationNotFound(data["application_id"])
    contractor_id = application.provider_id if application else data.get("contractor_id")
    if contractor_id is None:
        raise RuleBroken(
            "name the application (commissioned) or the contractor (self-run)",
            field="application_id",
            rule="required",
        )
    contract = domain.award(
        project,
        application=application,
        contractor_id=contractor_id,
        contractor=ctx.entry(contractor_id),
        amount=data.get("amount"),
        milestones=data["milestones"],
        applications=applications,
        actor=ctx.actor,
        at=at,
    )
    # the source is checked again at the award (refused: the unit of work is not committed)
    ctx.ensure_source_available(project.funding_source_id, project.purchaser_id)
    ctx.repo.add(contract)
    return contract


# --- contracts and milestones -----------------------------------------------------------


def get_contract(ctx: Context, contract_id: str) -> Contract:
    return ctx.visible_contract(contract_id)


def list_contracts(ctx: Context, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
    """The contracts the actor reads (``Scope.reads_contract``); for anybody else, none."""
    contractor_id = filters.get("contractor_id")
    within_path = None
    if ctx.actor.is_admin:
        pass
    elif ctx.actor.role == "contractor":
        contractor_id = ctx.actor.organization_id or "-"
    elif ctx.actor.role in domain.LINE_READERS and ctx.scope.federation_path:
        within_path = ctx.scope.federation_path
    else:
        return page([], request, total=0)
    fetched = ctx.repo.list_contracts(
        request,
        project_id=filters.get("project_id"),
        contractor_id=contractor_id,
        status=filters.get("status"),
        within_path=within_path,
    )
    return fetched_page(fetched, request)


def report_milestone(
    ctx: Context, contract_id: str, milestone_id: str, data: dict[str, Any], at: datetime
) -> Any:
    contract = ctx.visible_contract(contract_id, for_update=True)
    ctx.scope.ensure_may_report(contract, ctx.path_of(contract.purchaser_id))
    milestone = _milestone(contract, milestone_id)
    evidence, file_ids = _evidence(ctx, data.get("evidence") or [])
    report = contract.report(
        milestone,
        summary=data["summary"],
        beneficiaries_served=data["beneficiaries_served"],
        evidence=evidence,
        indicator_values=data.get("indicator_values") or {},
        actor=ctx.actor,
        at=at,
    )
    ctx.repo.add(report)
    ctx.repo.reference_files(report.id, contract.id, file_ids)
    return report


def _evidence(ctx: Context, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The report's evidence with each uploaded file's sha256 filled in from the file, and the
    files it references. Only files the reporter uploaded may be referenced: any other (or one
    that does not exist) is refused alike, naming the field."""
    evidence: list[dict[str, Any]] = []
    file_ids: list[str] = []
    for index, item in enumerate(items):
        file_id = item.get("file_id")
        if file_id is None:
            evidence.append(item)
            continue
        stored = ctx.repo.file(file_id)
        if stored is None or stored["uploaded_by"] != ctx.actor.user_id:
            raise RuleBroken(
                f"no file {file_id} uploaded by you",
                field=f"evidence[{index}].file_id",
                rule="file_not_available",
                file_id=file_id,
            )
        if item.get("sha256") and item["sha256"] != stored["sha256"]:
            raise RuleBroken(
                "the sha256 given is not the uploaded file's",
                field=f"evidence[{index}].sha256",
                rule="sha256_mismatch",
            )
        evidence.append({**item, "sha256": stored["sha256"], "file_id": file_id})
        if file_id not in file_ids:
            file_ids.append(file_id)
    return evidence, file_ids


# --- evidence files -----------------------------------------------------------------------


def register_file(ctx: Context, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The gateway stored a file's bytes in the blob store: remember who uploaded it."""
    record = {
        "id": str(uuid.uuid4()),
        "sha256": data["sha256"],
        "size": data["size"],
        "content_type": data["content_type"],
        "name": data["name"],
        "uploaded_by": ctx.actor.user_id,
        "organization_id": ctx.actor.organization_id,
        "uploaded_at": at,
    }
    ctx.repo.add_file(**record)
    return record


def readable_file(ctx: Context, file_id: str) -> dict[str, Any]:
    """The file, if the actor uploaded it or may see a contract one of whose reports
    references it; anyone else is told there is no such file (as for a missing one)."""
    stored = ctx.repo.file(file_id)
    if stored is None:
        raise FileNotFound(file_id)
    if stored["uploaded_by"] == ctx.actor.user_id:
        return stored
    for contract_id in ctx.repo.contracts_referencing(file_id):
        try:
            ctx.visible_contract(contract_id)
        except (ContractNotFound, OutOfScope):
            continue
        return stored
    raise FileNotFound(file_id)


def decide_milestone(
    ctx: Context,
    contract_id: str,
    milestone_id: str,
    accept: bool,
    reason: str | None,
    at: datetime,
) -> Contract:
    contract = ctx.visible_contract(contract_id, for_update=True)
    project = ctx.managed_project(contract.project_id)
    milestone = _milestone(contract, milestone_id)
    report = ctx.repo.pending_report(milestone.id)
    if report is None:
        action = "accept" if accept else "reject"
        raise domain.InvalidTransition(
            "milestone", action, milestone.status, milestone_id=milestone.id
        )
    if accept:
        contract.accept(milestone, report, project, ctx.actor, at)
        if all(m.status == "accepted" for m in contract.milestones):
            contract.complete(at)
    else:
        contract.reject(milestone, report, reason, ctx.actor, at)
    return contract


def milestone_reports(ctx: Context, contract_id: str, milestone_id: str) -> list[Any]:
    contract = ctx.visible_contract(contract_id)
    return ctx.repo.reports(_milestone(contract, milestone_id).id)


def contract_briefs(ctx: Context, contract_ids: list[str]) -> list[dict[str, Any]]:
    """For finance screens that list money by contract (the approval queue, the per-contract
    summary): each contract the actor reads, with its project's title and each milestone's
    latest report (what the contractor said it delivered). Contracts the actor may not read
    are left out, exactly like missing ones."""
    briefs = []
    for contract_id in dict.fromkeys(str(c) for c in contract_ids):
        try:
            contract = ctx.visible_contract(contract_id)
        except ContractNotFound:
            continue
        project = ctx.repo.project(contract.project_id)
        briefs.append(
            domain.contract_brief(
                contract, project, {m.id: ctx.repo.reports(m.id) for m in contract.milestones}
            )
        )
    return briefs


# --- evaluation, close, delivery -----------------------------------------------------------


def evaluate_project(ctx: Context, project_id: str, data: dict[str, Any], at: datetime) -> Project:
    project = ctx.managed_project(project_id)
    project.evaluate(data, ctx.actor, at)
    return project


def close_project(ctx: Context, project_id: str, at: datetime) -> Project:
    project = ctx.managed_project(project_id)
    contract = (
        ctx.repo.contract(project.contract_id, for_update=True) if project.contract_id else None
    )
    project.close(ctx.actor, at, contract)
    return project


def delivery(ctx: Context, project_id: str, today: date) -> dict[str, Any]:
    project = ctx.readable_project(project_id)
    return domain.delivery_report(project, ctx.repo.contract_of(project), today)


def contracting_process(
    ctx: Context, project_id: str
) -> tuple[Project, Contract | None, list[Any] | None, dict]:
    """Everything the OCDS export needs, with the parties' names and USCCs. Before the award
    the applications are left out for those who may not know the bidders (``None``: the
    export then names no tenderers at all, not even how many)."""
    project = ctx.readable_project(project_id)
    contract = ctx.repo.contract_of(project)
    applications: list[Any] | None = []
    if not ctx.scope.sees_tenderers(project, lambda: ctx.path_of(project.purchaser_id)):
        applications = None
    elif project.status != "draft":
        applications = ctx.repo.applications(project.id)
    ids = [project.purchaser_id] + [a.provider_id for a in applications or []]
    if contract is not None:
        ids.append(contract.contractor_id)
    return project, contract, applications, ctx.directory.many(ids)


# --- facts from other services ------------------------------------------------------------


def contractor_standing(
    uow: UnitOfWork, event: dict[str, Any], suspended: bool, at: datetime
) -> int:
    """The registry suspended (or reinstated) an organization: its active contracts stop
    taking reports and acceptances (or start again). Returns how many contracts changed."""
    repo = ProjectRepository(uow.session)  # type: ignore[arg-type]
    contracts = repo.contracts_of(str(event["organization_id"]), ("active", "suspended"))
    return sum(
        contract.contractor_standing_changed(suspended, event["version"], at)
        for contract in contracts
    )


def contractor_deregistered(uow: UnitOfWork, event: dict[str, Any], at: datetime) -> int:
    """The registry deregistered an organization: its live contracts end (``terminated``).
    Returns how many contracts changed."""
    repo = ProjectRepository(uow.session)  # type: ignore[arg-type]
    contracts = repo.contracts_of(str(event["organization_id"]), ("active", "suspended"))
    return sum(
        contract.contractor_deregistered(event["kind"], event["version"], at)
        for contract in contracts
    )


def _locked_contract(repo: ProjectRepository, contract_id: str) -> Contract | None:
    """The contract, row-locked before its milestones are read: two money facts about one
    contract applied at once would otherwise each start from the milestones as they were and
    the later commit would undo the earlier one's figures. Lock order everywhere: contract,
    then project."""
    try:
        return repo.contract(contract_id, for_update=True)
    except ContractNotFound:
        return None


def commitment(uow: UnitOfWork, event: dict[str, Any], committed: bool) -> bool:
    repo = ProjectRepository(uow.session)  # type: ignore[arg-type]
    contract = _locked_contract(repo, str(event["contract_id"]))
    if contract is None:
        return False
    domain.commitment_decided(
        contract, repo.project(contract.project_id, for_update=True), committed, event
    )
    return True


def payment(uow: UnitOfWork, event_type: str, event: dict[str, Any]) -> bool:
    repo = ProjectRepository(uow.session)  # type: ignore[arg-type]
    contract = _locked_contract(repo, str(event["contract_id"]))
    if contract is None:
        return False
    milestone = contract.milestone(str(event["milestone_id"]))
    if milestone is None:
        return False
    project = repo.project(contract.project_id, for_update=True)
    return domain.payment_progressed(contract, milestone, project, event_type, event)


def volunteer_hours(uow: UnitOfWork, event: dict[str, Any]) -> bool:
    if not event.get("project_id"):
        return False
    repo = ProjectRepository(uow.session)  # type: ignore[arg-type]
    try:
        project = repo.project(str(event["project_id"]), for_update=True)
    except ProjectNotFound:
        return False
    project.add_volunteer_minutes(event["minutes"])
    return True


def funding_source_created(uow: UnitOfWork, event: dict[str, Any]) -> None:
    """Funding created a source: keep whose it is."""
    sources.remember(uow, event)
