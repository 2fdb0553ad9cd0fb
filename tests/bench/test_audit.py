"""What the audit trail costs: the project flow's writes with and without it, and ``verify``.

**Writes.** The projects service's six-write flow (``test_projects_writes``: draft → publish →
apply → award → report → accept), called in process through ``worker_factory`` on one
database, alternately with the trail on and off — the switch is ``AUDIT_TRAIL`` (the
``DatabaseResource``'s ``audit_trail``), which only this benchmark turns off — in rounds, so
that both see the same machine. A third way, ``before``, runs with the trail on but appended
as before the follow-up (lock and head read, then the insert, every time), for before/after
figures from the same run. Printed: writes per second in one thread, CPU per write and SQL
statements per flow, each way, and the difference (target: at most 10 % slower).

**Verify.** ``kit.audit.verify`` over a log of ``BENCH_AUDIT_RECORDS`` records (default
1,000,000 × BENCH_SCALE), built as a real chain and inserted with COPY (PostgreSQL) or
executemany (SQLite); target under 30 s.

Environment:
    BENCH_AUDIT_FLOWS     flows each way (default 200 × BENCH_SCALE)
    BENCH_AUDIT_ROUNDS    rounds the flows are split into, rotating the ways' order (default 6)
    BENCH_AUDIT_RECORDS   records verified (default 1,000,000 × BENCH_SCALE)
    BENCH_BACKENDS        comma-separated subset of "sqlite,postgresql" (default both)
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from nameko.testing.services import worker_factory

from kit import audit
from kit.db import DatabaseResource
from kit.migrate import upgrade
from projects.service import ProjectsService
from tests.bench.common import note, report, scaled, setting
from tests.bench.flows import BACKENDS
from tests.bench.test_projects_writes import USE_CASES, StatementCounter, World, one_flow
from tests.support.infra import scratch_postgres_database

BENCH = "audit"


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
        upgrade("projects", url)
        yield url
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with scratch_postgres_database(admin_url, "jinguo_bench_audit") as url:
        upgrade("projects", url)
        yield url


def _rate(service: Any, world: World, flows: int, start: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``flows`` flows."""
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(flows):
        one_flow(service, world, start + index)
    return time.perf_counter() - wall, time.process_time() - cpu


def _append_before(
    connection_or_session: Any, actor: Any, entry: audit.AuditEntry, at: datetime
) -> dict[str, Any]:
    """How ``kit.audit.append`` wrote before issue 17's follow-up (for the "before" figures
    of the same run): the lock and the read of the head, then the insert, every time."""
    connection = audit._connection(connection_or_session)
    seq, prev_hash = audit.locked_head(connection)
    record = audit.build_record(actor, entry, at, seq=seq + 1, prev_hash=prev_hash)
    connection.execute(audit.audit_records.insert(), record)
    return record


@contextmanager
def _way(way: str) -> Any:
    """``before``: the trail on, appended as before; ``on``: as now; ``off``: no trail."""
    if way != "before":
        yield
        return
    current = audit.append
    audit.append = _append_before
    try:
        yield
    finally:
        audit.append = current


WAYS = ("on", "before", "off")


