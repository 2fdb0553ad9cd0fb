"""Coverage over a large subtree on PostgreSQL: the database query, and the whole RPC.

The tree is built fast but faithfully: every organization and status change is made by the
registry's own domain code (``registry.domain.organization.register`` and
``Organization.transition``, so ``path``, ``depth``, ``search_name``, status, version and
timestamps are what ``handlers.register_organization`` would store), then bulk-loaded with COPY
into a database migrated with Alembic. Outbox rows are not written: the coverage query never
reads them.

A city federation, districts, townships and ~100,000 host units spread over them, most with
a women's organization child; a few host units are suspended or deregistered and a few
women's organizations suspended, so every filter of the query has something to filter.

Environment (see tests/bench/common.py for BENCH_SCALE):
    BENCH_COVERAGE_HOST_UNITS   host units in the tree (default 100,000 × BENCH_SCALE)
    BENCH_COVERAGE_RUNS         timed runs after one warm-up (default 7)
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2.extensions
import pytest
import sqlalchemy as sa

from kit.config import load_config
from kit.db import connect
from kit.migrate import upgrade
from language.actor import Actor
from registry.domain.hierarchy import ancestor_ids
from registry.domain.lifecycle import StatusChange
from registry.domain.organization import Organization
from registry.domain.organization import register as register_organization
from registry.models import organizations, status_changes
from registry.repository import OrganizationRepository
from registry.service import RegistryService
from tests.bench.common import ROOT, Stopwatch, median, note, report, scaled, setting
from tests.conftest import free_port
from tests.support.infra import scratch_postgres_database
from tests.support.rpc import ServiceRpcProxy

BENCH = "registry.coverage"
ADMIN = Actor(user_id="a0000000-0000-4000-8000-000000000001", username="admin", role="admin")
PATH_INDEXES = ("ix_organizations_kind_path", "ix_organizations_path")
DISTRICTS = 10
TOWNSHIPS_PER_DISTRICT = 10

#: sector -> (share of host units, share of those with a women's organization)
SECTORS = {
    "non_public_enterprise": (0.55, 0.90),
    "social_organization": (0.10, 0.55),
    "public_institution": (0.12, 0.95),
    "government_agency": (0.05, 0.98),
    "community": (0.10, 1.00),
    "village": (0.08, 1.00),
}
NAMES = {
    "non_public_enterprise": "科技有限公司",
    "social_organization": "社会服务中心",
    "public_institution": "事业单位",
    "government_agency": "机关",
    "community": "社区",
    "village": "村",
}


@dataclass(frozen=True)
class Node:
    id: str
    path: str


@dataclass
class Tree:
    """What was built — as table rows, ready to load — and the coverage it must report.

    Rows are taken from the domain objects once the build is done: objects created before
    ``start_mappers()`` instruments the domain classes cannot be read after it.
    """

    organizations: list[Organization] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    organization_rows: list[list[Any]] = field(default_factory=list)
    change_rows: list[list[Any]] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    #: top of a subtree (id) -> sector -> [host units counted, covered]
    expected: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    city: Node | None = None
    districts: list[Node] = field(default_factory=list)

    def add(self, organization: Organization, *changes: StatusChange) -> None:
        organization.pull_events()  # the outbox is not loaded (see the module docstring)
        self.organizations.append(organization)
        self.changes.extend(changes)

    def expect(self, ancestors: list[str], sector: str, counted: bool, covered: bool) -> None:
        for ancestor in ancestors:
            line = self.expected.setdefault(ancestor, {}).setdefault(sector, [0, 0])
            line[0] += counted
            line[1] += covered

    def freeze(self) -> None:
        self.kinds = Counter(o.kind for o in self.organizations)
        self.organization_rows = rows(organizations, self.organizations)
        self.change_rows = rows(status_changes, self.changes)
        self.organizations, self.changes = [], []


def rows(table: sa.Table, objects: list[Any]) -> list[list[Any]]:
    """Each object's attributes in the table's column order, as COPY's CSV wants them."""
    columns = [column.name for column in table.columns]
    return [[_csv_value(getattr(obj, name)) for name in columns] for obj in objects]


def _csv_value(value: Any) -> Any:
    if value is None:
        return None  # written unquoted and empty: NULL in COPY's CSV format
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value)  # what SQLAlchemy's JSON type stores
    return value


