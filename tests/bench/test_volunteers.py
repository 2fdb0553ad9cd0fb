"""Volunteers on PostgreSQL: a CSV import of 100,000 volunteers beside plain ``COPY``, and the
hours report over 1,000,000 entries.

Import. A federation's roster (``volunteers_data.write_roster``: BOM, Chinese headers, ignored
columns, phones as people write them, GB 11643 ID numbers for 60% of rows, skills, consent
dates in three spellings, a team by name for 70%) is written to disk a row at a time, then
imported the way users import it:

* through the gateway's streamed ``POST /volunteers/import`` when the route and the platform's
  volunteers process exist (the file object is the request body), else
* through the service's ``import_volunteers`` RPC, fed exactly as the gateway feeds it: the file
  parsed by ``volunteers.csvimport.read_rows`` in this process, ``csvimport.batches`` of 2,000
  rows, ``BENCH_VOLUNTEERS_PIPELINE`` batches in flight.

The service is a real ``nameko run`` process on its own vhost and scratch database. In the same
run, the same file is loaded by ``COPY ... FROM STDIN (FORMAT csv, HEADER)`` into a plain table
of text columns in another scratch database (three times; the median counts). The ratio of the
two rates is the figure the issue sets a target for (at least 30%). Every row must be imported;
a sample is read back and opened with the keys to prove it is the row of the file.

Where an import's time goes: the first ``BENCH_VOLUNTEERS_PROFILE_ROWS`` rows are imported again
in this process (``imports.import_batch`` on a fresh database, no gateway, RPC or broker), then
as many more under cProfile, and the profiled time is split into validation, look-up hashes,
encryption, duplicate checks, building the COPY and the COPY itself.

Hours report. ``volunteers_data.load_hours`` fills a migrated database with 1,000,000 entries in
the order they would have been logged, then the service's ``hours_report`` RPC is timed for
every grouping, over everything and over a quarter and a year (median and worst of
``BENCH_VOLUNTEERS_REPORT_RUNS`` runs after a warm-up; target under 1 s), checked against
``count(*)``/``sum(minutes)``; EXPLAIN ANALYZE of the slowest one is printed.

Environment (see tests/bench/common.py for BENCH_SCALE):
    BENCH_VOLUNTEERS_ROWS            rows in the CSV (default 100,000 × BENCH_SCALE)
    BENCH_VOLUNTEERS_PATH            "gateway" or "rpc" (default: gateway when it can)
    BENCH_VOLUNTEERS_PIPELINE        RPC batches in flight (default 2)
    BENCH_VOLUNTEERS_PROFILE_ROWS    rows imported in process, then as many under cProfile
                                     (default 10,000; 0: skip)
    BENCH_HOURS_ENTRIES              service-hour entries (default 1,000,000 × BENCH_SCALE)
    BENCH_VOLUNTEERS_REPORT_RUNS     timed runs per report (default 5)
"""

from __future__ import annotations

import base64
import collections
import contextlib
import cProfile
import csv
import json
import os
import pstats
import random
import secrets
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
import requests
import sqlalchemy as sa

from kit.db import connect
from kit.migrate import upgrade
from language.actor import Actor
from tests.bench import volunteers_data as data
from tests.bench.common import (
    ROOT,
    CpuMeter,
    Stopwatch,
    median,
    note,
    pids_named,
    report,
    scaled,
    setting,
)
from tests.support import platform as platform_module
from tests.support.infra import scratch_postgres_database
from tests.support.platform import NAMEKO, Platform, Process, free_port, new_vhost, vhost_uri
from tests.support.rpc import ClusterRpcProxy
from volunteers import csvimport
from volunteers.commands import HoursReport, ImportBatch
from volunteers.context import Context
from volunteers.crypto import PersonalData, decode_key
from volunteers.domain import identity, reports
from volunteers.handlers import hours, imports

BENCH_IMPORT = "volunteers.import"
BENCH_REPORT = "volunteers.hours_report"
ADMIN = Actor(user_id=data.ACTOR_ID, username="admin", role="admin")


