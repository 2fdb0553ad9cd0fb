"""Funding through the gateway: the approval queue worked by finance, and how soon it fills.

The platform runs as real ``nameko run`` processes (every service tests/support/platform.py
starts, and the gateway) on a fresh vhost, with SQLite or PostgreSQL databases.

Set-up (untimed): a city federation, a staff user, P service providers registered and verified
in the registry with a contractor user each, and K finance officers of the city (none of them
the staff user, who accepts every milestone, so maker-checker lets any officer approve; half of
them approve and the other half pay, since who approved a disbursement never pays it). A warm-up
project proves projects has heard of every verification; then, on a warm-up source, C whole
flows run and their disbursements are approved and paid, to warm every process and path.

A flow is six write calls through the gateway: draft → publish → apply → award (one milestone,
one small tranche, below the two-approver threshold) → report → accept. The award commits the
tranche in funding (``contract_awarded``) and the acceptance opens a pending disbursement
(``milestone_accepted``); both facts reach funding asynchronously.

1. ``test_approve_and_pay_through_the_gateway``: N flows (closed loop, C green threads) on a
   fresh source, until all N disbursements are pending in ``GET /disbursements`` — a backlog
   of single-approver disbursements (each tranche is below the two-approver threshold). Timed:
   C green threads, each a finance officer (officer i mod K) with its own session, POST
   ``/disbursements/{id}/approve`` over all N, then POST ``…/pay`` with unique references.
   Figures: approvals/s and payments/s, p50/p99, CPU per process. Then: each disbursement paid
   exactly once (the API, and one payment transaction per disbursement in the journal), the
   journal balances, the source adds up (amount = available + committed; committed = disbursed
   = paid = N × tranche), and projects shows every milestone paid.
2. ``test_accepted_to_queue_at_a_flow_rate``: for each offered rate R (flows/s, default 50),
   flows are due on a fixed schedule for S seconds (flow i at t0 + i/R; at most M in flight,
   one ``requests.Session`` each). A platform that cannot keep up makes flows start late, and
   those still waiting a second after the schedule's end are dropped: the figures say how many
   were offered, started and dropped, and the rate achieved (completions per second). If no
   offered rate is sustained, ``test_accepted_to_queue_at_the_highest_sustained_rate`` tries
   90 % of the best achieved rate, then a fifth less.

   Latency, per milestone, from ``milestone_accepted`` committed in projects to its pending
   disbursement committed in funding (so in ``GET /disbursements?status=pending``, which
   reads that table). A watcher in this process polls both databases directly every 10 ms
   (not through the gateway, which it would load): projects for the watched milestones whose
   ``accepted_at`` is set, then funding for their pending disbursements. A milestone is
   watched from the moment its award answered. Each commit thus lies in a window: after the
   start of the last poll that missed it (a READ COMMITTED / WAL snapshot is taken after the
   statement starts), at the latest when the first poll that showed it returned. The estimate
   is the difference of the windows' midpoints, off by at most the sum of their half-widths
   (printed, p50/p99); the difference of the outer edges can only overstate, of the inner
   edges only understate, so the true p99 certainly lies between the p99s of those two
   (printed). The target is p99 under 100 ms: "met" if the upper bound's p99 is below it,
   "missed" if the lower bound's is not, else undecided. Cross-checks printed beside it:
   accept call returned → first poll that showed the disbursement, and projects'
   ``accepted_at`` (the event's ``occurred_at``, stamped when the use case starts) → funding's
   ``requested_at`` (stamped when the handler starts, before its commit): one clock, but both
   stamps precede their commits by each transaction's own duration. And where the time goes,
   from the same wall clock: the accept use case (``accepted_at`` → projects' commit), the
   relay (projects' commit → the outbox row's ``sent_at``, stamped once the broker confirmed
   its batch, so funding's handler may already have started: that step can read negative),
   delivery (``sent_at`` → ``requested_at``) and funding's transaction (``requested_at`` → its
   commit); each commit moment is a window's midpoint, ± its half-width.

CPU is reported per item for each process (``client`` is this test process, which shares the
machine, and in figure 2 includes the watcher; ``rabbitmq`` is the broker listening on the
platform's AMQP port, which other tenants' vhosts may use at the same time; ``postgres`` is the
server's own processes and the backends of this platform's databases), summed without the
client, and as the cores busy outside the meter:
other tenants share the machine, and a run with a large share there was disturbed and its
rates read low. The load average is printed at the start and the end, and around each rate.

Environment (see tests/bench/common.py for BENCH_SCALE):
    BENCH_DISBURSEMENTS  disbursements to approve and pay (default 300 × BENCH_SCALE)
    BENCH_CONCURRENCY    green threads for set-up flows, approvals and payments (default 16)
    BENCH_OFFICERS       finance officers sharing the approvals (default 4, at least 2)
    BENCH_PROVIDERS      verified service providers, one contractor each (default 16)
    BENCH_FLOW_RATES     comma-separated offered rates, flows/s (default "50")
    BENCH_RATE_SECONDS   seconds of schedule per rate (default 12 × BENCH_SCALE, at least 3)
    BENCH_MAX_IN_FLIGHT  flows in flight at most in figure 2 (default 48; gateway workers: 50)
    BENCH_POLL_MS        the watcher's interval, ms (default 10)
    BENCH_BACKENDS       comma-separated subset of "sqlite,postgresql" (default both)
    BENCH_IDEMPOTENCY    1 to send an Idempotency-Key with every POST that takes one (default 0)
"""

