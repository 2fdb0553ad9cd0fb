"""An in-memory stand-in for ``projects.public_record.PublicRecord``, over the projects fake
repository's dicts and the directory copy: the same methods, the same filters and orders, and
rows that carry only the columns the real statements select (so a use case that reached for
another field fails here as it would there)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kit.paging import Fetched, PageRequest
from kit.text import search_key
from projects.domain.contract import Contract
from projects.domain.project import Project
from tests.unit.fakes import FakeDirectory
from tests.unit.fakes.projects import FakeProjectRepository, fetch_in_memory

ANNOUNCEMENT = (
    "id",
    "title",
    "category",
    "model",
    "purchaser_id",
    "budget",
    "starts_on",
    "ends_on",
    "status",
    "published_at",
)
DETAIL = ("description", "target_beneficiaries", "indicators", "amount_paid", "closed_at")


class FakePublicRecord:
    def __init__(self, repo: FakeProjectRepository, directory: FakeDirectory) -> None:
        self.repo = repo
        self.directory = directory

    def _published(self) -> list[Project]:
        return [p for p in self.repo.projects.values() if p.published_at is not None]

    def _name(self, organization_id: str) -> str | None:
        entry = self.directory.get(organization_id)
        return entry["name"] if entry else None

    def _announcement(self, project: Project, *more: str) -> SimpleNamespace:
        values = {name: getattr(project, name) for name in (*ANNOUNCEMENT, *more)}
        return SimpleNamespace(**values, purchaser_name=self._name(project.purchaser_id))

    @staticmethod
    def _kept(
        project: Project, q: str | None, category: str | None, purchaser_id: str | None
    ) -> bool:
        if q and search_key(q) not in project.search_title:
            return False
        if category and project.category != category:
            return False
        return not purchaser_id or project.purchaser_id == str(purchaser_id)

    def announcements(
        self,
        page: PageRequest,
        *,
        q: str | None = None,
        category: str | None = None,
        model: str | None = None,
        status: str | None = None,
        purchaser_id: str | None = None,
    ) -> Fetched:
        rows = [
            self._announcement(p)
            for p in self._published()
            if self._kept(p, q, category, purchaser_id)
            and (not model or p.model == model)
            and (not status or p.status == status)
        ]
        return fetch_in_memory(rows, page)

    def announcement(self, project_id: str) -> Any:
        project = self.repo.projects.get(str(project_id))
        if project is None or project.published_at is None:
            return None
        return self._announcement(project, *DETAIL, "contract_id")

    def _award(self, contract: Contract) -> SimpleNamespace | None:
        project = self.repo.projects[contract.project_id]
        if project.published_at is None:
            return None
        return SimpleNamespace(
            id=contract.id,
            project_id=project.id,
            project_title=project.title,
            category=project.category,
            purchaser_id=project.purchaser_id,
            purchaser_name=self._name(project.purchaser_id),
            contractor_id=contract.contractor_id,
            contractor_name=self._name(contract.contractor_id),
            amount=contract.amount,
            awarded_at=contract.awarded_at,
            status=contract.status,
            amount_paid=project.amount_paid,
            search_title=project.search_title,
        )

    def awards(
        self,
        page: PageRequest,
        *,
        q: str | None = None,
        category: str | None = None,
        purchaser_id: str | None = None,
        contractor_id: str | None = None,
        project_id: str | None = None,
    ) -> Fetched:
        rows = []
        for contract in self.repo.contracts.values():
            row = self._award(contract)
            if row is None or not self._kept(row, q, category, purchaser_id):  # type: ignore[arg-type]
                continue
            if contractor_id and row.contractor_id != str(contractor_id):
                continue
            if project_id and row.project_id != str(project_id):
                continue
            rows.append(row)
        return fetch_in_memory(rows, page)

    def award_of(self, project_id: str) -> Any:
        contract = next(
            (c for c in self.repo.contracts.values() if c.project_id == str(project_id)), None
        )
        return self._award(contract) if contract is not None else None

    def tranches(self, contract_id: str) -> list[Any]:
        contract = self.repo.contracts[str(contract_id)]
        return [
            SimpleNamespace(
                seq=m.seq,
                title=m.title,
                due_on=m.due_on,
                amount=m.amount,
                paid_amount=m.paid_amount,
                paid_at=m.paid_at,
            )
            for m in sorted(contract.milestones, key=lambda m: m.seq)
        ]

    def processes(self, page: PageRequest) -> tuple[Fetched, dict[str, Contract]]:
        fetched = fetch_in_memory(self._published(), page)
        ids = {p.contract_id for p in fetched.rows if p.contract_id}
        return fetched, {i: self.repo.contracts[i] for i in ids}

    def process(self, project_id: str) -> tuple[Project | None, Contract | None]:
        project = self.repo.projects.get(str(project_id))
        if project is None or project.published_at is None:
            return None, None
        contract = self.repo.contracts.get(project.contract_id) if project.contract_id else None
        return project, contract

    def parties(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        found = self.directory.many(ids)
        return {i: {"name": e["name"], "uscc": e.get("uscc")} for i, e in found.items()}
