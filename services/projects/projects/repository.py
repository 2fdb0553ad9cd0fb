"""SQL for projects: loading and saving projects, applications, contracts and reports."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, contains_eager

from kit.paging import Fetched, PageRequest, fetch_page, ordering
from kit.text import search_key
from language.directory import organizations as directory
from projects.domain.application import Application
from projects.domain.contract import CONTRACT_STATUSES, Contract, Milestone, MilestoneReport
from projects.domain.project import PROJECT_STATUSES, Project
from projects.domain.workbench import RUNNING, MilestoneFilters
from projects.exceptions import ContractNotFound, ProjectNotFound
from projects.models import (
    applications,
    contracts,
    files,
    milestone_reports,
    milestones,
    projects,
    report_files,
    start_mappers,
)

#: the orders a person may list projects and contracts in (``sort=budget``, ``sort=-budget``)
PROJECT_ORDER = ordering(projects, "-created_at", "title", "budget", "created_at", "starts_on")
CONTRACT_ORDER = ordering(contracts, "-awarded_at", "amount", "awarded_at")
#: the milestone list: by due date (the next first) or by when it was reported (oldest first)
MILESTONE_ORDER = ordering(
    milestones, "due_on", "due_on", "reported_at", "paid_at", nullable=("reported_at", "paid_at")
)
#: a milestone row of the list: the milestone, its contract's parties and state, the title
_MILESTONE_ROW = [
    *milestones.c,
    contracts.c.project_id,
    contracts.c.purchaser_id,
    contracts.c.contractor_id,
    contracts.c.status.label("contract_status"),
    projects.c.title.label("project_title"),
]

_PROJECT_BY_ID = sa.select(projects).where(projects.c.id == sa.bindparam("id"))
#: a directory entry read alongside an aggregate (labelled: its names clash with the entity's)
_ENTRY = [column.label(f"entry_{column.name}") for column in directory.c]


def _entry(row: Any) -> dict[str, Any] | None:
    """The directory entry of a row that ends with the ``_ENTRY`` columns, as Directory.get
    gives it (None when the join found no organization)."""
    values = tuple(row)[-len(_ENTRY) :]
    if values[0] is None:
        return None
    return {column.name: value for column, value in zip(directory.c, values, strict=True)}


# The statements of the write path, built once (on first use: the classes must be mapped):
# building a statement and its cache key costs more than running it on SQLite.


@cache
def _locked_project() -> Any:
    return (
        sa.select(Project)
        .where(projects.c.id == sa.bindparam("project_id"))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


@cache
def _project_and_entry(for_update: bool, of_purchaser: bool) -> Any:
    organization = projects.c.purchaser_id if of_purchaser else sa.bindparam("organization_id")
    query = (
        sa.select(Project, *_ENTRY)
        .outerjoin(directory, directory.c.id == organization)
        .where(projects.c.id == sa.bindparam("project_id"))
    )
    if for_update:
        query = query.with_for_update(of=projects).execution_options(populate_existing=True)
    return query


@cache
def _contract(for_update: bool, with_purchaser: bool) -> Any:
    """The contract joined to its milestones (and to its purchaser's directory entry).

    Locking, it locks the milestones' rows with the contract's. A statement that waits for a
    lock sees the locked rows as the transaction it waited for left them, but every other row
    it reads as it was before the wait (PostgreSQL rechecks only the rows it locks): milestones
    read unlocked in the same statement could be stale — a second report on a milestone would
    find it still pending. Every writer of milestones holds the contract's lock first, so
    taking theirs in the same statement orders nobody differently.
    """
    entity = [Contract, *_ENTRY] if with_purchaser else [Contract]
    query = (
        sa.select(*entity)
        .join(Contract.milestones)
        .options(contains_eager(Contract.milestones))
        .where(contracts.c.id == sa.bindparam("contract_id"))
        .order_by(milestones.c.seq)
    )
    if with_purchaser:
        query = query.outerjoin(directory, directory.c.id == contracts.c.purchaser_id)
    if for_update:
        query = query.with_for_update(of=[contracts, milestones]).execution_options(
            populate_existing=True
        )
    return query


@cache
def _applications_and_providers() -> Any:
    return (
        sa.select(Application, *_ENTRY)
        .outerjoin(directory, directory.c.id == applications.c.provider_id)
        .where(applications.c.project_id == sa.bindparam("project_id"))
        .order_by(applications.c.submitted_at)
    )


@cache
def _application_of() -> Any:
    return (
        sa.select(Application)
        .where(applications.c.project_id == sa.bindparam("project_id"))
        .where(applications.c.provider_id == sa.bindparam("provider_id"))
    )


@cache
def _pending_report() -> Any:
    return (
        sa.select(MilestoneReport)
        .where(milestone_reports.c.milestone_id == sa.bindparam("milestone_id"))
        .where(milestone_reports.c.decision == "pending")
    )


def _subtree(path: str) -> Any:
    """The ids of the organizations in the subtree at ``path`` (the directory copy)."""
    return sa.select(directory.c.id).where(directory.c.path.like(path + "%"))


def _aware(moment: Any) -> Any:
    """An aggregate's datetime (SQLite's MIN gives it without its zone): aware UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