from __future__ import annotations

import collections
import json
import os
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import eventlet
import pytest
import sqlalchemy as sa
from eventlet.semaphore import Semaphore

from funding.models import disbursements, journal_entries
from kit.db import create_engine
from kit.tables import outbox
from projects.models import milestones
from tests.bench.common import (
    CpuMeter,
    Stopwatch,
    describe_load,
    latency_figures,
    load_figures,
    note,
    percentile,
    pids_named,
    report,
    scaled,
    setting,
)
from tests.bench.flows import (
    BACKENDS,
    CALLS,
    Flow,
    FlowBodies,
    FlowRun,
    People,
    closed_loop,
    expect,
    idempotency_wanted,
    in_green_threads,
    new_platform,
    note_per_call,
    one_flow,
    platform_cpu_meter,
    set_up_people,
)
from tests.support.platform import SERVICES, Client, Platform
from tests.support.waiting import eventually, wait_until

APPROVE_BENCH = "funding.approve_via_gateway"
PAY_BENCH = "funding.pay_via_gateway"
QUEUE_BENCH = "funding.accepted_to_queue"
RATES = [float(r) for r in (os.environ.get("BENCH_FLOW_RATES") or "50").split(",") if r]

TRANCHE = 2_000_000  # fen: 20,000 yuan, below the 10,000,000 two-approver threshold
TARGET_P99_MS = 100.0
PAGE = 500  # the API's largest page

PROJECT = {
    "category": "spring_bud_girls_schooling",
    "model": "commissioned",
    "budget": TRANCHE,
    "starts_on": "2027-02-01",
    "ends_on": "2027-11-30",
    "target_beneficiaries": 20,
}
MILESTONE = {
    "title": "助学金发放",
    "deliverables": "发放记录与回访报告",
    "due_on": "2027-09-10",
    "amount": TRANCHE,
}
REPORT = {"summary": "完成20名女童助学金发放", "beneficiaries_served": 20}


def for_source(source_id: str) -> FlowBodies:
    """What a flow sends, its project funded by ``source_id``."""
    return FlowBodies({**PROJECT, "funding_source_id": source_id}, TRANCHE, MILESTONE, REPORT)


# --- the platform and its people ---------------------------------------------------------------


@dataclass
class Running:
    backend: str
    platform: Platform
    people: People
    #: flows started so far (titles stay unique)
    flows_started: int = 0
    #: every paced run of figure 2 so far
    paced: list[PacedRun] = field(default_factory=list)

    def cpu_meter(self) -> CpuMeter:
        return platform_cpu_meter(
            self.platform,
            ("gateway", "funding", "projects", "registry"),
            rabbitmq=lambda: listening_pids(urlsplit(self.platform.amqp_uri).port or 5672),
            postgres=lambda: postgres_pids(self.platform.database_urls.values()),
        )

    def officer(self, index: int) -> Client:
        """A new session (its own keep-alive socket) as officer ``index`` mod K."""
        client = self.platform.client()
        client.session.headers.update(self.people.officers[index % len(self.people.officers)])
        return client

    def new_source(self, amount: int, name: str) -> str:
        source = expect(
            self.officer(0).post(
                "/funding-sources",
                {
                    "name": name,
                    "kind": "fiscal_special_fund",
                    "owner_id": self.people.city_id,
                    "fiscal_year": 2027,
                    "amount": amount,
                },
            ),
            202 if amount >= 10_000_000 else 201,
        )
        if source.get("pending_adjustment"):  # at the threshold a second officer confirms it
            confirm = f"/source-adjustments/{source['pending_adjustment']['id']}/confirm"
            expect(self.officer(1).post(confirm), 200)
        return source["id"]