def test_the_project_flow_with_and_without_the_audit_trail(database):
    resources = {
        way: DatabaseResource(database, service_name="projects", audit_trail=way != "off")
        for way in WAYS
    }
    try:
        backend = resources["on"].engine.dialect.name
        services = {way: worker_factory(ProjectsService, db=r) for way, r in resources.items()}
        world = World(resources["on"])
        statements = {}
        for number, (way, service) in enumerate(services.items()):
            with _way(way):
                for index in range(5):  # warm caches
                    one_flow(service, world, 50 * number + index)
                counter = StatementCounter(resources[way].engine)
                one_flow(service, world, 50 * number + 40)
            statements[way] = counter.count
        flows = scaled("BENCH_AUDIT_FLOWS", 200)
        rounds = max(1, setting("BENCH_AUDIT_ROUNDS", 6))
        spent = {way: [0.0, 0.0] for way in services}
        for round_ in range(rounds):
            order = WAYS[round_ % 3 :] + WAYS[: round_ % 3]
            for way in order if round_ % 2 == 0 else order[::-1]:
                start = 1000 + (round_ * 3 + WAYS.index(way)) * flows
                with _way(way):
                    wall, cpu = _rate(services[way], world, flows // rounds, start)
                spent[way][0] += wall
                spent[way][1] += cpu
        writes = (flows // rounds) * rounds * len(USE_CASES)
        rate = {way: writes / spent[way][0] for way in services}
        cpu_ms = {way: spent[way][1] / writes * 1000 for way in services}
        slower = {way: (rate["off"] / rate[way] - 1) * 100 for way in ("on", "before")}
        with resources["on"].begin(write=False) as connection:
            checked = audit.verify(connection)
        assert checked.ok
        report(
            BENCH,
            f"writes {backend}",
            f"with the trail {rate['on']:.0f} writes/s, CPU {cpu_ms['on']:.2f} ms/write, "
            f"{statements['on']} statements/flow ({slower['on']:+.1f} % time per write); "
            f"as before (head read every append) {rate['before']:.0f} writes/s, CPU "
            f"{cpu_ms['before']:.2f} ms/write, {statements['before']} statements/flow "
            f"({slower['before']:+.1f} %); without {rate['off']:.0f} writes/s, CPU "
            f"{cpu_ms['off']:.2f} ms/write, {statements['off']} statements/flow "
            f"({writes} writes each way, {rounds} rounds rotating the order, one thread; "
            f"log verified: {checked.records} records)",
            writes=writes,
            writes_per_s=rate,
            cpu_ms_per_write=cpu_ms,
            statements_per_flow=statements,
            slower_percent=round(slower["on"], 1),
            slower_percent_before=round(slower["before"], 1),
        )
    finally:
        for resource in resources.values():
            resource.dispose()


def _chain(count: int) -> Any:
    """``count`` chained records as column tuples (what the services write, one per act)."""
    prev = audit.GENESIS
    at = datetime(2026, 1, 1, tzinfo=UTC)
    actor = {
        "user_id": str(uuid.uuid4()),
        "username": "city.staff",
        "role": "federation_staff",
        "organization_id": str(uuid.uuid4()),
        "request": {"client_address": "10.1.2.3", "request_id": "r"},
    }
    for seq in range(1, count + 1):
        entry = audit.AuditEntry(
            "publish_project",
            "project",
            str(uuid.uuid4()),
            changes=({"field": "status", "before": "draft", "after": "published"},),
            scope_path="/a0b1c2d3-0000-4000-8000-000000000001/",
        )
        record = audit.build_record(
            actor, entry, at + timedelta(milliseconds=seq), seq=seq, prev_hash=prev
        )
        prev = record["hash"]
        yield record


COLUMNS = [column.name for column in audit.audit_records.c]


def _insert(engine: sa.Engine, count: int, batch: int = 50_000) -> None:
    postgres = engine.dialect.name == "postgresql"
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        if not rows:
            return
        with engine.begin() as connection:
            if postgres:
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                for row in rows:
                    writer.writerow(
                        [
                            json.dumps(row[c], ensure_ascii=False)
                            if c == "changes"
                            else ("" if row[c] is None else row[c])
                            for c in COLUMNS
                        ]
                    )
                buffer.seek(0)
                import psycopg2.extensions

                # psycogreen's wait callback refuses COPY (as in the volunteers' import)
                green_wait = psycopg2.extensions.get_wait_callback()
                psycopg2.extensions.set_wait_callback(None)
                try:
                    with connection.connection.driver_connection.cursor() as cursor:
                        cursor.copy_expert(
                            f"COPY audit_records ({', '.join(COLUMNS)}) "
                            "FROM STDIN WITH (FORMAT csv)",
                            buffer,
                        )
                finally:
                    psycopg2.extensions.set_wait_callback(green_wait)
            else:
                connection.execute(audit.audit_records.insert(), rows)
        rows.clear()

    for record in _chain(count):
        rows.append(record)
        if len(rows) >= batch:
            flush()
    flush()


def test_verify_a_million_records(database):
    count = scaled("BENCH_AUDIT_RECORDS", 1_000_000)
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        started = time.perf_counter()
        _insert(engine, count)
        built = time.perf_counter() - started
        backend = engine.dialect.name
        note(f"{BENCH} verify {backend}: {count} records built and inserted in {built:.1f} s")
        started = time.perf_counter()
        with engine.connect() as connection, connection.begin():
            result = audit.verify(connection)
        took = time.perf_counter() - started
        assert result.ok and result.records == count, result
        report(
            BENCH,
            f"verify {engine.dialect.name}",
            f"{count} records verified in {took:.1f} s ({count / took:.0f} records/s; "
            "target under 30 s for 1,000,000)",
            records=count,
            seconds=round(took, 2),
        )
    finally:
        engine.dispose()