class _BenchClock:
    """Now as it is, and the day the bench's data was made for (its consent dates are on or
    before it)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return date(2026, 11, 30)


def _no_projects(project_id: str) -> None:
    """No projects service in process: the bench's activities name no project."""
    return None


TEAMS = 60
COPY_TARGET = 0.30
REPORT_TARGET_MS = 1000
#: the periods a report is asked for: everything, a quarter, a year (China dates, inclusive)
PERIODS = {
    "all": (None, None),
    "quarter": (date(2026, 4, 1), date(2026, 6, 30)),
    "year": (date(2025, 1, 1), date(2025, 12, 31)),
}


def _load_average(when: str) -> None:
    one, five, fifteen = os.getloadavg()
    note(f"volunteers: load average at {when}: {one:.2f} {five:.2f} {fifteen:.2f}")


@pytest.fixture(scope="module", autouse=True)
def load_average():
    _load_average("start")
    yield
    _load_average("end")


def _random_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _keys() -> tuple[str, str]:
    return _random_key(), _random_key()


def _personal_data(data_key: str, hash_key: str) -> PersonalData:
    return PersonalData(decode_key(data_key, "data"), decode_key(hash_key, "hash"))


def _dsn(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)


@contextlib.contextmanager
def _blocking_psycopg2():
    """psycogreen's wait callback (kit.db makes psycopg2 cooperative) refuses COPY."""
    green_wait = psycopg2.extensions.get_wait_callback()
    psycopg2.extensions.set_wait_callback(None)
    try:
        yield
    finally:
        psycopg2.extensions.set_wait_callback(green_wait)


def _run_sql(url: str, work: Any) -> Any:
    """``work(cursor)`` in one committed transaction on a plain psycopg2 connection."""
    with _blocking_psycopg2():
        connection = psycopg2.connect(_dsn(url))
        try:
            with connection.cursor() as cursor:
                result = work(cursor)
            connection.commit()
            return result
        finally:
            connection.close()


def _vacuum_analyze(url: str) -> None:
    with _blocking_psycopg2():
        connection = psycopg2.connect(_dsn(url))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        finally:
            connection.close()


# --- the service as a real process ------------------------------------------------------------


class VolunteersProcess:
    """``nameko run`` of the volunteers service on its own vhost, and RPC to it."""

    def __init__(self, amqp_uri: str, database_url: str, workdir: Path, keys: tuple[str, str]):
        self.amqp_uri = amqp_uri
        self.port = free_port()
        env = {
            **os.environ,
            "AMQP_URI": amqp_uri,
            "JINGUO_ENV": "test",
            # the test run's key (tests/conftest.py): the ClusterRpcProxy below signs with it
            "JINGUO_RPC_KEY": os.environ["JINGUO_RPC_KEY"],
            "VOLUNTEERS_DATABASE_URL": database_url,
            "VOLUNTEERS_HTTP_ADDRESS": f"127.0.0.1:{self.port}",
            "VOLUNTEERS_DATA_KEY": keys[0],
            "VOLUNTEERS_HASH_KEY": keys[1],
            "LOG_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore",
        }
        self.process = Process(
            name="volunteers",
            args=[
                NAMEKO,
                "run",
                "--config",
                "services/volunteers/config.yaml",
                "volunteers.service:VolunteersService",
            ],
            env=env,
            log_path=workdir / "volunteers.log",
        )

    def __enter__(self) -> VolunteersProcess:
        self.process.start()
        try:
            self._wait_ready()
        except BaseException:
            self.process.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.stop()

    @property
    def pid(self) -> int:
        assert self.process.popen is not None
        return self.process.popen.pid

    def rpc(self, timeout: float = 120) -> ClusterRpcProxy:
        return ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, timeout=timeout)

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            assert self.process.popen is not None
            if self.process.popen.poll() is not None:
                raise RuntimeError(f"volunteers exited:\n{self.process.tail()}")
            try:
                requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2)
                with self.rpc(timeout=5) as cluster:
                    if cluster.volunteers.health():
                        return
            except Exception as exc:  # noqa: BLE001 - not up yet, whatever the symptom
                last = exc
            time.sleep(0.3)
        raise RuntimeError(f"volunteers not ready after {timeout}s: {last}\n{self.process.tail()}")