def listening_pids(port: int) -> list[int]:
    """The processes with a socket listening on ``port`` (the broker this platform uses; other
    RabbitMQ nodes on the machine are someone else's)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    found = []
    for pid in pids_named("beam.smp"):
        try:
            if any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir()):
                found.append(pid)
        except OSError:
            continue
    return found


def postgres_pids(urls: Any) -> list[int]:
    """PostgreSQL's own processes (postmaster, writers) and the backends serving this
    platform's databases; other tenants' backends are left out."""
    names = {sa.engine.make_url(url).database for url in urls if url.startswith("postgres")}
    found = []
    for pid in pids_named("postgres"):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        backend = "(" in title or "[local]" in title
        if not backend or any(f" {name} " in title for name in names):
            found.append(pid)
    return found


@pytest.fixture(scope="module", autouse=True)
def machine_load():
    """The load average before and after: other tenants share the two cores."""
    note(f"funding bench: load average at the start {os.getloadavg()}, {os.cpu_count()} CPUs")
    yield
    note(f"funding bench: load average at the end {os.getloadavg()}")


@pytest.fixture(scope="module", params=BACKENDS)
def running(request, rabbit_manager, infra, tmp_path_factory):
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"funding-{backend}")
    with ExitStack() as stack:
        platform, _ = new_platform(
            stack,
            request,
            rabbit_manager,
            infra,
            workdir,
            backend,
            databases=(*SERVICES, "gateway"),
        )
        platform.start()

        setup = Stopwatch()
        people = set_up_people(
            platform,
            for_source(str(uuid.uuid4())),
            setting("BENCH_PROVIDERS", 16),
            # an even number: half approve, the other half pay (approver ≠ payer)
            2 * max(setting("BENCH_OFFICERS", 4) // 2, 1),
        )
        running = Running(backend, platform, people)
        concurrency = setting("BENCH_CONCURRENCY", 16)
        warm_source = eventually(
            lambda: running.new_source(TRANCHE * concurrency, "预热资金"), timeout=60
        )
        flows = run_flows(running, warm_source, concurrency, concurrency)
        assert not flows.failures, flows.failures
        pending = wait_for_pending(running, warm_source, concurrency)
        approvals = work_queue(running, [d["id"] for d in pending], "approve", concurrency)
        payments = work_queue(running, [d["id"] for d in pending], "pay", concurrency)
        assert not approvals.failures and not payments.failures, (approvals, payments)
        note(
            f"{APPROVE_BENCH} {backend}: set-up, {concurrency} warm-up flows, approvals and "
            f"payments took {setup.elapsed:.1f}s"
        )
        yield running


def run_flows(running: Running, source_id: str, flows: int, concurrency: int) -> FlowRun:
    """``flows`` flows from ``concurrency`` green threads (closed loop), each with a session."""
    first = running.flows_started
    running.flows_started += flows
    return closed_loop(
        running.platform, running.people, for_source(source_id), first, flows, concurrency
    )


def listed(client: Client, source_id: str, status: str) -> list[dict[str, Any]]:
    """Every disbursement of one source in one status, oldest first, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"status": status, "source_id": source_id, "limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        body = expect(client.get("/disbursements", params=params), 200)
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return items


def wait_for_pending(running: Running, source_id: str, count: int) -> list[dict[str, Any]]:
    client = running.officer(0)
    found: list[dict[str, Any]] = []

    def all_pending() -> bool:
        found[:] = listed(client, source_id, "pending")
        return len(found) >= count

    wait_until(
        all_pending, timeout=60 + count / 10, interval=0.5, what=f"{count} pending disbursements"
    )
    assert len(found) == count, (len(found), count)
    return found


# --- figure 1: approvals and payments -----------------------------------------------------------


@dataclass
class QueueWork:
    action: str
    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> the answer
    references: dict[str, str] = field(default_factory=dict)  # id -> payment reference
    seconds: float = 0.0


