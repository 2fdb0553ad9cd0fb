"""Projects through the gateway: whole flows, reads, and how soon another service hears.

The platform runs as real ``nameko run`` processes (registry, projects, gateway) on a fresh
vhost, with SQLite or PostgreSQL databases, plus two listeners started before any event flows:

* ``tests.bench.accepted_consumer`` — a consumer of ``milestone_accepted`` in its own process
  (kit's idempotent, batching consumer on its own SQLite file), standing where funding will
  stand. It records each event's ``occurred_at`` and when its handler ran.
* a durable queue bound to every ``projects.events`` routing key, read only at the end, so
  the run proves every event of every flow left the outbox exactly once (and none comes back
  unrouted).

Set-up (untimed): a city federation, a staff user, P service providers registered and verified
in the registry, each with a contractor user. A warm-up project proves the projects service
has heard of every provider's verification (each applies until it is accepted), then C flows
run untimed to warm every process.

1. ``test_project_flows_through_the_gateway`` times F flows run by C green threads (each with
   its own ``requests.Session``; flow i is carried out by provider i mod P):
   draft → publish → apply → award (one milestone, the whole amount) → report → accept, six
   write calls. Figures: flows/s, write requests/s, p50/p99 per call type, CPU per process.
   Then the events: every ``milestone_accepted`` handled once by the consumer, and the time
   from acceptance to the handler, both from the event's ``occurred_at`` (taken when the
   projects worker starts the use case, before it waits for the database) and from the outbox
   row's ``created_at`` (taken just before the commit).
2. ``test_read_projects_through_the_gateway``: GET /projects/{id} by C green threads for D
   seconds, as the staff user, over every project created before (ids picked at random). They
   are published, so after each one's first read the gateway serves it from its read cache
   (the hits and misses, from the gateway's metrics, are printed with the rate).
3. ``test_read_draft_projects_through_the_gateway``: the same over 16 drafts, which are never
   cached: every read is an RPC to projects and a query — the cost of a cache miss.

CPU is reported per request for each process (``client`` is this test process, which shares
the machine), summed without the client, and as the cores busy outside the meter: a run with
a large share there was disturbed and its rates read low. Compare runs by their CPU figures
as much as by their rates; the vCPUs of this kind of machine vary in speed from run to run.

Environment (see tests/bench/common.py for BENCH_SCALE):
    BENCH_FLOWS          flows to time (default 400 × BENCH_SCALE)
    BENCH_CONCURRENCY    green threads, one requests.Session each (default 16)
    BENCH_PROVIDERS      verified service providers, one contractor each (default 16)
    BENCH_GET_SECONDS    seconds of GET /projects/{id} (default 20 × BENCH_SCALE, at least 5)
    BENCH_BACKENDS       comma-separated subset of "sqlite,postgresql" (default both)
    BENCH_IDEMPOTENCY    1 to send an Idempotency-Key with every POST that takes one (default 0)
"""

from __future__ import annotations

import collections
import json
import random
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import eventlet
import kombu
import pytest
import requests
import sqlalchemy as sa

from kit.db import create_engine
from kit.tables import outbox
from tests.bench import accepted_consumer
from tests.bench.common import (
    CpuMeter,
    Stopwatch,
    describe_load,
    latency_figures,
    load_figures,
    note,
    pids_named,
    report,
    scaled,
    setting,
)
from tests.bench.flows import (
    BACKENDS,
    CALLS,
    SPRING_BUD,
    Flow,
    FlowRun,
    People,
    closed_loop,
    expect,
    new_platform,
    note_per_call,
    platform_cpu_meter,
    set_up_people,
)
from tests.support.platform import Platform
from tests.support.waiting import wait_until

FLOW_BENCH = "projects.flow_via_gateway"
READ_BENCH = "projects.get_via_gateway"
DRAFT_READ_BENCH = "projects.get_draft_via_gateway"
EVENT_BENCH = "projects.accepted_to_consumer"

CONSUMER_QUEUE = "evt-projects-milestone_accepted--bench_accepted.on_milestone_accepted"
#: events one flow publishes (applying publishes none)
FLOW_EVENTS = ("project_published", "contract_awarded", "milestone_reported", "milestone_accepted")


