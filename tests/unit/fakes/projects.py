"""In-memory stand-ins for the projects service's repositories: ``FakeProjectRepository`` (the
``ProjectRepository`` a context holds) and ``FakeFundingSources`` (the copy of funding's
sources), with the same method names and answers as the real ones.

They apply the rules the real SQL applies — filters, the subtree a reader sees (through the
directory copy's materialised paths), sort orders with their cursors, totals, "not found" —
and hand every aggregate they keep or return to the unit of work, which collects the events
it recorded at commit, as the real session does. Row locks have no meaning here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from kit.paging import Fetched, PageRequest
from kit.text import search_key
from projects.domain.application import Application
from projects.domain.contract import CONTRACT_STATUSES, Contract, Milestone, MilestoneReport
from projects.domain.project import PROJECT_STATUSES, Project
from projects.domain.workbench import RUNNING, MilestoneFilters
from projects.exceptions import ContractNotFound, ProjectNotFound
from projects.models import milestones as milestones_table
from tests.unit.fakes import FakeDirectory, FakeUnitOfWork

_MILESTONE_COLUMNS = [column.name for column in milestones_table.c]


def fetch_in_memory(items: Iterable[Any], request: PageRequest) -> Fetched:
    """What ``kit.paging.fetch_page`` answers, over a list: the request's order (NULLs last
    in either direction, ties broken by its tie fields), the rows after its cursor, ``limit
    + 1`` of them, and the total under the same filters."""
    assert request.sort is not None, "a sorted list needs a PageRequest made with an ordering"
    sort = request.sort
    ties = sort.ordering.ties

    def key(item: Any) -> tuple[Any, tuple[Any, ...]]:
        return sort.field.value_of(item), tuple(tie.value_of(item) for tie in ties)

    def beyond(left: tuple[Any, ...], right: tuple[Any, ...]) -> bool:
        return left < right if sort.descending else left > right

    def after_cursor(item: Any) -> bool:
        if request.after is None:
            return True
        value, tie_values = key(item)
        cursor_value, cursor_ties = request.after[0], tuple(request.after[1:])
        if cursor_value is None:
            return value is None and beyond(tie_values, cursor_ties)
        if value is None:
            return True  # NULLs come last
        return beyond((value, *tie_values), (cursor_value, *cursor_ties))

    everything = list(items)
    present = [item for item in everything if key(item)[0] is not None]
    missing = [item for item in everything if key(item)[0] is None]
    present.sort(key=lambda item: (key(item)[0], key(item)[1]), reverse=sort.descending)
    missing.sort(key=lambda item: key(item)[1], reverse=sort.descending)
    rows = [item for item in present + missing if after_cursor(item)][: request.limit + 1]
    return Fetched(rows=rows, total=len(everything))


class FakeProjectRepository:
    """Projects, applications, contracts (with their milestones), reports and evidence files,
    in dicts. ``directory`` is the context's directory copy: the lists read a purchaser's
    subtree from it, and ``project_and_entry`` and its kin return its entries."""

    def __init__(self, uow: FakeUnitOfWork, directory: FakeDirectory) -> None:
        self.uow = uow
        self.directory = directory
        self.projects: dict[str, Project] = {}
        self.applications_by_id: dict[str, Application] = {}
        self.contracts: dict[str, Contract] = {}
        self.reports_by_id: dict[str, MilestoneReport] = {}
        self.files: dict[str, dict[str, Any]] = {}
        #: (report_id, file_id, contract_id) per reference
        self.references: list[tuple[str, str, str]] = []

    def using(self, uow: FakeUnitOfWork) -> FakeProjectRepository:
        """The same rows seen from another unit of work (each use case runs in its own)."""
        self.uow = uow
        return self

    # --- projects ---------------------------------------------------------------------------

    def project(self, project_id: str, *, for_update: bool = False) -> Project:
        project = self.projects.get(str(project_id))
        if project is None:
            raise ProjectNotFound(str(project_id))
        return self.uow.track(project)

    def project_and_entry(
        self, project_id: str, organization_id: str | None = None, *, for_update: bool = False
    ) -> tuple[Project, dict[str, Any] | None]:
        project = self.project(project_id)
        return project, self.directory.get(organization_id or project.purchaser_id)

    def project_view(self, project_id: str) -> Any:
        return self.project(project_id)

    def add(self, *entities: Any) -> None:
        for entity in entities:
            if isinstance(entity, Project):
                self.projects[entity.id] = entity
            elif isinstance(entity, Application):
                self.applications_by_id[entity.id] = entity
            elif isinstance(entity, Contract):
                self.contracts[entity.id] = entity
            elif isinstance(entity, MilestoneReport):
                self.reports_by_id[entity.id] = entity
            else:
                raise TypeError(f"the projects repository keeps no {type(entity).__name__}")
            self.uow.track(entity)

    def _in_subtree(self, organization_id: str, within_path: str) -> bool:
        entry = self.directory.get(organization_id)
        return entry is not None and entry["path"].startswith(within_path)

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
        def kept(project: Project) -> bool:
            if status and project.status != status:
                return False
            if category and project.category != category:
                return False
            if purchaser_id and project.purchaser_id != str(purchaser_id):
                return False
            if contractor_id and project.contractor_id != str(contractor_id):
                return False
            if q and search_key(q) not in project.search_title:
                return False
            if purchaser_within is not None and not self._in_subtree(
                project.purchaser_id, purchaser_within
            ):
                return False
            return _visible(project, within_path, visible_to_all_from, self._in_subtree)

        return fetch_in_memory((self.uow.track(p) for p in self.projects.values() if kept(p)), page)

    def operational_figures(self, today: date) -> dict[str, Any]:
        live = [c for c in self.contracts.values() if c.status in ("active", "suspended")]
        by_status: dict[str, int] = {}
        for project in self.projects.values():
            by_status[project.status] = by_status.get(project.status, 0) + 1
        return {
            "milestones_overdue": sum(
                1
                for contract in live
                for m in contract.milestones
                if m.status != "accepted" and m.due_on < today
            ),
            "commitments_rejected": sum(
                1 for c in self.contracts.values() if c.commitment_status == "rejected"
            ),
            "projects": by_status,
        }

    def project_counts(
        self, *, within_path: str | None = None, purchaser_within: str | None = None
    ) -> dict[str, int]:
        counts = dict.fromkeys(PROJECT_STATUSES, 0)
        for project in self.projects.values():
            paths = [p for p in (within_path, purchaser_within) if p is not None]
            if all(self._in_subtree(project.purchaser_id, path) for path in paths):
                counts[project.status] += 1
        return counts

    # --- applications -----------------------------------------------------------------------

    def applications(self, project_id: str, provider_id: str | None = None) -> list[Application]:
        found = [
            a
            for a in self.applications_by_id.values()
            if a.project_id == str(project_id)
            and (not provider_id or a.provider_id == str(provider_id))
        ]
        return sorted(found, key=lambda a: a.submitted_at)

    def applications_and_providers(
        self, project_id: str
    ) -> list[tuple[Application, dict[str, Any] | None]]:
        return [(a, self.directory.get(a.provider_id)) for a in self.applications(project_id)]

    def application_of(self, project_id: str, provider_id: str) -> Application | None:
        return next(iter(self.applications(project_id, provider_id)), None)

    # --- contracts --------------------------------------------------------------------------

    def contract(self, contract_id: str, *, for_update: bool = False) -> Contract:
        contract = self.contracts.get(str(contract_id))
        if contract is None:
            raise ContractNotFound(str(contract_id))
        contract.milestones.sort(key=lambda m: m.seq)
        return self.uow.track(contract)

    def contract_and_purchaser(
        self, contract_id: str, *, for_update: bool = False
    ) -> tuple[Contract, dict[str, Any] | None]:
        contract = self.contract(contract_id)
        return contract, self.directory.get(contract.purchaser_id)

    def contract_of(self, project: Project) -> Contract | None:
        return self.contract(project.contract_id) if project.contract_id else None

    def contracts_of(self, contractor_id: str, statuses: tuple[str, ...]) -> list[Contract]:
        return [
            self.uow.track(c)
            for c in self.contracts.values()
            if c.contractor_id == str(contractor_id) and c.status in statuses
        ]

    def list_contracts(
        self,
        page: PageRequest,
        *,
        project_id: str | None = None,
        contractor_id: str | None = None,
        status: str | None = None,
        within_path: str | None = None,
    ) -> Fetched:
        def kept(contract: Contract) -> bool:
            if project_id and contract.project_id != str(project_id):
                return False
            if contractor_id and contract.contractor_id != str(contractor_id):
                return False
            if status and contract.status != status:
                return False
            return within_path is None or self._in_subtree(contract.purchaser_id, within_path)

        return fetch_in_memory(
            (self.uow.track(c) for c in self.contracts.values() if kept(c)), page
        )

    def contract_counts(
        self, *, contractor_id: str | None = None, within_path: str | None = None
    ) -> dict[str, int]:
        counts = dict.fromkeys(CONTRACT_STATUSES, 0)
        for contract in self.contracts.values():
            if contractor_id is not None and contract.contractor_id != str(contractor_id):
                continue
            if within_path is not None and not self._in_subtree(contract.purchaser_id, within_path):
                continue
            counts[contract.status] += 1
        return counts

    def _milestone_rows(self, filters: MilestoneFilters) -> list[dict[str, Any]]:
        """The milestone list's rows the filters keep (the real WHERE, in Python)."""
        rows = []
        for contract in self.contracts.values():
            if filters.running is not None and (contract.status in RUNNING) != filters.running:
                continue
            if filters.contract_id and contract.id != str(filters.contract_id):
                continue
            if filters.contractor_id is not None and contract.contractor_id != str(
                filters.contractor_id
            ):
                continue
            if filters.within_path is not None and not self._in_subtree(
                contract.purchaser_id, filters.within_path
            ):
                continue
            project = self.projects[contract.project_id]
            for m in contract.milestones:
                if filters.statuses is not None and m.status not in filters.statuses:
                    continue
                if filters.due_before is not None and not m.due_on < filters.due_before:
                    continue
                if filters.payment_status and m.payment_status != filters.payment_status:
                    continue
                rows.append(_milestone_row(m, contract, project))
        return rows

    def list_milestones(self, page: PageRequest, filters: MilestoneFilters) -> Fetched:
        return fetch_in_memory(self._milestone_rows(filters), page)

    def milestone_figures(self, filters: MilestoneFilters) -> dict[str, Any]:
        rows = self._milestone_rows(filters)
        reported = [r["reported_at"] for r in rows if r["reported_at"] is not None]
        return {
            "count": len(rows),
            "oldest_reported_at": min(reported, default=None),
            "paid": sum(r["paid_amount"] for r in rows),
        }

    def milestone_by_id(self, milestone_id: str) -> Milestone | None:
        return next(
            (m for c in self.contracts.values() for m in c.milestones if m.id == str(milestone_id)),
            None,
        )

    # --- reports ----------------------------------------------------------------------------

    def reports(self, milestone_id: str) -> list[MilestoneReport]:
        found = [r for r in self.reports_by_id.values() if r.milestone_id == str(milestone_id)]
        return sorted(found, key=lambda r: r.reported_at)

    def pending_report(self, milestone_id: str) -> MilestoneReport | None:
        return next((r for r in self.reports(milestone_id) if r.decision == "pending"), None)

    # --- the daily checks -------------------------------------------------------------------

    def _live_milestones(self) -> list[tuple[Milestone, Contract]]:
        return [
            (m, c)
            for c in self.contracts.values()
            if c.status in ("active", "suspended")
            for m in c.milestones
            if m.status != "accepted"
        ]

    @staticmethod
    def _about(milestone: Milestone, contract: Contract) -> dict[str, Any]:
        return {
            "milestone_id": milestone.id,
            "contract_id": contract.id,
            "title": milestone.title,
            "due_on": milestone.due_on,
            "status": milestone.status,
            "project_id": contract.project_id,
            "contractor_id": contract.contractor_id,
            "purchaser_id": contract.purchaser_id,
        }

    def milestones_to_check(self, due_until: date) -> list[dict[str, Any]]:
        found = [(m, c) for m, c in self._live_milestones() if m.due_on <= due_until]
        found.sort(key=lambda pair: (pair[0].due_on, pair[0].id))
        return [self._about(m, c) for m, c in found]

    def reports_waiting(self, reported_before: datetime) -> list[dict[str, Any]]:
        rows = []
        for report in sorted(self.reports_by_id.values(), key=lambda r: r.reported_at):
            if report.decision != "pending" or report.reported_at >= reported_before:
                continue
            contract = self.contracts[report.contract_id]
            milestone = next(m for m in contract.milestones if m.id == report.milestone_id)
            about = self._about(milestone, contract)
            del about["status"]
            rows.append({**about, "report_id": report.id, "reported_at": report.reported_at})
        return rows

    def overdue_milestone_count(self, due_before: date) -> int:
        return sum(1 for m, _ in self._live_milestones() if m.due_on < due_before)

    # --- evidence files ---------------------------------------------------------------------

    def add_file(self, **values: Any) -> None:
        self.files[str(values["id"])] = dict(values)

    def file(self, file_id: str) -> dict[str, Any] | None:
        stored = self.files.get(str(file_id))
        return dict(stored) if stored is not None else None

    def reference_files(self, report_id: str, contract_id: str, file_ids: list[str]) -> None:
        for file_id in file_ids:
            if file_id not in self.files:
                raise LookupError(f"no file {file_id} to reference")  # the foreign key's answer
            self.references.append((report_id, file_id, contract_id))

    def contracts_referencing(self, file_id: str) -> list[str]:
        return sorted({contract_id for _, f, contract_id in self.references if f == str(file_id)})