def work_queue(running: Running, ids: list[str], action: str, concurrency: int) -> QueueWork:
    """POST ``/disbursements/{id}/<action>`` over ``ids`` from ``concurrency`` green threads,
    green thread w as finance officer 2w mod K approving, 2w + 1 mod K paying (K is even: who
    approved a disbursement never pays it)."""
    work = QueueWork(action)
    idempotency = idempotency_wanted()
    expected = {"approve": "approved", "pay": "paid"}[action]
    jobs = iter(ids)
    batch = uuid.uuid4().hex[:8].upper()

    def worker(number: int) -> None:
        client = running.officer(2 * number + (1 if action == "pay" else 0))
        for disbursement_id in jobs:
            body = None
            headers = {}
            if action == "pay":
                reference = f"BOC-{batch}-{len(work.references):06d}"
                work.references[disbursement_id] = reference
                body = {"payment_reference": reference}
                if idempotency:
                    headers["Idempotency-Key"] = uuid.uuid4().hex
            started = time.perf_counter()
            response = client.post(
                f"/disbursements/{disbursement_id}/{action}", body, headers=headers
            )
            work.latencies.append(time.perf_counter() - started)
            work.statuses[response.status_code] += 1
            answer = response.json() if response.status_code == 200 else None
            if answer is None or answer["status"] != expected:
                if len(work.failures) < 5:
                    work.failures.append(
                        f"{action} {disbursement_id}: {response.status_code} {response.text[:300]}"
                    )
                continue
            work.done[disbursement_id] = answer

    work.seconds = in_green_threads(concurrency, worker)
    return work


def report_queue_work(
    running: Running, name: str, work: QueueWork, cpu: CpuMeter, concurrency: int
) -> None:
    count = len(work.latencies)
    figures = latency_figures(work.latencies)
    load = load_figures(cpu, work.seconds, count, "item")
    officers = min(len(running.people.officers), concurrency)
    report(
        name,
        running.backend,
        f"{count} {work.action} calls in {work.seconds:.1f}s, {count / work.seconds:.1f}/s, p50 "
        f"{figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms (concurrency "
        f"{concurrency}, {officers} officers, one source)",
        requests=count,
        concurrency=concurrency,
        officers=officers,
        seconds=round(work.seconds, 2),
        per_s=round(count / work.seconds, 1),
        **figures,
        **load,
    )
    note(f"{name} {running.backend}: {describe_load(cpu, load, count, work.action)}")


def test_approve_and_pay_through_the_gateway(running):
    count = scaled("BENCH_DISBURSEMENTS", 300)
    concurrency = setting("BENCH_CONCURRENCY", 16)

    # set-up, untimed: N flows, then all N disbursements pending
    setup = Stopwatch()
    source_id = running.new_source(TRANCHE * count, "2027年市级妇女儿童发展专项资金")
    flows = run_flows(running, source_id, count, concurrency)
    assert not flows.failures, flows.failures
    assert len(flows.completed) == count
    pending = wait_for_pending(running, source_id, count)
    assert {d["milestone_id"] for d in pending} == {f.milestone_id for f in flows.completed}
    assert all(d["amount"] == TRANCHE and d["required_approvals"] == 1 for d in pending)
    ids = [d["id"] for d in pending]
    note(
        f"{APPROVE_BENCH} {running.backend}: {count} flows in {flows.seconds:.1f}s "
        f"({count / flows.seconds:.1f} flows/s), all pending {setup.elapsed:.1f}s after the start"
    )

    cpu = running.cpu_meter().start()
    approvals = work_queue(running, ids, "approve", concurrency)
    cpu.stop()
    assert not approvals.failures, approvals.failures
    assert approvals.statuses == {200: count}, approvals.statuses
    report_queue_work(running, APPROVE_BENCH, approvals, cpu, concurrency)

    cpu = running.cpu_meter().start()
    payments = work_queue(running, ids, "pay", concurrency)
    cpu.stop()
    assert not payments.failures, payments.failures
    assert payments.statuses == {200: count}, payments.statuses
    report_queue_work(running, PAY_BENCH, payments, cpu, concurrency)

    check_paid_once(running, source_id, flows.completed, payments)