def _cpu_meter(pids: dict[str, int]) -> CpuMeter:
    groups: dict[str, Any] = {name: (lambda pid=pid: [pid]) for name, pid in pids.items()}
    groups["rabbitmq"] = lambda: pids_named("beam.smp")
    groups["postgres"] = lambda: pids_named("postgres")
    return CpuMeter(groups)


# --- import -----------------------------------------------------------------------------------


def _gateway_route_ready() -> bool:
    route = ROOT / "gateway" / "gateway" / "routes" / "volunteers.py"
    return (
        route.exists()
        and "/volunteers/import" in route.read_text(encoding="utf-8")
        and "volunteers" in platform_module.SERVICES
    )


def _import_path() -> str:
    wanted = os.environ.get("BENCH_VOLUNTEERS_PATH") or ""
    if wanted not in ("", "gateway", "rpc"):
        raise ValueError(f"BENCH_VOLUNTEERS_PATH is gateway or rpc, not {wanted!r}")
    if wanted == "rpc" or (not wanted and not _gateway_route_ready()):
        return "rpc"
    return "gateway"


def _import_by_rpc(service: VolunteersProcess, csv_path: Path, depth: int) -> dict[str, Any]:
    """Feed the file to ``import_volunteers`` as the gateway does; the summed tallies."""
    totals: collections.Counter[str] = collections.Counter()
    errors: list[dict[str, Any]] = []
    import_id = str(uuid.uuid4())
    actor = ADMIN.to_dict()
    in_flight: collections.deque[Any] = collections.deque()

    def settle(reply: Any) -> None:
        result = reply.result()
        for key in ("received", "imported", "invalid", "duplicate"):
            totals[key] += result[key]
        errors.extend(result["errors"][: max(0, 5 - len(errors))])

    batches = 0
    with service.rpc() as cluster, csv_path.open("rb") as stream:
        _, rows = csvimport.read_rows(stream)
        for batch in csvimport.batches(rows):
            in_flight.append(
                cluster.volunteers.import_volunteers.call_async(import_id, batch, actor)
            )
            batches += 1
            if len(in_flight) >= depth:
                settle(in_flight.popleft())
        while in_flight:
            settle(in_flight.popleft())
    return {**totals, "batches": batches, "errors": errors, "import_id": import_id}


def _import_by_gateway(platform: Platform, csv_path: Path) -> dict[str, Any]:
    client = platform.admin()
    with csv_path.open("rb") as stream:
        response = client.post(
            "/volunteers/import",
            data=stream,  # a file object: requests streams it, the gateway reads it in chunks
            headers={"Content-Type": "text/csv; charset=utf-8"},
            timeout=1800,
        )
    assert response.status_code in (200, 201), (response.status_code, response.text[:2000])
    body = response.json()
    summary = body.get("summary", body) if isinstance(body, dict) else {}
    return {**summary, "errors": (summary.get("errors") or [])[:5], "response_keys": list(body)}


def _copy_plain(url: str, csv_path: Path, times: int = 3) -> tuple[list[float], int]:
    """Seconds of each COPY of the file into a fresh plain table of text columns, and the
    rows the table holds after the last."""
    columns = ", ".join(f"{name} text" for name in data.PLAIN_COLUMNS)
    durations = []
    with _blocking_psycopg2():
        connection = psycopg2.connect(_dsn(url))
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE TABLE volunteers_plain ({columns})")
                connection.commit()
                for _ in range(times):
                    cursor.execute("TRUNCATE volunteers_plain")
                    connection.commit()
                    started = time.perf_counter()
                    with csv_path.open("rb") as stream:
                        cursor.copy_expert(
                            "COPY volunteers_plain FROM STDIN WITH (FORMAT csv, HEADER true)",
                            stream,
                        )
                    connection.commit()
                    durations.append(time.perf_counter() - started)
                cursor.execute("SELECT count(*) FROM volunteers_plain")
                copied = cursor.fetchone()[0]
        finally:
            connection.close()
    return durations, copied


