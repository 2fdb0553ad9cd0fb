"""The projects service's write use cases in process: SQL statements and CPU per call.

No broker and no gateway: the ``ProjectsService`` RPC methods (schema load, use case, commit
with its outbox rows, dump) are called directly, through nameko's ``worker_factory`` with a
real database resource, on SQLite and PostgreSQL. The flow is the one the gateway benchmark
runs: draft → publish → apply → award (one milestone) → report → accept.

Two figures per use case:

* **statements** — what the worker sends the database, counted with an engine listener
  (``BEGIN`` included on SQLite, where we issue it; psycopg2 issues PostgreSQL's ``BEGIN``
  implicitly with the first statement and ``COMMIT`` is a connection call, neither counted).
  Deterministic, so it is the number to compare across commits;
* **CPU** — ``time.process_time`` per call, averaged over the flows (machine noise applies).

``BENCH_PROFILE=1`` runs the flows again under cProfile and prints the top functions
(``BENCH_PROFILE_OUT=path`` keeps the pstats file, one per backend).

Environment:
    BENCH_WRITE_FLOWS   flows to time (default 200 × BENCH_SCALE)
    BENCH_BACKENDS      comma-separated subset of "sqlite,postgresql" (default both)
    BENCH_SQL_WIDTH     characters of each statement printed (default 160)
"""

from __future__ import annotations

import collections
import cProfile
import io
import os
import pstats
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from nameko.testing.services import worker_factory

from kit.clock import utcnow
from kit.db import DatabaseResource
from kit.migrate import upgrade
from language.directory import apply_details
from projects.service import ProjectsService
from projects.sources import FundingSources
from tests.bench.common import note, report, scaled
from tests.bench.flows import BACKENDS, SPRING_BUD
from tests.support.infra import scratch_postgres_database

BENCH = "projects.writes_in_process"
#: characters of each statement printed (BENCH_SQL_WIDTH)
SQL_WIDTH = int(os.environ.get("BENCH_SQL_WIDTH") or 160)
USE_CASES = ("draft", "publish", "apply", "award", "report", "accept")


