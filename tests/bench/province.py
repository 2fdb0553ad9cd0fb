"""A province-sized federation tree with a year of work in every service, loaded straight into
each service's database (after its migrations) — and the figures it must give, counted
independently in Python (by walking parent links, never by the materialised path).

Used by the assessment benchmark (``tests/bench/test_assessment.py``, on PostgreSQL with COPY)
and the assessment's integration test (``tests/integration/test_assessment.py``, a small tree
on SQLite and PostgreSQL, with a unit moved mid-year), and reusable for timing other figures
(the workbench cards) over the same data.

The tree: a province federation (the root), ``children`` city federations under it, each with
``townships`` township federations; host units under the cities and townships (sectors
spread), most with a women's organization; service providers under the root. Then, per year
of work: funding sources owned by the federations, projects purchased by them (published,
some closed, some awarded with contracts and milestones — some accepted on time, some late,
some never reported), commitments and paid disbursements, volunteer teams hosted by host
units and federations, volunteers registered for organizations, activities and service hours
(verified, pending, rejected). About a tenth of everything falls outside the year.

Rows are produced per table in the table's column order; a column the generator does not name
gets a plain value of its type (or NULL when nullable). ``load`` writes them with COPY on
PostgreSQL, with batched INSERTs elsewhere.
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from language.assessment import year_window
from language.directory import organizations as directory_table

SECTORS = (
    "non_public_enterprise",
    "social_organization",
    "public_institution",
    "government_agency",
    "community",
    "village",
)
ACTIVE = ("registered", "verified", "reinstated")
ACTOR = "a0000000-0000-4000-8000-00000000a001"


@dataclass(frozen=True)
class Shape:
    children: int = 3
    townships: int = 2
    #: organizations in all (federations, host units, women's organizations, providers)
    organizations: int = 200
    projects: int = 40
    teams: int = 12
    volunteers: int = 60
    activities: int = 30
    hours: int = 400
    sources_per_federation: int = 1


PROVINCE = Shape(
    children=100,
    townships=3,
    organizations=100_000,
    projects=10_000,
    teams=2_000,
    volunteers=100_000,
    activities=20_000,
    hours=1_000_000,
)


@dataclass
class Org:
    id: str
    kind: str
    name: str
    parent_id: str | None
    level: str | None = None
    sector: str | None = None
    status: str = "verified"
    created_at: datetime = field(default_factory=lambda: datetime(2020, 1, 1, tzinfo=UTC))


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Province:
    """The records, generated once from ``seed``; ``move`` re-parents a unit (as the registry
    would, with its whole subtree); rows and expectations follow the tree as it is then."""

    def __init__(self, shape: Shape, year: int, now: datetime, seed: int = 20261202) -> None:
        self.shape, self.year, self.now = shape, year, now
        self.rng = random.Random(seed)
        self.start, self.end = year_window(year)
        self.orgs: dict[str, Org] = {}
        self._build_tree()
        self._build_work()

    # --- moments -------------------------------------------------------------------------------

    def moment(self, inside: float = 0.9) -> datetime:
        """A moment in the year up to now (``inside`` of the time), else in the year before."""
        rng = self.rng
        if rng.random() < inside:
            upper = min(self.end, self.now) - self.start
            return self.start + timedelta(seconds=rng.randrange(int(upper.total_seconds())))
        return self.start - timedelta(seconds=rng.randrange(1, 300 * 86400))

    # --- the tree ------------------------------------------------------------------------------

    def _org(self, kind: str, parent: str | None, **more: Any) -> Org:
        org = Org(id=_id(self.rng), kind=kind, name="", parent_id=parent, **more)
        org.name = f"{kind}-{len(self.orgs):06d}"
        self.orgs[org.id] = org
        return org

    def _build_tree(self) -> None:
        shape, rng = self.shape, self.rng
        self.root = self._org("federation", None, level="province").id
        self.root_name = "某省妇女联合会"
        self.orgs[self.root].name = self.root_name
        self.children = []
        self.federations = [self.root]
        for number in range(shape.children):
            child = self._org("federation", self.root, level="city")
            child.name = f"第{number + 1:03d}市妇联"
            self.children.append(child.id)
            self.federations.append(child.id)
            for _ in range(shape.townships):
                self.federations.append(self._org("federation", child.id, level="county").id)
        self.providers = [self._org("service_provider", self.root).id for _ in range(10)]
        self.host_units = []
        while len(self.orgs) < shape.organizations:
            parent = rng.choice(self.federations[1:])
            status = "deregistered" if rng.random() < 0.02 else "verified"
            host = self._org("host_unit", parent, sector=rng.choice(SECTORS), status=status)
            self.host_units.append(host.id)
            if rng.random() < 0.75 and len(self.orgs) < shape.organizations:
                roll = rng.random()
                women_status = (
                    "suspended" if roll < 0.05 else "deregistered" if roll < 0.08 else "verified"
                )
                self._org(
                    "womens_organization", host.id, status=women_status, created_at=self.moment(0.4)
                )

    def move(self, organization_id: str, new_parent_id: str) -> None:
        self.orgs[organization_id].parent_id = new_parent_id

    def path(self, organization_id: str) -> str:
        ids = []
        current: str | None = organization_id
        while current is not None:
            ids.append(current)
            current = self.orgs[current].parent_id
        return "/" + "/".join(reversed(ids)) + "/"

    def child_of(self, organization_id: str | None) -> str | None:
        """The root's child whose subtree holds the organization, by walking parent links."""
        current = organization_id
        while current is not None:
            parent = self.orgs[current].parent_id
            if parent == self.root:
                return current if self.orgs[current].kind == "federation" else None
            current = parent
        return None

    # --- a year of work ------------------------------------------------------------------------

    def _build_work(self) -> None:
        shape, rng = self.shape, self.rng
        self.sources = [
            {"id": _id(rng), "owner_id": owner}
            for owner in self.federations
            for _ in range(shape.sources_per_federation)
        ]
        self.projects: list[dict[str, Any]] = []
        self.milestones: list[dict[str, Any]] = []
        self.commitments: list[dict[str, Any]] = []
        self.disbursements: list[dict[str, Any]] = []
        for _ in range(shape.projects):
            self._project(rng.choice(self.federations))
        self.teams = [
            {"id": _id(rng), "host_id": rng.choice(self.host_units + self.federations[1:])}
            for _ in range(shape.teams)
        ]
        candidates = self.host_units + self.federations
        self.volunteers = [
            {
                "id": _id(rng),
                "organization_id": rng.choice(candidates) if rng.random() < 0.95 else None,
                "created_at": self.moment(0.6),
            }
            for _ in range(shape.volunteers)
        ]
        self.activities = []
        for _ in range(shape.activities):
            starts = self.moment(0.9)
            if rng.random() < 0.1:  # some still to come (started, not ended; or later)
                starts = self.now - timedelta(hours=1)
            self.activities.append(
                {
                    "id": _id(rng),
                    "team_id": rng.choice(self.teams)["id"],
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=3),
                }
            )

    def _project(self, purchaser: str) -> None:
        rng = self.rng
        own = [s for s in self.sources if s["owner_id"] == purchaser]
        source = own[0] if own else rng.choice(self.sources)
        published = self.moment(0.9)
        roll = rng.random()
        status = "published" if roll < 0.2 else "awarded" if roll < 0.7 else "closed"
        project = {
            "id": _id(rng),
            "purchaser_id": purchaser,
            "source_id": source["id"],
            "owner_id": source["owner_id"],
            "published_at": published,
            "status": status,
            "closed_at": min(published + timedelta(days=rng.randrange(1, 200)), self.now)
            if status == "closed"
            else None,
            "budget": 1_000_000,
        }
        self.projects.append(project)
        if status == "published":
            return
        contract_id = _id(rng)
        project["contract_id"] = contract_id
        contractor = rng.choice(self.providers)
        project["contractor_id"] = contractor
        amount = rng.randrange(3, 10) * 100_000
        awarded = published + timedelta(days=rng.randrange(0, 30))
        awarded = min(awarded, self.now - timedelta(minutes=1))
        self.commitments.append(
            {
                "contract_id": contract_id,
                "project_id": project["id"],
                "source_id": source["id"],
                "payee_id": contractor,
                "amount": amount,
                "created_at": awarded,
            }
        )
        tranche = amount // 3
        for seq in range(3):
            due = (awarded + timedelta(days=60 * (seq + 1))).astimezone(UTC).date()
            outcome = rng.random()
            milestone = {
                "id": _id(rng),
                "contract_id": contract_id,
                "purchaser_id": purchaser,
                "seq": seq + 1,
                "due_on": due,
                "amount": tranche if seq < 2 else amount - 2 * tranche,
                "status": "pending",
                "accepted_on_time": None,
            }
            if outcome < 0.6:
                milestone.update(status="accepted", accepted_on_time=outcome < 0.45)
                paid = rng.random() < 0.7
                paid_at = min(
                    datetime.combine(due, datetime.min.time(), UTC) + timedelta(days=3), self.now
                )
                self.disbursements.append(
                    {
                        "id": _id(rng),
                        "contract_id": contract_id,
                        "project_id": project["id"],
                        "milestone_id": milestone["id"],
                        "source_id": source["id"],
                        "payee_id": contractor,
                        "amount": milestone["amount"],
                        "status": "paid" if paid else "approved",
                        "paid_at": paid_at if paid else None,
                        "requested_at": paid_at - timedelta(days=1),
                    }
                )
            self.milestones.append(milestone)

    def hours(self) -> Iterator[dict[str, Any]]:
        """The service hours entries, generated again on every call (a million do not stay
        in memory): deterministic from their index."""
        rng = random.Random(self.shape.hours)
        activities = self.activities
        for index in range(self.shape.hours):
            activity = activities[index % len(activities)]
            roll = rng.random()
            status = "verified" if roll < 0.8 else "pending" if roll < 0.9 else "rejected"
            started = self.start + timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
            if started >= self.now:
                started = self.start - timedelta(days=rng.randrange(1, 100))
            yield {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "team_id": activity["team_id"],
                "activity_id": activity["id"],
                "volunteer_id": self.volunteers[index % len(self.volunteers)]["id"],
                "minutes": 30 + rng.randrange(0, 8) * 15,
                "started_at": started,
                "status": status,
            }

    # --- the figures it must give ------------------------------------------------------------

    def expected(self) -> dict[str, dict[str, Any]]:
        """Per child of the root: every figure of the assessment, counted here."""
        figures: dict[str, dict[str, Any]] = {child: defaultdict(int) for child in self.children}

        def add(child: str | None, name: str, amount: int = 1) -> None:
            if child is not None:
                figures[child][name] += amount

        self._expect_registry(figures)
        inside = self._inside
        for project in self.projects:
            child = self.child_of(project["purchaser_id"])
            add(child, "projects_published", inside(project["published_at"]))
            add(
                child,
                "projects_completed",
                project["status"] == "closed" and inside(project["closed_at"]),
            )
        last_day = min(date(self.year, 12, 31), self.now.astimezone(_china()).date())
        for milestone in self.milestones:
            if date(self.year, 1, 1) <= milestone["due_on"] <= last_day:
                child = self.child_of(milestone["purchaser_id"])
                add(child, "milestones_due")
                add(child, "milestones_on_time", bool(milestone["accepted_on_time"]))
        owners = {source["id"]: source["owner_id"] for source in self.sources}
        for commitment in self.commitments:
            if inside(commitment["created_at"]):
                add(
                    self.child_of(owners[commitment["source_id"]]),
                    "money_committed",
                    commitment["amount"],
                )
        for disbursement in self.disbursements:
            if disbursement["status"] == "paid" and inside(disbursement["paid_at"]):
                add(
                    self.child_of(owners[disbursement["source_id"]]),
                    "money_paid",
                    disbursement["amount"],
                )
        for volunteer in self.volunteers:
            if inside(volunteer["created_at"]):
                add(self.child_of(volunteer["organization_id"]), "volunteers_registered")
        hosts = {team["id"]: team["host_id"] for team in self.teams}
        for entry in self.hours():
            if entry["status"] == "verified" and inside(entry["started_at"]):
                add(self.child_of(hosts[entry["team_id"]]), "verified_minutes", entry["minutes"])
        for activity in self.activities:
            if inside(activity["starts_at"]) and activity["ends_at"] <= self.now:
                add(self.child_of(hosts[activity["team_id"]]), "activities_held")
        return {child: dict(values) for child, values in figures.items()}

    def _inside(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    def _expect_registry(self, figures: dict[str, Any]) -> None:
        covered_hosts = {
            org.parent_id
            for org in self.orgs.values()
            if org.kind == "womens_organization" and org.status in ACTIVE
        }
        per_sector: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        for org in self.orgs.values():
            child = self.child_of(org.id)
            if child is None or org.id == child:
                continue
            if org.kind == "host_unit" and org.status != "deregistered":
                per_sector[child][(org.sector or "", "units")] += 1
                per_sector[child][(org.sector or "", "covered")] += org.id in covered_hosts
            if org.kind == "womens_organization" and org.status != "deregistered":
                figures[child]["womens_organizations_founded"] += self._inside(org.created_at)
        for child in self.children:
            counts = per_sector[child]
            figures[child]["sectors"] = {
                sector: (counts[(sector, "units")], counts[(sector, "covered")])
                for sector in SECTORS
            }

    # --- rows per service ------------------------------------------------------------------------

    def registry_rows(self) -> dict[str, Iterable[dict[str, Any]]]:
        def organizations() -> Iterator[dict[str, Any]]:
            for org in self.orgs.values():
                path = self.path(org.id)
                yield {
                    "id": org.id,
                    "name": org.name,
                    "search_name": org.name,
                    "kind": org.kind,
                    "level": org.level,
                    "sector": org.sector,
                    "contact": {},
                    "parent_id": org.parent_id,
                    "path": path,
                    "depth": path.count("/") - 2,
                    "status": org.status,
                    "version": 1,
                    "created_by": ACTOR,
                    "created_at": org.created_at,
                    "updated_at": org.created_at,
                }

        return {"organizations": organizations()}

    def directory_rows(self) -> Iterator[dict[str, Any]]:
        for org in self.orgs.values():
            yield {
                "id": org.id,
                "kind": org.kind,
                "name": org.name,
                "parent_id": org.parent_id,
                "path": self.path(org.id),
                "status": org.status,
                "status_version": 1,
                "details_version": 1,
                "updated_at": org.created_at,
            }

    def projects_rows(self) -> dict[str, Iterable[dict[str, Any]]]:
        projects, contracts = [], []
        for project in self.projects:
            projects.append(
                {
                    "id": project["id"],
                    "title": "项目",
                    "search_title": "项目",
                    "category": "other",
                    "model": "commissioned",
                    "purchaser_id": project["purchaser_id"],
                    "funding_source_id": project["source_id"],
                    "budget": project["budget"],
                    "starts_on": date(self.year, 1, 1),
                    "ends_on": date(self.year + 1, 12, 31),
                    "indicators": [],
                    "indicator_actuals": {},
                    "status": project["status"],
                    "contract_id": project.get("contract_id"),
                    "contractor_id": project.get("contractor_id"),
                    "created_by": ACTOR,
                    "created_at": project["published_at"],
                    "updated_at": project["published_at"],
                    "published_at": project["published_at"],
                    "closed_at": project["closed_at"],
                    "version": 1,
                }
            )
            if "contract_id" in project:
                contracts.append(
                    {
                        "id": project["contract_id"],
                        "project_id": project["id"],
                        "purchaser_id": project["purchaser_id"],
                        "funding_source_id": project["source_id"],
                        "contractor_id": project["contractor_id"],
                        "amount": 900_000,
                        "status": "completed" if project["status"] == "closed" else "active",
                        "contractor_status_version": 1,
                        "commitment_status": "committed",
                        "awarded_by": ACTOR,
                        "awarded_at": project["published_at"],
                        "updated_at": project["published_at"],
                    }
                )
        milestones = (
            {
                "id": m["id"],
                "contract_id": m["contract_id"],
                "seq": m["seq"],
                "title": "阶段",
                "deliverables": "成果",
                "due_on": m["due_on"],
                "amount": m["amount"],
                "status": m["status"],
                "accepted_on_time": m["accepted_on_time"],
                "payment_status": "none",
                "paid_amount": 0,
            }
            for m in self.milestones
        )
        return {
            "directory_organizations": self.directory_rows(),
            "projects": projects,
            "contracts": contracts,
            "milestones": milestones,
        }

    def funding_rows(self) -> dict[str, Iterable[dict[str, Any]]]:
        committed: Counter[str] = Counter()
        disbursed: Counter[str] = Counter()
        paid: Counter[str] = Counter()
        per_contract_disbursed: Counter[str] = Counter()
        per_contract_paid: Counter[str] = Counter()
        for c in self.commitments:
            committed[c["source_id"]] += c["amount"]
        for d in self.disbursements:
            disbursed[d["source_id"]] += d["amount"]
            per_contract_disbursed[d["contract_id"]] += d["amount"]
            if d["status"] == "paid":
                paid[d["source_id"]] += d["amount"]
                per_contract_paid[d["contract_id"]] += d["amount"]
        at = self.start - timedelta(days=30)
        sources = [
            {
                "id": s["id"],
                "name": "财政专项",
                "kind": "fiscal_special_fund",
                "owner_id": s["owner_id"],
                "fiscal_year": self.year,
                "amount": committed[s["id"]] + 10**9,
                "available": 10**9,
                "committed": committed[s["id"]],
                "disbursed": disbursed[s["id"]],
                "paid": paid[s["id"]],
                "created_by": ACTOR,
                "created_at": at,
                "updated_at": at,
                "version": 1,
            }
            for s in self.sources
        ]
        commitments = [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_OID, c["contract_id"])),
                **{k: c[k] for k in ("contract_id", "project_id", "source_id", "payee_id")},
                "amount": c["amount"],
                "released": 0,
                "disbursed": per_contract_disbursed[c["contract_id"]],
                "paid": per_contract_paid[c["contract_id"]],
                "status": "active",
                "cause": "contract_awarded",
                "created_at": c["created_at"],
                "updated_at": c["created_at"],
                "awarded_by": ACTOR,
            }
            for c in self.commitments
        ]
        disbursements = (
            {
                **{k: d[k] for k in ("id", "contract_id", "project_id", "milestone_id")},
                **{k: d[k] for k in ("source_id", "payee_id", "amount", "status", "paid_at")},
                "required_approvals": 1,
                "requested_by": ACTOR,
                "requested_at": d["requested_at"],
                "cause": "milestone_accepted",
                "paid_by": ACTOR if d["status"] == "paid" else None,
                "payment_reference": f"REF-{d['id']}" if d["status"] == "paid" else None,
                "payee_status_version": 1,
                "updated_at": d["requested_at"],
                "version": 1,
            }
            for d in self.disbursements
        )
        return {
            "directory_organizations": self.directory_rows(),
            "funding_sources": sources,
            "commitments": commitments,
            "disbursements": disbursements,
        }

    def volunteers_rows(self) -> dict[str, Iterable[dict[str, Any]]]:
        at = self.start - timedelta(days=60)
        teams = [
            {
                "id": t["id"],
                "name": f"队{t['id'][:8]}",
                "search_name": f"队{t['id'][:8]}",
                "theme": "caring",
                "host_id": t["host_id"],
                "created_by": ACTOR,
                "created_at": at,
                "updated_at": at,
                "version": 1,
            }
            for t in self.teams
        ]
        volunteers = (
            {
                "id": v["id"],
                "name": "志愿者",
                "search_name": "志愿者",
                "phone_cipher": "x",
                "phone_hash": v["id"],
                "skills": [],
                "consented_on": date(self.year - 1, 1, 1),
                "created_by": ACTOR,
                "created_at": v["created_at"],
                "organization_id": v["organization_id"],
            }
            for v in self.volunteers
        )
        activities = [
            {
                "id": a["id"],
                "title": "活动",
                "search_title": "活动",
                "team_id": a["team_id"],
                "starts_at": a["starts_at"],
                "ends_at": a["ends_at"],
                "capacity": 30,
                "created_by": ACTOR,
                "created_at": a["starts_at"] - timedelta(days=7),
                "version": 1,
            }
            for a in self.activities
        ]
        hours = (
            {
                **h,
                "ended_at": h["started_at"] + timedelta(minutes=h["minutes"]),
                "service_month": h["started_at"].astimezone(_china()).strftime("%Y-%m"),
                "logged_by": ACTOR,
                "logged_at": h["started_at"] + timedelta(hours=4),
                "version": 1,
            }
            for h in self.hours()
        )
        return {
            "directory_organizations": self.directory_rows(),
            "teams": teams,
            "volunteers": volunteers,
            "activities": activities,
            "service_hours": hours,
        }