def _check_sample(url: str, csv_path: Path, personal: PersonalData, sample: int = 300) -> int:
    """Read back ``sample`` rows of the file from the database and prove they are the file's:
    the phone's look-up hash and envelope, the ID number, the skills, the consent date."""
    rng = random.Random(7)
    today = date(2026, 11, 30)
    wanted: dict[int, list[str]] = {}
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        records = list(enumerate(csv.reader(handle), start=1))
    picks = rng.sample(records[1:], min(sample, len(records) - 1))
    wanted = {line: record for line, record in picks}

    def fetch(cursor: Any) -> list[tuple]:
        cursor.execute(
            "SELECT id, import_line, phone_cipher, phone_hash, id_number_cipher, skills,"
            " consented_on FROM volunteers WHERE import_line = ANY(%s)",
            (list(wanted),),
        )
        return cursor.fetchall()

    rows = _run_sql(url, fetch)
    assert len(rows) == len(wanted), (len(rows), len(wanted))
    for volunteer_id, line, phone_cipher, phone_hash, id_cipher, skills, consented in rows:
        record = wanted[line]
        phone = identity.normalise_phone(record[3])
        assert phone_hash == personal.digest("phone", phone)
        assert personal.open(phone_cipher, "phone", volunteer_id) == phone
        if record[4]:
            id_number = identity.check_id_number(record[4], today)
            assert personal.open(id_cipher, "id_number", volunteer_id) == id_number
        else:
            assert id_cipher is None
        stored_skills = skills if isinstance(skills, list) else json.loads(skills)
        assert stored_skills == identity.parse_skills(record[5] or None)
        assert consented == identity.parse_consent_date(record[6], today)
    return len(rows)


def _counts(url: str) -> tuple[int, int]:
    def count(cursor: Any) -> tuple[int, int]:
        cursor.execute("SELECT count(*) FROM volunteers")
        volunteers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM team_members")
        return volunteers, cursor.fetchone()[0]

    return _run_sql(url, count)


