"""In-memory stand-ins for the assessment repositories of the four services: the same methods
and answers as ``<service>.assessment_repository.AssessmentRepository``, counted over the
fakes' rows (a child's subtree by the directory's materialised paths, the year's window, the
statuses the SQL filters on). The integration test keeps checking the real SQL against an
independent count on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

from language.assessment import child_of
from registry.domain.lifecycle import ACTIVE_STATUSES
from tests.unit.fakes import FakeDirectory


def _children(directory: FakeDirectory, federation_id: str) -> list[str]:
    return sorted(
        entry["id"]
        for entry in directory.entries.values()
        if entry["parent_id"] == federation_id
        and entry["kind"] == "federation"
        and entry.get("status") != "deregistered"
    )


class FakeRegistryAssessments:
    """Over the fake registry's organizations, plus the weights and their changes."""

    def __init__(self, organizations: Any) -> None:
        self.organizations = organizations  # a FakeOrganizationRepository
        self.kept: dict[tuple[str, int], dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []

    def children(self, federation_id: str) -> list[dict[str, Any]]:
        found = [
            o
            for o in self.organizations.organizations.values()
            if o.parent_id == federation_id
            and o.kind == "federation"
            and o.status != "deregistered"
        ]
        return [
            {"organization_id": o.id, "name": o.name}
            for o in sorted(found, key=lambda o: (o.name, o.id))
        ]

    def counts_by_child(self, path: str, start: datetime, end: datetime) -> Any:
        everything = list(self.organizations.organizations.values())
        covered_hosts = {
            o.parent_id
            for o in everything
            if o.kind == "womens_organization"
            and o.status in ACTIVE_STATUSES
            and o.path.startswith(path)
        }
        counts: dict[str, Counter[tuple[Any, str]]] = defaultdict(Counter)
        for o in everything:
            child = child_of(o.path, path)
            if child is None:
                continue
            if o.kind == "host_unit" and o.status != "deregistered":
                counts[child][(o.sector, "units")] += 1
                counts[child][(o.sector, "covered")] += o.id in covered_hosts
            if o.kind == "womens_organization":
                counts[child][(o.sector, "units")] += 0
                founded = o.status != "deregistered" and start <= o.created_at < end
                counts[child][(o.sector, "founded")] += founded
        return {
            child: {
                sector: (c[(sector, "units")], c[(sector, "covered")], c[(sector, "founded")])
                for sector in {key[0] for key in c}
            }
            for child, c in counts.items()
        }

    def weights(self, federation_id: str, year: int, *, for_update: bool = False) -> Any:
        kept = self.kept.get((federation_id, year))
        return dict(kept) if kept else None

    def latest_weights_before(self, federation_id: str, year: int) -> Any:
        earlier = [k for k in self.kept if k[0] == federation_id and k[1] < year]
        return dict(self.kept[max(earlier, key=lambda k: k[1])]) if earlier else None

    def keep_weights(self, federation_id, year, weights, version, actor_id, at) -> None:
        self.kept[(federation_id, year)] = {
            "federation_id": federation_id,
            "year": year,
            "weights": dict(weights),
            "version": version,
            "updated_by": actor_id,
            "updated_at": at,
        }

    def add_change(self, change: dict[str, Any]) -> None:
        self.history.append({"id": str(uuid.uuid4()), **change})

    def changes(self, federation_id: str, year: int) -> list[dict[str, Any]]:
        mine = [
            c for c in self.history if c["federation_id"] == federation_id and c["year"] == year
        ]
        return sorted(mine, key=lambda c: (c["at"], c["id"]), reverse=True)


class FakeSubtreeFigures:
    """Projects', funding's and volunteers' repositories at once, over plain rows the test
    keeps (each names the organization whose path decides its child): ``projects``,
    ``milestones``, ``commitments``, ``disbursements``, ``volunteers``, ``hours``,
    ``activities``."""

    def __init__(self, directory: FakeDirectory) -> None:
        self.directory = directory
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def children(self, federation_id: str) -> list[str]:
        return _children(self.directory, federation_id)

    def _tally(self, kind: str, path: str, value: Any, keep: Any) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for row in self.rows[kind]:
            entry = self.directory.get(row["organization_id"]) if row["organization_id"] else None
            child = child_of(entry["path"], path) if entry else None
            if child is not None and keep(row):
                totals[child] += value(row)
        return dict(totals)

    # projects
    def project_counts(self, path: str, start: datetime, end: datetime) -> Any:
        def inside(moment: datetime | None) -> bool:
            return moment is not None and start <= moment < end

        published = self._tally("projects", path, lambda r: 1, lambda r: inside(r["published_at"]))
        closed = self._tally(
            "projects",
            path,
            lambda r: 1,
            lambda r: r["status"] == "closed" and inside(r["closed_at"]),
        )
        return {c: (published.get(c, 0), closed.get(c, 0)) for c in {*published, *closed}}

    def milestone_counts(self, path: str, first: date, last: date) -> Any:
        def due(row: dict[str, Any]) -> bool:
            return first <= row["due_on"] <= last and row["contract_status"] != "cancelled"

        counted = self._tally("milestones", path, lambda r: 1, due)
        on_time = self._tally("milestones", path, lambda r: r["accepted_on_time"] is True, due)
        return {c: (n, on_time.get(c, 0)) for c, n in counted.items()}

    # funding
    def committed(self, path: str, start: datetime, end: datetime) -> dict[str, int]:
        return self._tally(
            "commitments", path, lambda r: r["amount"], lambda r: start <= r["created_at"] < end
        )

    def paid(self, path: str, start: datetime, end: datetime) -> dict[str, int]:
        return self._tally(
            "disbursements",
            path,
            lambda r: r["amount"],
            lambda r: r["status"] == "paid" and start <= r["paid_at"] < end,
        )

    # volunteers
    def volunteers_registered(self, path: str, start: datetime, end: datetime) -> dict[str, int]:
        return self._tally(
            "volunteers", path, lambda r: 1, lambda r: start <= r["created_at"] < end
        )

    def verified_minutes(self, path: str, start: datetime, end: datetime) -> dict[str, int]:
        return self._tally(
            "hours",
            path,
            lambda r: r["minutes"],
            lambda r: r["status"] == "verified" and start <= r["started_at"] < end,
        )

    def activities_held(self, path, start, end, now) -> dict[str, int]:
        return self._tally(
            "activities",
            path,
            lambda r: 1,
            lambda r: start <= r["starts_at"] < end and r["ends_at"] <= now,
        )