def _china() -> Any:
    from language.assessment import CHINA

    return CHINA


# --- loading ---------------------------------------------------------------------------------


def _filled(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """Every column of the table: the row's value, else NULL if nullable, else a plain value
    of the column's type."""
    out = {}
    for column in table.columns:
        if column.name in row:
            out[column.name] = row[column.name]
        elif column.nullable:
            out[column.name] = None
        else:
            out[column.name] = _plain(column)
    return out


def _plain(column: sa.Column) -> Any:
    kind = column.type
    if isinstance(kind, sa.JSON):
        return {}
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 0
    if isinstance(kind, sa.Date):
        return date(2020, 1, 1)
    if isinstance(kind, sa.DateTime) or "DateTime" in type(kind).__name__:
        return datetime(2020, 1, 1, tzinfo=UTC)
    return "x"


def _copy_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    return value


def tables_of(metadata_list: Iterable[sa.MetaData]) -> dict[str, sa.Table]:
    tables = {}
    for metadata in metadata_list:
        tables.update(metadata.tables)
    return tables


def load(
    url: str,
    tables: dict[str, sa.Table],
    rows: dict[str, Iterable[dict[str, Any]]],
    chunk: int = 100_000,
) -> dict[str, int]:
    """Write every table's rows (COPY on PostgreSQL, batched INSERTs elsewhere); how many."""
    engine = sa.create_engine(
        url.replace("postgresql://", "postgresql+psycopg2://", 1)
        if url.startswith("postgresql://")
        else url,
        poolclass=sa.pool.NullPool,
    )
    written: dict[str, int] = {}
    try:
        for name, table_rows in rows.items():
            table = tables[name]
            if engine.dialect.name == "postgresql":
                written[name] = _copy(engine, table, table_rows, chunk)
            else:
                written[name] = _insert(engine, table, table_rows, chunk)
    finally:
        engine.dispose()
    return written


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(engine: sa.Engine, table: sa.Table, rows: Iterable[dict[str, Any]], size: int) -> int:
    count = 0
    with engine.begin() as connection:
        for batch in _batches(rows, size):
            connection.execute(sa.insert(table), [_filled(table, row) for row in batch])
            count += len(batch)
    return count


def _copy(engine: sa.Engine, table: sa.Table, rows: Iterable[dict[str, Any]], size: int) -> int:
    """COPY in CSV, with foreign keys' triggers off for the session (the generator keeps
    them; checking a million rows' three references would take most of the load's time)."""
    import psycopg2.extensions

    columns = [column.name for column in table.columns]
    missing = {
        column.name: None if column.nullable else _copy_value(_plain(column))
        for column in table.columns
    }
    statement = (
        f'COPY "{table.name}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) '
        "FROM STDIN WITH (FORMAT csv)"
    )
    count = 0
    # psycogreen's wait callback (kit.db makes psycopg2 cooperative) refuses COPY
    green_wait = psycopg2.extensions.get_wait_callback()
    psycopg2.extensions.set_wait_callback(None)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET session_replication_role = replica")
        for batch in _batches(rows, size):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for row in batch:
                cells = []
                for name in columns:
                    value = _copy_value(row[name]) if name in row else missing[name]
                    cells.append("" if value is None else value)
                writer.writerow(cells)
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)
            count += len(batch)
        raw.commit()
    finally:
        raw.close()
        psycopg2.extensions.set_wait_callback(green_wait)
    return count


def seed(province: Province, urls: dict[str, str]) -> dict[str, dict[str, int]]:
    """Load the province into each service's database (migrated already): how many rows."""
    from funding.models import metadata as funding_metadata
    from projects.models import metadata as projects_metadata
    from registry.models import metadata as registry_metadata
    from volunteers.models import metadata as volunteers_metadata

    directory = directory_table.metadata
    plan = {
        "registry": ([registry_metadata], province.registry_rows()),
        "projects": ([projects_metadata, directory], province.projects_rows()),
        "funding": ([funding_metadata, directory], province.funding_rows()),
        "volunteers": ([volunteers_metadata, directory], province.volunteers_rows()),
    }
    return {
        service: load(urls[service], tables_of(metadata), rows)
        for service, (metadata, rows) in plan.items()
    }