class Timeline:
    """Strictly increasing moments, one per write, as a real registry would see them."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

    def tick(self) -> datetime:
        self.now += timedelta(milliseconds=700)
        return self.now


def build_tree(host_units: int, seed: int = 20261122) -> Tree:
    rng = random.Random(seed)
    clock = Timeline()
    tree = Tree()

    def register(parent: Organization | None = None, **kwargs: Any) -> Organization:
        organization, change = register_organization(
            parent=parent, actor=ADMIN, at=clock.tick(), **kwargs
        )
        tree.add(organization, change)
        return organization

    def transition(organization: Organization, action: str, reason: str | None = None):
        tree.changes.append(organization.transition(action, ADMIN, reason, clock.tick()))
        organization.pull_events()

    city = register(name="某市妇女联合会", kind="federation", level="city", region_code="330100")
    transition(city, "verify")
    tree.city = Node(city.id, city.path)
    townships = []
    for d in range(DISTRICTS):
        district = register(
            name=f"第{d + 1:02d}区妇联", kind="federation", level="county", parent=city
        )
        transition(district, "verify")
        tree.districts.append(Node(district.id, district.path))
        for t in range(TOWNSHIPS_PER_DISTRICT):
            township = register(
                name=f"第{d + 1:02d}区{t + 1:02d}街道妇联",
                kind="federation",
                level="township",
                parent=district,
            )
            transition(township, "verify")
            townships.append(township)

    sectors = list(SECTORS)
    weights = [share for share, _ in SECTORS.values()]
    for i in range(host_units):
        township = townships[i % len(townships)]
        sector = rng.choices(sectors, weights)[0]
        host = register(
            name=f"{i:06d}{NAMES[sector]}", kind="host_unit", sector=sector, parent=township
        )
        fate = rng.random()
        has_women = fate >= 0.01 and rng.random() < SECTORS[sector][1]
        women_active = False
        if has_women:
            women = register(name=f"{host.name}妇委会", kind="womens_organization", parent=host)
            women_active = True
            if rng.random() < 0.6:
                transition(women, "verify")
                if rng.random() < 0.03:
                    transition(women, "suspend", "换届未完成")
                    women_active = False
        if fate < 0.01:  # deregistered: no active children, so never a women's organization
            transition(host, "deregister", "企业注销")
        elif rng.random() < 0.75:
            transition(host, "verify")
            if rng.random() < 0.01:
                transition(host, "suspend", "年检未通过")
        counted = host.status != "deregistered"
        ancestors = ancestor_ids(host.path)[:-1]
        tree.expect(ancestors, sector, counted, counted and women_active)
    tree.freeze()
    return tree


def copy_rows(connection: Any, table: sa.Table, rows: list[list[Any]], chunk: int = 20_000) -> None:
    """COPY ``rows`` (values in column order) into ``table``."""
    columns = ", ".join(column.name for column in table.columns)
    statement = f"COPY {table.name} ({columns}) FROM STDIN WITH (FORMAT csv)"
    # psycogreen's wait callback (kit.db makes psycopg2 cooperative) refuses COPY: the load
    # blocks this process for its duration, which nothing else here minds
    green_wait = psycopg2.extensions.get_wait_callback()
    psycopg2.extensions.set_wait_callback(None)
    try:
        with connection.cursor() as cursor:
            for start in range(0, len(rows), chunk):
                buffer = io.StringIO()
                csv.writer(buffer).writerows(rows[start : start + chunk])
                buffer.seek(0)
                cursor.copy_expert(statement, buffer)
    finally:
        psycopg2.extensions.set_wait_callback(green_wait)


@pytest.fixture(scope="module")
def loaded(postgres_admin_url):
    host_units = scaled("BENCH_COVERAGE_HOST_UNITS", 100_000, minimum=200)
    with scratch_postgres_database(postgres_admin_url, "jinguo_bench_coverage") as url:
        upgrade("registry", url)
        clock = Stopwatch()
        tree = build_tree(host_units)
        built = clock.elapsed
        with connect(url, service_name="registry") as db:
            raw = db.engine.raw_connection()
            try:
                copy_rows(raw.driver_connection, organizations, tree.organization_rows)
                copy_rows(raw.driver_connection, status_changes, tree.change_rows)
                raw.commit()
            finally:
                raw.close()
            loaded_at = clock.elapsed
            # a table that has lived a while has been vacuumed and analysed by autovacuum
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE organizations")
                conn.exec_driver_sql("VACUUM ANALYZE organization_status_changes")
        loaded_rows = len(tree.organization_rows) + len(tree.change_rows)
        note(
            f"{BENCH}: built {len(tree.organization_rows)} organizations "
            f"({dict(tree.kinds)}) and {len(tree.change_rows)} "
            f"status changes with the domain in {built:.1f}s, COPY {loaded_at - built:.1f}s "
            f"({loaded_rows / max(loaded_at - built, 1e-9):.0f} rows/s), vacuum+analyze "
            f"{clock.elapsed - loaded_at:.1f}s"
        )
        yield url, tree


def expected_counts(tree: Tree, organization_id: str) -> dict[str, tuple[int, int]]:
    return {
        sector: (units, covered)
        for sector, (units, covered) in tree.expected[organization_id].items()
        if units
    }


def time_runs(call: Any, runs: int) -> tuple[list[float], Any]:
    result = call()  # warm-up
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        durations.append(time.perf_counter() - started)
    return durations, result


def test_coverage_query_and_rpc(loaded, container_factory, rabbit_config):
    url, tree = loaded
    runs = setting("BENCH_COVERAGE_RUNS", 7)
    targets = [("city", tree.city), ("district", tree.districts[0])]

    with connect(url, service_name="registry") as db:
        captured: list[tuple[str, Any]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        for label, top in targets:
            expected = expected_counts(tree, top.id)
            units = sum(u for u, _ in expected.values())

            def query(path: str = top.path) -> dict[str, tuple[int, int]]:
                with db(readonly=True) as uow:
                    return OrganizationRepository(uow.session).coverage_counts(path)

            durations, counts = time_runs(query, runs)
            assert counts == expected
            report(
                f"{BENCH}.query",
                label,
                f"{units} host units in the subtree, median {median(durations) * 1000:.1f} ms, "
                f"max {max(durations) * 1000:.1f} ms ({runs} runs after 1 warm-up)",
                host_units=units,
                runs=runs,
                median_ms=round(median(durations) * 1000, 2),
                max_ms=round(max(durations) * 1000, 2),
                target_ms=500,
            )

            sa.event.listen(db.engine, "before_cursor_execute", capture)
            try:
                query()
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", capture)
            statement, parameters = next(s for s in captured if "FROM organizations" in s[0])
            captured.clear()
            with db.begin(write=False) as connection:
                plan = (
                    connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                    )
                    .scalars()
                    .all()
                )
            uses_index = any(index in line for line in plan for index in PATH_INDEXES)
            note(f"{BENCH}.query {label}: EXPLAIN ANALYZE\n    " + "\n    ".join(plan))
            report(
                f"{BENCH}.plan",
                label,
                f"path index used: {'yes' if uses_index else 'NO'}; {plan[-1].strip()}",
                uses_path_index=uses_index,
                plan=plan,
            )

    config = load_config(
        ROOT / "services/registry/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=url,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
    )
    container_factory(RegistryService, config).start()
    with ServiceRpcProxy("registry", config, timeout=60) as registry:
        for label, top in targets:
            expected = expected_counts(tree, top.id)
            durations, result = time_runs(
                lambda top=top: registry.coverage(top.id, ADMIN.to_dict()), runs
            )
            got = {
                line["sector"]: (line["host_units"], line["covered"])
                for line in result["sectors"]
                if line["host_units"]
            }
            assert got == expected
            assert result["total"]["host_units"] == sum(u for u, _ in expected.values())
            report(
                f"{BENCH}.rpc",
                label,
                f"{result['total']['host_units']} host units, median "
                f"{median(durations) * 1000:.1f} ms, max {max(durations) * 1000:.1f} ms "
                f"({runs} runs after 1 warm-up)",
                host_units=result["total"]["host_units"],
                runs=runs,
                median_ms=round(median(durations) * 1000, 2),
                max_ms=round(max(durations) * 1000, 2),
                target_ms=500,
            )