# --- the platform and its people ---------------------------------------------------------------


@dataclass
class Running:
    backend: str
    platform: Platform
    events: EventQueue
    consumer_db: sa.Engine
    people: People | None = None
    #: every flow run so far (warm-up included), in the order they completed
    flows: list[Flow] = field(default_factory=list)

    def cpu_meter(self) -> CpuMeter:
        return platform_cpu_meter(
            self.platform,
            ("gateway", "projects", "registry", "consumer"),
            rabbitmq=lambda: pids_named("beam.smp"),
            postgres=lambda: pids_named("postgres"),
        )

    def handled(self) -> list[Any]:
        """The consumer's rows: one per application of a ``milestone_accepted`` event."""
        with self.consumer_db.connect() as connection:
            return connection.execute(sa.select(accepted_consumer.handled)).all()


class EventQueue:
    """A durable queue bound to every event of one service, read only at the end."""

    def __init__(self, amqp_uri: str, service: str) -> None:
        self.connection = kombu.Connection(amqp_uri)
        exchange = kombu.Exchange(f"{service}.events", type="topic", durable=True)
        self.queue = kombu.Queue(
            f"bench-{service}-events-{uuid.uuid4().hex[:6]}",
            exchange,
            routing_key="#",
            durable=True,
        )

    def __enter__(self) -> EventQueue:
        self.channel = self.connection.channel()
        self.queue(self.channel).declare()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.connection.release()

    def depth(self) -> int:
        return self.queue(self.channel).queue_declare(passive=True).message_count

    def drain(self) -> list[tuple[str, dict]]:
        bound = self.queue(self.channel)
        events = []
        while (message := bound.get(no_ack=True)) is not None:
            events.append((message.delivery_info["routing_key"], json.loads(message.body)))
        return events


@pytest.fixture(scope="module", params=BACKENDS)
def running(request, rabbit_manager, infra, tmp_path_factory):
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"projects-{backend}")
    with ExitStack() as stack:
        platform, vhost = new_platform(
            stack,
            request,
            rabbit_manager,
            infra,
            workdir,
            backend,
            databases=("registry", "projects", "gateway"),
        )
        events = stack.enter_context(EventQueue(platform.amqp_uri, "projects"))

        # the consumer first, so its queue is bound before the first acceptance
        consumer_url = f"sqlite:///{workdir / 'consumer.sqlite3'}"
        accepted_consumer.create_tables(consumer_url)
        consumer_db = create_engine(consumer_url)
        stack.callback(consumer_db.dispose)
        platform.service(
            "consumer",
            "tests/bench/accepted_consumer.yaml",
            "tests.bench.accepted_consumer:AcceptedConsumer",
            BENCH_CONSUMER_DATABASE_URL=consumer_url,
        )
        platform.start()
        wait_until(
            lambda: any(
                q["name"] == CONSUMER_QUEUE and q.get("consumers", 0) > 0
                for q in rabbit_manager.get_queues(vhost)
            ),
            timeout=30,
            what="the consumer's queue has a consumer",
        )

        running = Running(backend, platform, events, consumer_db)
        setup = Stopwatch()
        running.people = set_up_people(platform, SPRING_BUD, setting("BENCH_PROVIDERS", 16))
        concurrency = setting("BENCH_CONCURRENCY", 16)
        warm_up = run_flows(running, concurrency, concurrency)
        assert not warm_up.failures, warm_up.failures
        note(
            f"{FLOW_BENCH} {backend}: set-up and {concurrency} warm-up flows took "
            f"{setup.elapsed:.1f}s"
        )
        yield running


# --- the flows ----------------------------------------------------------------------------------


def run_flows(running: Running, flows: int, concurrency: int) -> FlowRun:
    """``flows`` flows from ``concurrency`` green threads, each with its own session."""
    assert running.people is not None
    first = len(running.flows)
    run = closed_loop(running.platform, running.people, SPRING_BUD, first, flows, concurrency)
    running.flows.extend(run.completed)
    return run