_MILESTONE_JOIN = milestones.join(contracts, contracts.c.id == milestones.c.contract_id).join(
    projects, projects.c.id == contracts.c.project_id
)


def _milestones_where(query: Any, filters: MilestoneFilters) -> Any:
    """The WHERE of the milestone list and of its figures (one rule for both)."""
    statuses = filters.statuses
    if statuses is not None:
        query = query.where(milestones.c.status.in_(statuses))
    if filters.due_before is not None:
        query = query.where(milestones.c.due_on < filters.due_before)
    if filters.running is not None:
        running = contracts.c.status.in_(RUNNING)
        query = query.where(running if filters.running else ~running)
    if filters.payment_status:
        query = query.where(milestones.c.payment_status == filters.payment_status)
    if filters.contract_id:
        query = query.where(milestones.c.contract_id == str(filters.contract_id))
    if filters.contractor_id is not None:
        query = query.where(contracts.c.contractor_id == str(filters.contractor_id))
    if filters.within_path is not None:
        query = query.where(contracts.c.purchaser_id.in_(_subtree(filters.within_path)))
    return query


class ProjectRepository:
    def __init__(self, session: Session) -> None:
        start_mappers()
        self.session = session

    # --- projects ---------------------------------------------------------------------------

    def project(self, project_id: str, *, for_update: bool = False) -> Project:
        if for_update:
            project = self.session.execute(
                _locked_project(), {"project_id": str(project_id)}
            ).scalar()
        else:
            project = self.session.get(Project, str(project_id))
        if project is None:
            raise ProjectNotFound(str(project_id))
        return project

    def project_and_entry(
        self, project_id: str, organization_id: str | None = None, *, for_update: bool = False
    ) -> tuple[Project, dict[str, Any] | None]:
        """The project and a directory entry — ``organization_id``'s, or else the purchaser's —
        in one statement. ``for_update`` locks the project's row only."""
        query = _project_and_entry(for_update, of_purchaser=not organization_id)
        parameters = {"project_id": str(project_id)}
        if organization_id:
            parameters["organization_id"] = str(organization_id)
        row = self.session.execute(query, parameters).first()
        if row is None:
            raise ProjectNotFound(str(project_id))
        return row[0], _entry(row)

    def project_view(self, project_id: str) -> Any:
        """The project's row, read with Core (no ORM instance): the hot read path."""
        row = self.session.execute(_PROJECT_BY_ID, {"id": str(project_id)}).first()
        if row is None:
            raise ProjectNotFound(str(project_id))
        return row

    def add(self, *entities: Any) -> None:
        self.session.add_all(entities)

    def list_projects(
        self,
        page: PageRequest,
        *,
        status: str | None = None,
        category: str | None = None,
        purchaser_id: str | None = None,
        contractor_id: str | None = None,
        q: str | None = None,
        within_path: str | None = None,
        visible_to_all_from: bool = False,
        purchaser_within: str | None = None,
    ) -> Fetched:
        """In the request's order, with the total. ``within_path`` keeps projects whose
        purchaser is in that subtree; ``visible_to_all_from`` adds every project that has been
        published; ``purchaser_within`` (a filter the reader chose) keeps only the projects
        purchased in that subtree."""
        table = projects
        query = sa.select(Project)
        if status:
            query = query.where(table.c.status == status)
        if category:
            query = query.where(table.c.category == category)
        if purchaser_id:
            query = query.where(table.c.purchaser_id == str(purchaser_id))
        if contractor_id:
            query = query.where(table.c.contractor_id == str(contractor_id))
        if q:
            query = query.where(table.c.search_title.contains(search_key(q), autoescape=True))
        visibility = []
        if within_path is not None:
            in_subtree = sa.select(directory.c.id).where(directory.c.path.like(within_path + "%"))
            visibility.append(table.c.purchaser_id.in_(in_subtree))
        if visible_to_all_from:
            visibility.append(table.c.published_at.is_not(None))
        if visibility:
            query = query.where(sa.or_(*visibility))
        if purchaser_within is not None:
            query = query.where(table.c.purchaser_id.in_(_subtree(purchaser_within)))
        return fetch_page(self.session, query, page)

    def project_counts(
        self, *, within_path: str | None = None, purchaser_within: str | None = None
    ) -> dict[str, int]:
        """Projects per status (every status, zeros included), purchased in ``within_path``'s
        subtree (None: everywhere) — one GROUP BY."""
        query = sa.select(projects.c.status, sa.func.count()).group_by(projects.c.status)
        for path in (within_path, purchaser_within):
            if path is not None:
                query = query.where(projects.c.purchaser_id.in_(_subtree(path)))
        counts = dict.fromkeys(PROJECT_STATUSES, 0)
        counts.update({status: int(n) for status, n in self.session.execute(query)})
        return counts

    def operational_figures(self, today: Any) -> dict[str, Any]:
        """What ops and managers watch: overdue milestones, rejected commitments, projects."""
        overdue = self.session.execute(
            sa.select(sa.func.count())
            .select_from(milestones.join(contracts, milestones.c.contract_id == contracts.c.id))
            .where(contracts.c.status.in_(("active", "suspended")))
            .where(milestones.c.status != "accepted")
            .where(milestones.c.due_on < today)
        ).scalar_one()
        rejected = self.session.execute(
            sa.select(sa.func.count()).where(contracts.c.commitment_status == "rejected")
        ).scalar_one()
        by_status = dict(
            self.session.execute(
                sa.select(projects.c.status, sa.func.count()).group_by(projects.c.status)
            ).all()
        )
        return {
            "milestones_overdue": overdue,
            "commitments_rejected": rejected,
            "projects": by_status,
        }

    # --- the daily checks -------------------------------------------------------------------

    def milestones_to_check(self, due_until: Any) -> list[dict[str, Any]]:
        """Milestones of live contracts (active or suspended) not accepted yet and due on or
        before ``due_until``, with what a reminder names (who delivers, who bought)."""
        rows = self.session.execute(
            sa.select(
                milestones.c.id.label("milestone_id"),
                milestones.c.contract_id,
                milestones.c.title,
                milestones.c.due_on,
                milestones.c.status,
                contracts.c.project_id,
                contracts.c.contractor_id,
                contracts.c.purchaser_id,
            )
            .select_from(milestones.join(contracts, milestones.c.contract_id == contracts.c.id))
            .where(contracts.c.status.in_(("active", "suspended")))
            .where(milestones.c.status != "accepted")
            .where(milestones.c.due_on <= due_until)
            .order_by(milestones.c.due_on, milestones.c.id)
        )
        return [dict(row._mapping) for row in rows]

    def reports_waiting(self, reported_before: datetime) -> list[dict[str, Any]]:
        """Reports still waiting for a decision that came in before ``reported_before``."""
        rows = self.session.execute(
            sa.select(
                milestone_reports.c.id.label("report_id"),
                milestone_reports.c.reported_at,
                milestones.c.id.label("milestone_id"),
                milestones.c.contract_id,
                milestones.c.title,
                milestones.c.due_on,
                contracts.c.project_id,
                contracts.c.contractor_id,
                contracts.c.purchaser_id,
            )
            .select_from(
                milestone_reports.join(
                    milestones, milestone_reports.c.milestone_id == milestones.c.id
                ).join(contracts, milestones.c.contract_id == contracts.c.id)
            )
            .where(milestone_reports.c.decision == "pending")
            .where(milestone_reports.c.reported_at < reported_before)
            .order_by(milestone_reports.c.reported_at)
        )
        return [dict(row._mapping) for row in rows]

    def overdue_milestone_count(self, due_before: Any) -> int:
        """Milestones of live contracts overdue beyond the grace period (due before
        ``due_before``, not accepted): those funding holds money for."""
        return int(
            self.session.execute(
                sa.select(sa.func.count())
                .select_from(milestones.join(contracts, milestones.c.contract_id == contracts.c.id))
                .where(contracts.c.status.in_(("active", "suspended")))
                .where(milestones.c.status != "accepted")
                .where(milestones.c.due_on < due_before)
            ).scalar_one()
        )

    # --- applications -----------------------------------------------------------------------

    def applications(self, project_id: str, provider_id: str | None = None) -> list[Application]:
        query = sa.select(Application).where(applications.c.project_id == str(project_id))
        if provider_id:
            query = query.where(applications.c.provider_id == str(provider_id))
        return list(self.session.execute(query.order_by(applications.c.submitted_at)).scalars())

    def applications_and_providers(
        self, project_id: str
    ) -> list[tuple[Application, dict[str, Any] | None]]:
        """The project's applications, each with its provider's directory entry."""
        rows = self.session.execute(_applications_and_providers(), {"project_id": str(project_id)})
        return [(row[0], _entry(row)) for row in rows]

    def application_of(self, project_id: str, provider_id: str) -> Application | None:
        return self.session.execute(
            _application_of(), {"project_id": str(project_id), "provider_id": str(provider_id)}
        ).scalar()

    # --- contracts --------------------------------------------------------------------------

    def contract(self, contract_id: str, *, for_update: bool = False) -> Contract:
        """The contract with its milestones, in one statement (``for_update`` locks the
        contract's row and its milestones')."""
        return self._contract(contract_id, for_update, with_purchaser=False)[0]

    def contract_and_purchaser(
        self, contract_id: str, *, for_update: bool = False
    ) -> tuple[Contract, dict[str, Any] | None]:
        """The contract, its milestones and its purchaser's directory entry, in one statement
        (``for_update`` locks the contract's row and its milestones')."""
        return self._contract(contract_id, for_update, with_purchaser=True)

    def _contract(
        self, contract_id: str, for_update: bool, *, with_purchaser: bool
    ) -> tuple[Contract, dict[str, Any] | None]:
        query = _contract(for_update, with_purchaser)
        row = self.session.execute(query, {"contract_id": str(contract_id)}).unique().first()
        if row is not None:
            return row[0], _entry(row) if with_purchaser else None
        # no row: no such contract — or one without milestones, which the join leaves out
        contract = self.session.get(
            Contract,
            str(contract_id),
            with_for_update=for_update or None,
            populate_existing=for_update,
        )
        if contract is None:
            raise ContractNotFound(str(contract_id))
        entry = None
        if with_purchaser:
            found = self.session.execute(
                sa.select(directory).where(directory.c.id == contract.purchaser_id)
            ).first()
            entry = dict(found._mapping) if found is not None else None
        return contract, entry

    def contract_of(self, project: Project) -> Contract | None:
        return self.session.get(Contract, project.contract_id) if project.contract_id else None

    def contracts_of(self, contractor_id: str, statuses: tuple[str, ...]) -> list[Contract]:
        return list(
            self.session.execute(
                sa.select(Contract)
                .where(contracts.c.contractor_id == str(contractor_id))
                .where(contracts.c.status.in_(statuses))
                .with_for_update()
            ).scalars()
        )

    def list_contracts(
        self,
        page: PageRequest,
        *,
        project_id: str | None = None,
        contractor_id: str | None = None,
        status: str | None = None,
        within_path: str | None = None,
    ) -> Fetched:
        table = contracts
        query = sa.select(Contract)
        if project_id:
            query = query.where(table.c.project_id == str(project_id))
        if contractor_id:
            query = query.where(table.c.contractor_id == str(contractor_id))
        if status:
            query = query.where(table.c.status == status)
        if within_path is not None:
            in_subtree = sa.select(directory.c.id).where(directory.c.path.like(within_path + "%"))
            query = query.where(table.c.purchaser_id.in_(in_subtree))
        return fetch_page(self.session, query, page)

    def contract_counts(
        self, *, contractor_id: str | None = None, within_path: str | None = None
    ) -> dict[str, int]:
        """Contracts per status (zeros included) of a contractor or purchased in a subtree."""
        query = sa.select(contracts.c.status, sa.func.count()).group_by(contracts.c.status)
        if contractor_id is not None:
            query = query.where(contracts.c.contractor_id == str(contractor_id))
        if within_path is not None:
            query = query.where(contracts.c.purchaser_id.in_(_subtree(within_path)))
        counts = dict.fromkeys(CONTRACT_STATUSES, 0)
        counts.update({status: int(n) for status, n in self.session.execute(query)})
        return counts

    # --- milestones across contracts (the workbench's lists) --------------------------------

    def list_milestones(self, page: PageRequest, filters: MilestoneFilters) -> Fetched:
        """Milestones with their contract's parties and state and the project's title, as
        dicts, in the request's order, with the total under the same filters."""
        query = _milestones_where(sa.select(*_MILESTONE_ROW).select_from(_MILESTONE_JOIN), filters)
        fetched = fetch_page(self.session, query, page, scalars=False)
        return Fetched(rows=[dict(row._mapping) for row in fetched.rows], total=fetched.total)

    def milestone_figures(self, filters: MilestoneFilters) -> dict[str, Any]:
        """How many milestones the filters keep, the oldest report among them and the money
        paid on them — one aggregate over the list's own WHERE."""
        query = _milestones_where(
            sa.select(
                sa.func.count(),
                sa.func.min(milestones.c.reported_at),
                sa.func.coalesce(sa.func.sum(milestones.c.paid_amount), 0),
            ).select_from(_MILESTONE_JOIN),
            filters,
        )
        count, oldest, paid = self.session.execute(query).one()
        return {"count": int(count), "oldest_reported_at": _aware(oldest), "paid": int(paid)}

    def milestone_by_id(self, milestone_id: str) -> Milestone | None:
        return self.session.get(Milestone, str(milestone_id))

    # --- reports ----------------------------------------------------------------------------

    def reports(self, milestone_id: str) -> list[MilestoneReport]:
        return list(
            self.session.execute(
                sa.select(MilestoneReport)
                .where(milestone_reports.c.milestone_id == str(milestone_id))
                .order_by(milestone_reports.c.reported_at)
            ).scalars()
        )

    def pending_report(self, milestone_id: str) -> MilestoneReport | None:
        return self.session.execute(_pending_report(), {"milestone_id": str(milestone_id)}).scalar()

    # --- evidence files ---------------------------------------------------------------------

    def add_file(self, **values: Any) -> None:
        self.session.execute(sa.insert(files).values(**values))

    def file(self, file_id: str) -> dict[str, Any] | None:
        row = self.session.execute(sa.select(files).where(files.c.id == str(file_id))).first()
        return dict(row._mapping) if row is not None else None

    def reference_files(self, report_id: str, contract_id: str, file_ids: list[str]) -> None:
        """The report references these files (they become readable with its contract)."""
        if not file_ids:
            return
        self.session.flush()  # the report's row first: the references point at it
        self.session.execute(
            sa.insert(report_files),
            [
                {"report_id": report_id, "file_id": file_id, "contract_id": contract_id}
                for file_id in file_ids
            ],
        )

    def contracts_referencing(self, file_id: str) -> list[str]:
        return list(
            self.session.execute(
                sa.select(report_files.c.contract_id)
                .where(report_files.c.file_id == str(file_id))
                .distinct()
                .order_by(report_files.c.contract_id)
            ).scalars()
        )