def test_csv_import_beside_copy(postgres_admin_url, rabbit_manager, infra, tmp_path):
    rows = scaled("BENCH_VOLUNTEERS_ROWS", 100_000, minimum=100)
    depth = setting("BENCH_VOLUNTEERS_PIPELINE", 2)
    path = _import_path()
    teams = data.team_names(TEAMS)
    csv_path = tmp_path / "roster.csv"
    clock = Stopwatch()
    written = data.write_roster(csv_path, rows, teams)
    note(
        f"{BENCH_IMPORT}: wrote {rows} rows ({written['with_id_number']} with an ID number, "
        f"{written['with_team']} with a team) to {csv_path.stat().st_size / 1e6:.1f} MB of CSV "
        f"in {clock.elapsed:.1f}s"
    )

    with contextlib.ExitStack() as stack:
        url = stack.enter_context(scratch_postgres_database(postgres_admin_url, "jinguo_bench_vol"))
        copy_url = stack.enter_context(
            scratch_postgres_database(postgres_admin_url, "jinguo_bench_vol_copy")
        )
        upgrade("volunteers", url)
        _run_sql(url, lambda cursor: data.insert_teams(cursor, teams))
        vhost = new_vhost(rabbit_manager)
        stack.callback(rabbit_manager.delete_vhost, vhost)
        amqp_uri = vhost_uri(infra.amqp_uri, vhost)

        if path == "gateway":
            gateway_url = stack.enter_context(
                scratch_postgres_database(postgres_admin_url, "jinguo_bench_vol_gw")
            )
            platform = Platform(
                amqp_uri=amqp_uri,
                workdir=tmp_path,
                database_urls={"volunteers": url, "gateway": gateway_url},
                rpc_timeout=120.0,
            )
            stack.callback(platform.stop)
            platform.start()
            keys = (platform.volunteers_data_key, platform.volunteers_hash_key)
            pids = {
                "gateway": platform.processes["gateway"].popen.pid,  # type: ignore[union-attr]
                "volunteers": platform.processes["volunteers"].popen.pid,  # type: ignore[union-attr]
            }
        else:
            keys = _keys()
            service = stack.enter_context(VolunteersProcess(amqp_uri, url, tmp_path, keys))
            pids = {"volunteers": service.pid}

        # plain COPY of the same file, same run
        copy_durations, copied = _copy_plain(copy_url, csv_path)
        assert copied == rows
        copy_seconds = median(copy_durations)
        copy_rate = rows / copy_seconds

        cpu = _cpu_meter(pids).start()
        clock = Stopwatch()
        if path == "gateway":
            result = _import_by_gateway(platform, csv_path)
            how = "POST /volunteers/import through the gateway (streamed file body)"
        else:
            result = _import_by_rpc(service, csv_path, depth)
            how = (
                f"import_volunteers RPC, {result['batches']} csvimport.batches of "
                f"{csvimport.DEFAULT_BATCH_ROWS}, {depth} in flight (the gateway route is not "
                "there yet)"
            )
        elapsed = clock.elapsed
        cpu.stop()

        volunteers, members = _counts(url)
        assert volunteers == rows, (volunteers, rows, result)
        assert members == written["with_team"], (members, written)
        checked = _check_sample(url, csv_path, _personal_data(*keys))

    rate = rows / elapsed
    ratio = rate / copy_rate
    note(f"{BENCH_IMPORT}: {how}; tallies {_tally(result)}; {checked} rows read back and opened")
    report(
        BENCH_IMPORT,
        path,
        f"{rows} rows in {elapsed:.1f}s = {rate:,.0f} rows/s; plain COPY of the same file "
        f"{copy_rate:,.0f} rows/s (median of {len(copy_durations)}: "
        f"{', '.join(f'{d * 1000:.0f}' for d in copy_durations)} ms); import/COPY "
        f"{ratio:.1%} (target ≥ {COPY_TARGET:.0%}: {'met' if ratio >= COPY_TARGET else 'NOT met'})",
        rows=rows,
        path=path,
        seconds=round(elapsed, 2),
        rows_per_s=round(rate, 1),
        copy_seconds=[round(d, 3) for d in copy_durations],
        copy_rows_per_s=round(copy_rate, 1),
        ratio=round(ratio, 4),
        target_ratio=COPY_TARGET,
        cpu_ms_per_1000_rows={k: round(v * 1000, 1) for k, v in cpu.per_item_ms(rows).items()},
        machine_busy=round(cpu.machine_busy, 2),
    )
    per_thousand = ", ".join(
        f"{label} {ms * 1000:.0f}" for label, ms in cpu.per_item_ms(rows).items()
    )
    note(
        f"{BENCH_IMPORT}: CPU ms per 1,000 rows: {per_thousand}; "
        f"machine {cpu.machine_busy:.0%} busy"
    )

    profile_rows = min(setting("BENCH_VOLUNTEERS_PROFILE_ROWS", 10_000), rows // 2)
    if profile_rows:
        _profile_import(postgres_admin_url, csv_path, teams, profile_rows)


def _tally(result: dict[str, Any]) -> str:
    keys = ("received", "imported", "invalid", "duplicate")
    text = ", ".join(f"{key} {result.get(key)}" for key in keys)
    return text + (f"; first errors {result['errors']}" if result.get("errors") else "")


#: where an import's time goes: label -> (module file suffix, function name)
PROFILE_PARTS = {
    "validation (check_registration)": ("volunteers/domain/identity.py", "check_registration"),
    "row shape (row_cells)": ("volunteers/domain/importing.py", "row_cells"),
    "look-up hashes (HMAC)": ("volunteers/crypto.py", "digest"),
    "encryption (AES-GCM seal)": ("volunteers/crypto.py", "seal"),
    "search names (OpenCC)": ("kit/text.py", "search_keys"),
    "teams resolved": ("volunteers/handlers/imports.py", "resolve_teams"),
    "duplicate check (existing)": ("volunteers/repository.py", "existing"),
    "bulk insert, all": ("volunteers/repository.py", "bulk_insert"),
    "  building COPY's CSV": ("volunteers/repository.py", "_copy_rows"),
    "  COPY in PostgreSQL": ("~", "<method 'copy_expert' of 'psycopg2.extensions.cursor' objects>"),
    "commit": ("kit/db.py", "commit"),
}


def _profile_import(admin_url: str, csv_path: Path, teams: list[str], rows: int) -> None:
    """Import the file's first ``rows`` rows in this process (no RPC, no broker), then the next
    ``rows`` under cProfile; print both rates and where the profiled time went."""
    personal = _personal_data(*_keys())
    profile = cProfile.Profile()
    walls = {"plain": 0.0, "profiled": 0.0}
    with scratch_postgres_database(admin_url, "jinguo_bench_vol_prof") as url:
        upgrade("volunteers", url)
        _run_sql(url, lambda cursor: data.insert_teams(cursor, teams))
        import_id = str(uuid.uuid4())
        with connect(url, service_name="volunteers") as db, csv_path.open("rb") as stream:
            _, records = csvimport.read_rows(stream)
            for phase in walls:
                taken = (record for record, _ in zip(records, range(rows), strict=False))
                for batch in csvimport.batches(taken):
                    started = time.perf_counter()
                    if phase == "profiled":
                        profile.enable()
                    with db() as uow:
                        imports.import_batch(
                            Context.over(uow, ADMIN, personal, _no_projects, _BenchClock()),
                            ImportBatch(import_id=import_id, rows=batch),
                        )
                        uow.commit()
                    profile.disable()
                    walls[phase] += time.perf_counter() - started
    wall = walls["profiled"]
    note(
        f"{BENCH_IMPORT}.profile: in process (imports.import_batch and commit, no gateway, "
        f"RPC or broker), {rows} rows in {walls['plain']:.1f}s = "
        f"{rows / walls['plain']:,.0f} rows/s without the profiler"
    )
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())  # every function's own time
    parts = []
    for label, (suffix, function) in PROFILE_PARTS.items():
        seconds = sum(
            entry[3]
            for (filename, _, name), entry in stats.items()
            if name == function and filename.endswith(suffix)
        )
        parts.append(f"{label} {seconds / total:.0%}")
    report(
        f"{BENCH_IMPORT}.profile",
        None,
        f"{rows} rows imported in process (imports.import_batch, no RPC) in {wall:.1f}s "
        f"under cProfile = {rows / wall:,.0f} rows/s; share of the time: " + "; ".join(parts),
        rows=rows,
        seconds=round(wall, 2),
        parts=parts,
    )
    top = pstats.Stats(profile)
    top.sort_stats("tottime")
    lines = []
    for key in top.fcn_list[:12]:  # type: ignore[attr-defined]
        _, calls, own, cumulative, _ = top.stats[key]  # type: ignore[attr-defined]
        filename, line, name = key
        where = f"{Path(filename).name}:{line}({name})" if filename != "~" else name
        lines.append(f"{own:6.3f}s own {cumulative:6.3f}s cum {calls:>8} calls  {where}")
    note(f"{BENCH_IMPORT}.profile: most own time\n    " + "\n    ".join(lines))