def check_paid_once(running: Running, source_id: str, flows: list[Flow], work: QueueWork) -> None:
    """Each disbursement paid exactly once, and the money adds up everywhere."""
    count = len(flows)
    officer = running.officer(1)
    paid = listed(officer, source_id, "paid")
    assert len(paid) == count and len({d["id"] for d in paid}) == count
    assert {d["id"]: d["payment_reference"] for d in paid} == work.references
    assert {d["milestone_id"] for d in paid} == {f.milestone_id for f in flows}
    for status in ("pending", "approved", "held", "rejected"):
        assert listed(officer, source_id, status) == [], status

    source = expect(officer.get(f"/funding-sources/{source_id}"), 200)
    total = count * TRANCHE
    assert source["amount"] == source["available"] + source["committed"], source
    assert (source["committed"], source["disbursed"], source["paid"]) == (total,) * 3, source

    # the journal: one payment transaction per disbursement, every transaction balanced
    engine = create_engine(running.platform.database_urls["funding"], pool_size=1)
    try:
        with engine.connect() as connection:
            entries = journal_entries
            payments = connection.execute(
                sa.select(entries.c.cause, sa.func.count(sa.distinct(entries.c.transaction_id)))
                .where(entries.c.source_id == source_id, entries.c.kind == "payment")
                .group_by(entries.c.cause)
            ).all()
            unbalanced = connection.execute(
                sa.select(entries.c.transaction_id)
                .where(entries.c.source_id == source_id)
                .group_by(entries.c.transaction_id)
                .having(sa.func.sum(entries.c.debit) != sa.func.sum(entries.c.credit))
            ).all()
    finally:
        engine.dispose()
    assert {cause: n for cause, n in payments} == {f"disbursement:{i}": 1 for i in work.done}
    assert unbalanced == []

    # funding's facts reach projects: every milestone shows paid
    ids = [f.milestone_id for f in flows]
    engine = create_engine(running.platform.database_urls["projects"], pool_size=1)
    try:

        def all_paid() -> bool:
            with engine.connect() as connection:
                return connection.execute(
                    sa.select(sa.func.count())
                    .select_from(milestones)
                    .where(milestones.c.id.in_(ids), milestones.c.payment_status == "paid")
                ).scalar() == len(ids)

        wait_until(all_paid, timeout=60, interval=0.5, what="projects shows every milestone paid")
    finally:
        engine.dispose()


# --- figure 2: from acceptance to the queue, under a flow rate ---------------------------------


@dataclass
class Window:
    """When a row became visible to readers (its transaction committed): after ``after`` (the
    start of the last poll that did not show it, or when it was first expected) and at the
    latest ``by`` (the return of the first poll that showed it)."""

    after: float
    by: float

    @property
    def middle(self) -> float:
        return (self.after + self.by) / 2

    @property
    def half(self) -> float:
        return (self.by - self.after) / 2


class Watch:
    """Polls one service's database for keys until each shows up; ``select(keys)`` is the
    query that returns those of ``keys`` that are visible."""

    def __init__(self, url: str, select: Callable[[list[str]], Any]) -> None:
        self.engine = create_engine(url, pool_size=1)
        self.select = select
        self.missed: dict[str, float] = {}  # key -> start of the last poll that missed it
        self.seen: dict[str, Window] = {}
        self.poll_seconds: list[float] = []

    def expect(self, key: str, since: float) -> None:
        self.missed[key] = since

    def poll(self) -> None:
        keys = list(self.missed)
        if not keys:
            return
        # READ COMMITTED (PostgreSQL) or a WAL read transaction (SQLite): the statement's
        # snapshot is taken after ``started`` and before ``returned``. Wall-clock time, to
        # compare with the services' own stamps (utcnow) on the same machine.
        started = time.time()
        with self.engine.connect() as connection:
            found = {row[0] for row in connection.execute(self.select(keys))}
        returned = time.time()
        self.poll_seconds.append(returned - started)
        for key in keys:
            if key in found:
                self.seen[key] = Window(self.missed.pop(key), returned)
            else:
                self.missed[key] = started

    def close(self) -> None:
        self.engine.dispose()


class QueueWatcher:
    """Every ``interval`` seconds (the next tick starts ``interval`` after the last one
    started, or at once if that one took longer), polls projects' database for the watched
    milestones that are accepted, then funding's for their pending disbursements. A milestone
    is watched from the moment its award answered, so no commit can slip in unwatched."""

    def __init__(self, urls: dict[str, str], interval: float) -> None:
        self.interval = interval
        self.accepted = Watch(
            urls["projects"],
            lambda keys: sa.select(milestones.c.id).where(
                milestones.c.id.in_(keys), milestones.c.accepted_at.is_not(None)
            ),
        )
        self.queued = Watch(
            urls["funding"],
            lambda keys: sa.select(disbursements.c.milestone_id).where(
                disbursements.c.milestone_id.in_(keys), disbursements.c.status == "pending"
            ),
        )
        self.ticks = 0
        self.failures: list[str] = []
        self.stopped = False

    def expect(self, milestone_id: str) -> None:
        now = time.time()
        self.accepted.expect(milestone_id, now)
        self.queued.expect(milestone_id, now)

    def run(self) -> None:
        next_tick = time.perf_counter()
        while not self.stopped:
            try:
                self.accepted.poll()
                self.queued.poll()
            except Exception as exc:  # noqa: BLE001 - reported, and the run fails
                if len(self.failures) < 5:
                    self.failures.append(repr(exc))
            self.ticks += 1
            next_tick = max(next_tick + self.interval, time.perf_counter())
            eventlet.sleep(max(0.0, next_tick - time.perf_counter()))

    def close(self) -> None:
        self.accepted.close()
        self.queued.close()