def test_project_flows_through_the_gateway(running):
    flows = scaled("BENCH_FLOWS", 400)
    concurrency = setting("BENCH_CONCURRENCY", 16)
    already = len(running.flows)

    cpu = running.cpu_meter().start()
    run = run_flows(running, flows, concurrency)
    cpu.stop()

    assert not run.failures, run.failures
    assert len(run.completed) == flows
    assert run.statuses == {(name, status): flows for name, status in CALLS.items()}
    writes = flows * len(CALLS)
    load = load_figures(cpu, run.seconds, writes, "request")
    per_call = run.per_call()
    accept = per_call["accept"]
    report(
        FLOW_BENCH,
        running.backend,
        f"{flows} flows, {flows / run.seconds:.1f} flows/s = {writes / run.seconds:.1f} write "
        f"req/s; accept p50 {accept['p50_ms']:.1f} ms, p99 {accept['p99_ms']:.1f} ms "
        f"(concurrency {concurrency}, {len(running.people.providers)} providers"
        f"{', Idempotency-Key' if run.idempotency else ''})",
        flows=flows,
        concurrency=concurrency,
        providers=len(running.people.providers),
        idempotency_key=run.idempotency,
        seconds=round(run.seconds, 2),
        flows_per_s=round(flows / run.seconds, 2),
        write_req_per_s=round(writes / run.seconds, 1),
        per_call=per_call,
        **load,
        cpu_ms_per_flow=cpu.per_item_ms(flows),
    )
    note_per_call(f"{FLOW_BENCH} {running.backend}", per_call)
    note(f"{FLOW_BENCH} {running.backend}: {describe_load(cpu, load, writes, 'write request')}")

    check_events(running, run, first_timed=already)


def check_events(running: Running, run: FlowRun, first_timed: int) -> None:
    """Every flow's events went out once; every acceptance was handled once, and how soon."""
    everything = running.flows
    expected_events = 1 + len(FLOW_EVENTS) * len(everything)  # 1: the warm-up project

    drain = Stopwatch()
    wait_until(
        lambda: len(running.handled()) >= len(everything),
        timeout=60 + len(everything) / 20,
        interval=0.2,
        what="the consumer handled every milestone_accepted",
    )
    wait_until(
        lambda: running.events.depth() >= expected_events,
        timeout=60 + expected_events / 50,
        interval=0.2,
        what="the relay published every event",
    )
    note(f"{EVENT_BENCH} {running.backend}: caught up {drain.elapsed:.1f}s after the last flow")
    eventlet.sleep(1.0)  # anything extra (a duplicate) would arrive by now

    # the tap: each event of each flow exactly once
    published = running.events.drain()
    assert len(published) == expected_events, (len(published), expected_events)
    assert len({body["event_id"] for _, body in published}) == expected_events
    by_type = collections.Counter(key for key, _ in published)
    assert by_type == {
        "project_published": len(everything) + 1,
        **{key: len(everything) for key in FLOW_EVENTS[1:]},
    }, by_type
    accepted_ids = {body["milestone_id"] for key, body in published if key == "milestone_accepted"}
    assert accepted_ids == {flow.milestone_id for flow in everything}

    # the consumer: each acceptance handled exactly once
    rows = running.handled()
    assert len(rows) == len(everything), (len(rows), len(everything))
    assert len({row.event_id for row in rows}) == len(rows)
    assert {row.milestone_id for row in rows} == accepted_ids

    # how soon, for the timed flows: from the acceptance, and from the commit
    timed = {flow.milestone_id for flow in everything[first_timed:]}
    rows = [row for row in rows if row.milestone_id in timed]
    committed = outbox_times(running.platform.database_urls["projects"])
    from_occurred = [(row.handled_at - row.occurred_at).total_seconds() for row in rows]
    from_commit = [(row.handled_at - committed[row.event_id][0]).total_seconds() for row in rows]
    to_sent = [(sent - created).total_seconds() for created, sent in committed.values() if sent]
    occurred, commit = latency_figures(from_occurred), latency_figures(from_commit)
    relay = latency_figures(to_sent)
    report(
        EVENT_BENCH,
        running.backend,
        f"{len(rows)} milestone_accepted handled once each; acceptance → handler p50 "
        f"{occurred['p50_ms']:.1f} ms, p99 {occurred['p99_ms']:.1f} ms, max "
        f"{occurred['max_ms']:.1f} ms; commit → handler p50 {commit['p50_ms']:.1f} ms, p99 "
        f"{commit['p99_ms']:.1f} ms (under the flows' load)",
        events=len(rows),
        from_occurred=occurred,
        from_commit=commit,
        commit_to_confirmed=relay,
    )