def _milestone_row(milestone: Milestone, contract: Contract, project: Project) -> dict[str, Any]:
    """A row of the milestone list, as the real repository gives it."""
    row = {column: getattr(milestone, column) for column in _MILESTONE_COLUMNS}
    return {
        **row,
        "project_id": contract.project_id,
        "purchaser_id": contract.purchaser_id,
        "contractor_id": contract.contractor_id,
        "contract_status": contract.status,
        "project_title": project.title,
    }


def _visible(
    project: Project,
    within_path: str | None,
    published: bool,
    in_subtree: Callable[[str, str], bool],
) -> bool:
    """The real list's visibility: any of "in that subtree", "published" (none asked: all)."""
    if within_path is None and not published:
        return True
    if within_path is not None and in_subtree(project.purchaser_id, within_path):
        return True
    return published and project.published_at is not None


class FakeFundingSources:
    """The copy of funding's sources: owner and version per source; a newer fact wins."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def remember(self, source_id: str, owner_id: str, version: int, at: datetime) -> None:
        row = self.rows.get(source_id)
        if row is None or row["version"] < version:
            self.rows[source_id] = {"owner_id": owner_id, "version": version, "updated_at": at}

    def owner(self, source_id: str) -> str | None:
        row = self.rows.get(source_id)
        return None if row is None else row["owner_id"]


class FakeFunding:
    """The ``ask_funding`` port: answers from ``sources`` (id → owner), and counts the asks."""

    def __init__(self, sources: dict[str, str] | None = None) -> None:
        self.sources = dict(sources or {})
        self.asked: list[str] = []

    def __call__(self, source_id: str) -> dict[str, Any] | None:
        self.asked.append(source_id)
        owner_id = self.sources.get(source_id)
        if owner_id is None:
            return None
        return {"funding_source_id": source_id, "owner_id": owner_id, "version": 1}