@dataclass
class PacedRun:
    rate: float
    flows: int  # offered: rate × the schedule's seconds
    run: FlowRun
    started: int = 0  # flows started before the schedule ended (the rest were dropped)
    start_lags: list[float] = field(default_factory=list)
    in_flight_max: int = 0
    seconds: float = 0.0  # from the first scheduled start to the last completion

    @property
    def achieved(self) -> float:
        """Flows completed per second, from the first completion to the last."""
        done = sorted(flow.accepted for flow in self.run.completed)
        if len(done) < 2 or done[-1] == done[0]:
            return 0.0
        return (len(done) - 1) / (done[-1] - done[0])

    @property
    def sustained(self) -> bool:
        """Every offered flow started, none more than half a second late, and completions
        kept pace with the schedule."""
        return (
            self.started == self.flows
            and max(self.start_lags) <= 0.5
            and self.achieved >= 0.95 * self.rate
        )


def paced_flows(
    running: Running,
    source_id: str,
    rate: float,
    flows: int,
    watch: Callable[[str], None] | None = None,
) -> PacedRun:
    """Open loop: flow i is due at t0 + i / rate and starts then if fewer than M are in
    flight, else as soon as one ends. Flows still waiting for a slot a second after the
    schedule's end are never started (dropped), so an overloaded platform costs the schedule's
    length plus the time to finish the M in flight, not the time to do all the work."""
    limit = setting("BENCH_MAX_IN_FLIGHT", 48)
    paced = PacedRun(rate, flows, FlowRun())
    bodies = for_source(source_id)
    first = running.flows_started
    running.flows_started += flows
    sessions: list[Client] = []  # idle sessions, reused (keep-alive sockets)
    slots = Semaphore(limit)
    in_flight = 0

    def one(index: int) -> None:
        nonlocal in_flight
        client = sessions.pop() if sessions else running.platform.client()
        try:
            flow = one_flow(client, running.people, bodies, index, paced.run, watch)
            if flow is not None:
                paced.run.completed.append(flow)
        finally:
            sessions.append(client)
            in_flight -= 1
            slots.release()

    pool = eventlet.GreenPool(limit + 1)
    t0 = time.perf_counter()
    deadline = t0 + flows / rate + 1.0
    for offset in range(flows):
        due = t0 + offset / rate
        eventlet.sleep(max(0.0, due - time.perf_counter()))
        if not slots.acquire(timeout=max(0.0, deadline - time.perf_counter())):
            break
        paced.started += 1
        paced.start_lags.append(time.perf_counter() - due)
        in_flight += 1
        paced.in_flight_max = max(paced.in_flight_max, in_flight)
        pool.spawn(one, first + offset)
    pool.waitall()
    paced.seconds = time.perf_counter() - t0
    return paced


def epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def stamps(running: Running, flows: list[Flow]) -> dict[str, dict[str, float]]:
    """Per milestone, the services' own wall-clock stamps (epoch seconds): ``accepted_at``
    (projects' use case started), the outbox row's ``sent_at`` (the broker had confirmed its
    batch), ``requested_at`` (funding's handler started)."""
    ids = [f.milestone_id for f in flows]
    found: dict[str, dict[str, float]] = {i: {} for i in ids}
    queries = (
        ("projects", "accepted_at", sa.select(milestones.c.id, milestones.c.accepted_at)),
        (
            "funding",
            "requested_at",
            sa.select(disbursements.c.milestone_id, disbursements.c.requested_at),
        ),
    )
    for service, stamp, query in queries:
        engine = create_engine(running.platform.database_urls[service], pool_size=1)
        try:
            with engine.connect() as connection:
                key = query.selected_columns[0]
                for milestone_id, moment in connection.execute(query.where(key.in_(ids))):
                    found[milestone_id][stamp] = epoch(moment)
        finally:
            engine.dispose()
    engine = create_engine(running.platform.database_urls["projects"], pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox.c.body, outbox.c.sent_at).where(
                    outbox.c.event_type == "milestone_accepted", outbox.c.sent_at.is_not(None)
                )
            ).all()
    finally:
        engine.dispose()
    for body, sent_at in rows:
        milestone_id = json.loads(body)["milestone_id"]
        if milestone_id in found:
            found[milestone_id]["sent_at"] = epoch(sent_at)
    assert all(len(stamped) == 3 for stamped in found.values()), found
    return found