# --- hours report -----------------------------------------------------------------------------


def test_hours_report(postgres_admin_url, rabbit_manager, infra, tmp_path):
    entries = scaled("BENCH_HOURS_ENTRIES", 1_000_000, minimum=1000)
    runs = setting("BENCH_VOLUNTEERS_REPORT_RUNS", 5)
    shape = {
        "teams": 400,
        "volunteers": max(100, entries // 20),
        "activities": max(50, entries // 50),
        "projects": 300,
        "entries": entries,
    }
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(
            scratch_postgres_database(postgres_admin_url, "jinguo_bench_vol_hours")
        )
        upgrade("volunteers", url)
        clock = Stopwatch()
        timings = _run_sql(url, lambda cursor: data.load_hours(cursor, **shape))
        loaded = clock.elapsed
        _vacuum_analyze(url)
        expected = _run_sql(url, _expected_totals)
        note(
            f"{BENCH_REPORT}: loaded {shape} in {loaded:.1f}s "
            f"({', '.join(f'{k} {v:.1f}s' for k, v in timings.items())}), vacuum+analyze "
            f"{clock.elapsed - loaded:.1f}s; by status {expected['by_status']}"
        )

        vhost = new_vhost(rabbit_manager)
        stack.callback(rabbit_manager.delete_vhost, vhost)
        service = stack.enter_context(
            VolunteersProcess(vhost_uri(infra.amqp_uri, vhost), url, tmp_path, _keys())
        )
        results = []
        with service.rpc(timeout=120) as cluster:
            for period, (since, until) in PERIODS.items():
                for group_by in reports.REPORT_GROUPS:
                    filters: dict[str, Any] = {"group_by": group_by}
                    if since:
                        filters.update(since=since.isoformat(), until=until.isoformat())
                    durations, answer = _time_runs(
                        lambda f=filters: cluster.volunteers.hours_report(f, ADMIN.to_dict()), runs
                    )
                    total = answer["total"]
                    assert (total["entries"], total["minutes"]) == expected[period], (
                        group_by,
                        period,
                        total,
                        expected[period],
                    )
                    results.append((group_by, period, durations, answer))
                    report(
                        BENCH_REPORT,
                        f"{group_by} {period}",
                        f"{total['entries']:,} verified entries, {len(answer['items'])} groups"
                        f"{' (first page)' if answer.get('next_cursor') else ''}; median "
                        f"{median(durations) * 1000:.0f} ms, worst {max(durations) * 1000:.0f} "
                        f"ms ({runs} runs after 1 warm-up; target < {REPORT_TARGET_MS} ms)",
                        entries=entries,
                        group_by=group_by,
                        period=period,
                        verified_entries=total["entries"],
                        groups=len(answer["items"]),
                        runs=runs,
                        median_ms=round(median(durations) * 1000, 1),
                        max_ms=round(max(durations) * 1000, 1),
                        target_ms=REPORT_TARGET_MS,
                    )
        worst = max(results, key=lambda r: median(r[2]))
        medians = [median(r[2]) for r in results]
        over = [f"{g} {p}" for g, p, d, _ in results if median(d) * 1000 >= REPORT_TARGET_MS]
        note(
            f"{BENCH_REPORT}: {len(results)} reports, medians "
            f"{min(medians) * 1000:.0f}–{max(medians) * 1000:.0f} ms; worst single run "
            f"{max(max(r[2]) for r in results) * 1000:.0f} ms; median over target: "
            f"{', '.join(over) if over else 'none'}"
        )
        _explain(url, worst[0], *PERIODS[worst[1]])


def _expected_totals(cursor: Any) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for period, (since, until) in PERIODS.items():
        condition = ""
        if since:
            condition = (
                " AND started_at >= %(since)s::timestamp AT TIME ZONE 'Asia/Shanghai'"
                " AND started_at < (%(until)s::timestamp + interval '1 day')"
                " AT TIME ZONE 'Asia/Shanghai'"
            )
        cursor.execute(
            "SELECT count(*), coalesce(sum(minutes), 0) FROM service_hours"
            " WHERE status = 'verified'" + condition,
            {"since": str(since), "until": str(until)},
        )
        expected[period] = tuple(int(v) for v in cursor.fetchone())
    cursor.execute("SELECT status, count(*) FROM service_hours GROUP BY status ORDER BY status")
    expected["by_status"] = dict(cursor.fetchall())
    return expected


def _time_runs(call: Any, runs: int) -> tuple[list[float], Any]:
    result = call()  # warm-up
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        durations.append(time.perf_counter() - started)
    return durations, result


def _explain(url: str, group_by: str, since: date | None, until: date | None) -> None:
    """EXPLAIN ANALYZE of the statements the report runs (captured from the repository)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    with connect(url, service_name="volunteers") as db:
        sa.event.listen(db.engine, "before_cursor_execute", capture)
        try:
            with db(readonly=True) as uow:
                hours.report(
                    Context.over(uow, ADMIN, _personal_data(*_keys()), _no_projects),
                    HoursReport(group_by=group_by, since=since, until=until),
                )
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", capture)
        plans = []
        for statement, parameters in captured:
            if "service_hours" not in statement:
                continue
            with db.begin(write=False) as connection:
                plan = connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                ).scalars()
                plans.append("\n    ".join(plan))
    period = f"{since} to {until}" if since else "all"
    note(
        f"{BENCH_REPORT}: EXPLAIN ANALYZE of the slowest report (group_by {group_by}, {period})"
        "\n    " + "\n    ---\n    ".join(plans)
    )