class StatementCounter:
    """Counts cursor executions on an engine (an ``executemany`` counts once)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        self.statements: list[str] = []
        self.keep = False
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.count += 1
        if self.keep:
            self.statements.append(" ".join(statement.split())[:SQL_WIDTH])


class World:
    """A city federation, its staff, and verified providers with a contractor each."""

    def __init__(self, resource: DatabaseResource, providers: int = 16) -> None:
        self.city = str(uuid.uuid4())
        self.providers = [str(uuid.uuid4()) for _ in range(providers)]
        with resource() as uow:
            apply_details(uow, self._fact(self.city, "federation", None, "registered"))
            for provider in self.providers:
                apply_details(uow, self._fact(provider, "service_provider", self.city, "verified"))
            # the city's source, as funding announces it (a project draws on its purchaser's)
            FundingSources(uow.session).remember(
                str(SPRING_BUD.project["funding_source_id"]), self.city, 1, utcnow()
            )
            uow.commit()
        self.staff = self._actor("federation_staff", self.city)
        self.contractors = [self._actor("contractor", p) for p in self.providers]

    @staticmethod
    def _fact(org_id: str, kind: str, parent: str | None, status: str) -> dict[str, Any]:
        return {
            "organization_id": org_id,
            "kind": kind,
            "name": f"org-{org_id[:8]}",
            "parent_id": parent,
            "uscc": None,
            "version": 2,
            "status": status,
            "occurred_at": utcnow(),
        }

    @staticmethod
    def _actor(role: str, organization_id: str) -> dict[str, Any]:
        return {
            "user_id": str(uuid.uuid4()),
            "username": role,
            "role": role,
            "organization_id": organization_id,
        }


def one_flow(
    service: Any, world: World, index: int, step: Any = lambda name, call: call()
) -> dict[str, Any]:
    """Six writes; ``step(name, call)`` runs each (to count or time it)."""
    staff = world.staff
    provider_index = index % len(world.providers)
    provider, contractor = world.providers[provider_index], world.contractors[provider_index]
    project = step(
        "draft",
        lambda: service.draft_project({**SPRING_BUD.project, "title": f"春蕾-{index}"}, staff),
    )
    step("publish", lambda: service.publish_project(project["id"], staff))
    application = step(
        "apply",
        lambda: service.submit_application(
            project["id"],
            {
                "provider_id": provider,
                "amount": SPRING_BUD.amount,
                "proposal": "入户走访与助学金发放",
            },
            contractor,
        ),
    )
    contract = step(
        "award",
        lambda: service.award_contract(
            project["id"],
            {"application_id": application["id"], "milestones": [SPRING_BUD.milestone]},
            staff,
        ),
    )
    milestone_id = contract["milestones"][0]["id"]
    step(
        "report",
        lambda: service.report_milestone(
            contract["id"], milestone_id, SPRING_BUD.report, contractor
        ),
    )
    decided = step("accept", lambda: service.accept_milestone(contract["id"], milestone_id, staff))
    assert decided["status"] == "completed", decided
    return decided


@pytest.fixture(params=BACKENDS)
def resource(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'projects.sqlite3'}"
        upgrade("projects", url)
        db = DatabaseResource(url, service_name="projects")
        yield db
        db.dispose()
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with scratch_postgres_database(admin_url, "jinguo_bench_writes") as url:
        upgrade("projects", url)
        db = DatabaseResource(url, service_name="projects")
        yield db
        db.dispose()


def test_projects_writes_in_process(resource):
    backend = resource.engine.dialect.name
    service = worker_factory(ProjectsService, db=resource)
    world = World(resource)
    counter = StatementCounter(resource.engine)
    for index in range(5):  # warm caches (compiled statements, mappers, schemas)
        one_flow(service, world, index)

    # statements: one flow, with the SQL kept for reading
    counts: dict[str, int] = {}
    sql: dict[str, list[str]] = {}

    def counted(name: str, call: Any) -> Any:
        counter.count, counter.statements, counter.keep = 0, [], True
        result = call()
        counts[name] = counter.count
        sql[name] = counter.statements
        counter.keep = False
        return result

    one_flow(service, world, 5, counted)
    for name in USE_CASES:
        note(f"{BENCH} {backend} {name}: {counts[name]} statements")
        for statement in sql[name]:
            note(f"    {statement}")

    # CPU per use case
    flows = scaled("BENCH_WRITE_FLOWS", 200)
    cpu: dict[str, float] = collections.defaultdict(float)

    def timed(name: str, call: Any) -> Any:
        started = time.process_time()
        result = call()
        cpu[name] += time.process_time() - started
        return result

    wall = time.perf_counter()
    for index in range(flows):
        one_flow(service, world, 100 + index, timed)
    wall = time.perf_counter() - wall
    per_call = {name: round(cpu[name] / flows * 1000, 3) for name in USE_CASES}
    total = sum(cpu.values()) / flows / len(USE_CASES) * 1000
    report(
        BENCH,
        backend,
        f"{sum(counts.values())} statements per flow "
        f"({', '.join(f'{n} {counts[n]}' for n in USE_CASES)}); CPU per write {total:.2f} ms "
        f"({', '.join(f'{n} {per_call[n]:.2f}' for n in USE_CASES)}); "
        f"{flows * len(USE_CASES) / wall:.0f} writes/s in one thread",
        flows=flows,
        statements=counts,
        statements_per_flow=sum(counts.values()),
        cpu_ms_per_write=round(total, 3),
        cpu_ms=per_call,
    )

    if os.environ.get("BENCH_PROFILE"):
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for index in range(flows):
            one_flow(service, world, 10_000 + index)
        profiler.disable()
        out = os.environ.get("BENCH_PROFILE_OUT")
        if out:
            profiler.dump_stats(f"{out}.{backend}")
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(45)
            print(text.getvalue())