def ms(values: list[float], fraction: float) -> float:
    return percentile(values, fraction) * 1000


def run_at_rate(running: Running, rate: float, variant: str) -> PacedRun:
    """R × S flows paced at R flows/s while the watcher polls both databases; checked,
    reported."""
    seconds = scaled("BENCH_RATE_SECONDS", 12, minimum=3)
    flows = max(round(rate * seconds), 2)
    interval = setting("BENCH_POLL_MS", 10) / 1000
    source_id = running.new_source(TRANCHE * flows, f"流量测试资金-{running.flows_started}")
    label = f"{running.backend} {variant}"
    load_before = os.getloadavg()

    watcher = QueueWatcher(running.platform.database_urls, interval)
    cpu = running.cpu_meter().start()
    poller = eventlet.spawn(watcher.run)
    try:
        paced = paced_flows(running, source_id, rate, flows, watcher.expect)
        cpu.stop()
        run = paced.run
        accepted = {f.milestone_id for f in run.completed}
        wait_until(
            lambda: (
                accepted <= watcher.queued.seen.keys() and accepted <= watcher.accepted.seen.keys()
            ),
            timeout=60,
            interval=0.05,
            what="the watcher saw every accepted milestone and its pending disbursement",
        )
    finally:
        watcher.stopped = True
        poller.wait()
        watcher.close()

    started = paced.started
    assert not run.failures, run.failures
    assert run.statuses == {(name, status): started for name, status in CALLS.items()}
    assert not watcher.failures, watcher.failures
    queue = listed(running.officer(1), source_id, "pending")
    assert len(queue) == started and {d["milestone_id"] for d in queue} == accepted
    assert all(d["amount"] == TRANCHE and d["required_approvals"] == 1 for d in queue)
    source = expect(running.officer(1).get(f"/funding-sources/{source_id}"), 200)
    assert source["committed"] == started * TRANCHE, source
    assert source["available"] == (flows - started) * TRANCHE, source

    # per milestone: the acceptance's commit window in projects, the disbursement's in funding
    windows = [
        (watcher.accepted.seen[f.milestone_id], watcher.queued.seen[f.milestone_id])
        for f in run.completed
    ]
    middle = [q.middle - a.middle for a, q in windows]  # the estimate
    upper = [q.by - a.after for a, q in windows]  # never less than the truth
    lower = [q.after - a.by for a, q in windows]  # never more than the truth
    error = [a.half + q.half for a, q in windows]  # |estimate - truth| at most
    client = [watcher.queued.seen[f.milestone_id].by - f.accepted for f in run.completed]
    by_milestone = stamps(running, run.completed)
    stamped = [by_milestone[f.milestone_id] for f in run.completed]
    stored = [st["requested_at"] - st["accepted_at"] for st in stamped]
    # where the time goes: the stamps between the two commits (each commit ± its half-width)
    relay = [st["sent_at"] - a.middle for (a, _), st in zip(windows, stamped, strict=True)]
    delivery = [st["requested_at"] - st["sent_at"] for st in stamped]
    handler = [q.middle - st["requested_at"] for (_, q), st in zip(windows, stamped, strict=True)]
    use_case = [a.middle - st["accepted_at"] for (a, _), st in zip(windows, stamped, strict=True)]
    load = load_figures(cpu, paced.seconds, started, "item")
    per_call = run.per_call()
    polls = watcher.ticks
    poll = latency_figures(watcher.accepted.poll_seconds + watcher.queued.poll_seconds)
    lag = {
        "p50_ms": round(percentile(paced.start_lags, 0.5) * 1000, 1),
        "max_ms": round(max(paced.start_lags) * 1000, 1),
    }
    p99 = ms(middle, 0.99)
    verdict = "sustained" if paced.sustained else "NOT sustained"
    if ms(upper, 0.99) < TARGET_P99_MS:
        within = "met"
    elif ms(lower, 0.99) >= TARGET_P99_MS:
        within = "missed"
    else:
        within = "undecided within the error"
    load_after = os.getloadavg()
    report(
        QUEUE_BENCH,
        label,
        f"offered {rate:g} flows/s for {seconds} s ({flows} flows, {started} started, "
        f"{flows - started} dropped), achieved {paced.achieved:.1f} flows/s ({verdict}); "
        f"milestone_accepted committed → disbursement pending in the queue: p50 "
        f"{ms(middle, 0.5):.1f} ms, p99 {p99:.1f} ms (p99 certainly between "
        f"{ms(lower, 0.99):.1f} and {ms(upper, 0.99):.1f} ms; per item ± p50 "
        f"{ms(error, 0.5):.1f} ms, p99 {ms(error, 0.99):.1f} ms; p99 target "
        f"{TARGET_P99_MS:.0f} ms {within}); start lag max {lag['max_ms']:.0f} ms, "
        f"≤{paced.in_flight_max} in flight",
        target_flows_per_s=rate,
        flows=flows,
        started=started,
        seconds=round(paced.seconds, 2),
        achieved_flows_per_s=round(paced.achieved, 2),
        write_req_per_s=round(started * len(CALLS) / paced.seconds, 1),
        sustained=paced.sustained,
        start_lag=lag,
        in_flight_max=paced.in_flight_max,
        commit_to_queue=latency_figures(middle),
        commit_to_queue_p99_bounds_ms=[round(ms(lower, 0.99), 2), round(ms(upper, 0.99), 2)],
        commit_to_queue_error=latency_figures(error),
        accept_returned_to_seen=latency_figures(client),
        accepted_at_to_requested_at=latency_figures(stored),
        breakdown={
            "accept_use_case": latency_figures(use_case),
            "commit_to_outbox_sent": latency_figures(relay),
            "outbox_sent_to_handler": latency_figures(delivery),
            "handler_to_commit": latency_figures(handler),
        },
        target_p99_ms=TARGET_P99_MS,
        per_call=per_call,
        poll_interval_ms=interval * 1000,
        polls=polls,
        polls_per_s=round(polls / paced.seconds, 1),
        poll=poll,
        load_avg_before=[round(x, 2) for x in load_before],
        load_avg_after=[round(x, 2) for x in load_after],
        **load,
    )
    note_per_call(f"{QUEUE_BENCH} {label}", per_call)
    note(
        f"{QUEUE_BENCH} {label}: cross-checks: accept call returned → first poll that showed "
        f"the disbursement p50 {ms(client, 0.5):.1f} ms, p99 {ms(client, 0.99):.1f} ms; "
        f"projects' accepted_at → funding's requested_at (both stamped before their commits) "
        f"p50 {ms(stored, 0.5):.1f} ms, p99 {ms(stored, 0.99):.1f} ms"
    )
    parts = (
        ("projects' accept use case (accepted_at → its commit)", use_case),
        ("projects commit → outbox row sent (relay woken, 5 ms gather, publish, confirms)", relay),
        ("sent → funding's handler started (broker, consumer batching)", delivery),
        ("handler started → funding commit", handler),
    )
    note(
        f"{QUEUE_BENCH} {label}: p50/p99 ms, "
        + "; ".join(f"{what} {ms(v, 0.5):.1f}/{ms(v, 0.99):.1f}" for what, v in parts)
    )
    note(
        f"{QUEUE_BENCH} {label}: watcher {polls / paced.seconds:.0f} ticks/s (every "
        f"{interval * 1000:g} ms asked), one database poll p50 {poll['p50_ms']:.1f} ms, p99 "
        f"{poll['p99_ms']:.1f} ms"
    )
    note(
        f"{QUEUE_BENCH} {label}: {describe_load(cpu, load, started, 'flow')}; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    running.paced.append(paced)
    return paced


@pytest.mark.parametrize("rate", RATES, ids=lambda rate: f"{rate:g}-flows-per-s")
def test_accepted_to_queue_at_a_flow_rate(running, rate):
    run_at_rate(running, rate, f"{rate:g}/s")


def test_accepted_to_queue_at_the_highest_sustained_rate(running):
    """If no offered rate was sustained: from 90 % of the best rate achieved, step down by a
    fifth (two tries at most) until one is."""
    sustained = [paced.rate for paced in running.paced if paced.sustained]
    if sustained:
        pytest.skip(f"{max(sustained):g} flows/s was sustained already")
    best = max((paced.achieved for paced in running.paced), default=min(RATES))
    rate = max(1.0, float(int(best * 0.9)))
    for _ in range(2):
        if run_at_rate(running, rate, f"{rate:g}/s (search)").sustained:
            note(f"{QUEUE_BENCH} {running.backend}: highest sustained rate found: {rate:g}/s")
            return
        tried, rate = rate, max(1.0, float(int(rate * 0.8)))
    note(f"{QUEUE_BENCH} {running.backend}: no rate down to {tried:g}/s was sustained")