def outbox_times(url: str) -> dict[str, tuple[Any, Any]]:
    """event_id -> (created_at, sent_at) of the projects outbox's ``milestone_accepted`` rows."""
    engine = create_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox.c.event_id, outbox.c.created_at, outbox.c.sent_at).where(
                    outbox.c.event_type == "milestone_accepted"
                )
            ).all()
    finally:
        engine.dispose()
    return {row.event_id: (row.created_at, row.sent_at) for row in rows}


# --- reads --------------------------------------------------------------------------------------


def test_read_projects_through_the_gateway(running):
    """Published projects: what the gateway's read cache serves after the first read."""
    ids = [flow.project_id for flow in running.flows]
    time_reads(running, ids, READ_BENCH, "published")


def test_read_draft_projects_through_the_gateway(running):
    """Drafts are never cached (who may read one depends on the reader): every read is an RPC
    to the projects service and a database query — the price of a cache miss."""
    staff = running.people.staff
    client = running.platform.client()
    ids = [
        expect(
            client.post(
                "/projects", json={**SPRING_BUD.project, "title": f"草稿-{i}"}, headers=staff
            ),
            201,
        )["id"]
        for i in range(16)
    ]
    time_reads(running, ids, DRAFT_READ_BENCH, "draft")


def cache_lookups(running: Running) -> dict[str, float]:
    """The gateway's read-cache hits and misses so far, from its Prometheus metrics."""
    port = running.platform.gateway_port
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = {"hit": 0.0, "miss": 0.0}
    for line in text.splitlines():
        if line.startswith("jinguo_gateway_cache_lookups_total{"):
            labels, value = line.rsplit(" ", 1)
            for result in found:
                if f'result="{result}"' in labels and 'cache="projects"' in labels:
                    found[result] += float(value)
    return found


def time_reads(running: Running, ids: list[str], bench: str, kind: str) -> None:
    concurrency = setting("BENCH_CONCURRENCY", 16)
    seconds = scaled("BENCH_GET_SECONDS", 20, minimum=5)
    latencies: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []

    def worker(seed: int, deadline: float) -> None:
        client = running.platform.client()  # its own requests.Session (keep-alive socket)
        client.session.headers.update(running.people.staff)
        pick = random.Random(seed)
        while time.perf_counter() < deadline:
            project_id = ids[pick.randrange(len(ids))]
            started = time.perf_counter()
            response = client.get(f"/projects/{project_id}")
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            wrong = response.status_code != 200 or response.json()["id"] != project_id
            if wrong and len(failures) < 5:
                failures.append(f"{project_id}: {response.status_code} {response.text[:300]}")

    before = cache_lookups(running)
    cpu = running.cpu_meter().start()
    clock = Stopwatch()
    pool = eventlet.GreenPool(concurrency)
    deadline = time.perf_counter() + seconds
    for seed in range(concurrency):
        pool.spawn(worker, seed, deadline)
    pool.waitall()
    elapsed = clock.elapsed
    cpu.stop()
    after = cache_lookups(running)

    requests = len(latencies)
    assert not failures, failures
    assert statuses == {200: requests}, statuses
    hits = int(after["hit"] - before["hit"])
    misses = int(after["miss"] - before["miss"])
    figures = latency_figures(latencies)
    load = load_figures(cpu, elapsed, requests, "request")
    report(
        bench,
        running.backend,
        f"{requests} requests in {elapsed:.1f}s, {requests / elapsed:.1f} req/s, p50 "
        f"{figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms (concurrency "
        f"{concurrency}, {len(ids)} {kind} projects; gateway cache {hits} hits, {misses} misses)",
        requests=requests,
        concurrency=concurrency,
        projects=len(ids),
        kind=kind,
        cache_hits=hits,
        cache_misses=misses,
        seconds=round(elapsed, 2),
        req_per_s=round(requests / elapsed, 1),
        **figures,
        **load,
    )
    note(f"{bench} {running.backend}: {describe_load(cpu, load, requests, 'request')}")
