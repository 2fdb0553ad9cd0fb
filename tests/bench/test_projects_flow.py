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
   seconds, as the staff user, over every project created before (ids picked at random).

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
import os
import random
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import eventlet
import kombu
import pytest
import sqlalchemy as sa

from kit.db import create_engine
from kit.tables import outbox
from tests.bench import accepted_consumer
from tests.bench.common import (
    CpuMeter,
    Stopwatch,
    latency_figures,
    note,
    pids_named,
    report,
    scaled,
    setting,
    wait_until,
)
from tests.support.infra import scratch_postgres_database
from tests.support.platform import Client, Platform, new_vhost, vhost_uri

FLOW_BENCH = "projects.flow_via_gateway"
READ_BENCH = "projects.get_via_gateway"
EVENT_BENCH = "projects.accepted_to_consumer"
BACKENDS = [b for b in (os.environ.get("BENCH_BACKENDS") or "sqlite,postgresql").split(",") if b]

CONSUMER_QUEUE = "evt-projects-milestone_accepted--bench_accepted.on_milestone_accepted"
#: the write calls of one flow, in order, and the status each must answer
CALLS = {"draft": 201, "publish": 200, "apply": 201, "award": 201, "report": 201, "accept": 200}
#: events one flow publishes (applying publishes none)
FLOW_EVENTS = ("project_published", "contract_awarded", "milestone_reported", "milestone_accepted")
IDEMPOTENT_CALLS = {"draft", "apply", "award", "report"}

AMOUNT = 48_000_000
PROJECT = {
    "category": "spring_bud_girls_schooling",
    "model": "commissioned",
    "funding_source_id": "f0000000-0000-4000-8000-00000000f001",
    "budget": 50_000_000,
    "starts_on": "2027-02-01",
    "ends_on": "2027-11-30",
    "target_beneficiaries": 120,
    "indicators": [
        {"name": "资助女童人数", "target": 120, "unit": "人"},
        {"name": "家访次数", "target": 240, "unit": "次"},
    ],
}
MILESTONE = {
    "title": "助学金发放",
    "deliverables": "发放记录与回访报告",
    "due_on": "2027-09-10",
    "amount": AMOUNT,
}
REPORT = {
    "summary": "完成120名女童助学金发放",
    "beneficiaries_served": 120,
    "evidence": [
        {"name": "发放记录.zip", "type": "archive", "url": "https://files.example.org/a.zip"}
    ],
    "indicator_values": {"资助女童人数": 120, "家访次数": 240},
}


# --- the platform and its people ---------------------------------------------------------------


@dataclass
class Provider:
    id: str
    headers: dict[str, str]  # the contractor's bearer token


@dataclass
class People:
    city_id: str
    staff: dict[str, str]  # the staff user's bearer token
    providers: list[Provider]


@dataclass
class Flow:
    project_id: str
    contract_id: str
    milestone_id: str


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
        def pid(name: str):
            return lambda: [self.platform.processes[name].popen.pid]

        return CpuMeter(
            {
                "gateway": pid("gateway"),
                "projects": pid("projects"),
                "registry": pid("registry"),
                "consumer": pid("consumer"),
                "rabbitmq": lambda: pids_named("beam.smp"),
                "postgres": lambda: pids_named("postgres"),
            }
        )

    def handled(self) -> list[Any]:
        """The consumer's rows: one per application of a ``milestone_accepted`` event."""
        with self.consumer_db.connect() as connection:
            return connection.execute(sa.select(accepted_consumer.handled)).all()


def load_figures(cpu: CpuMeter, seconds: float, items: int) -> dict[str, Any]:
    """What the services cost per item without the load generator, and how much of the busy
    machine was outside the meter (other tenants, kernel threads): a run with a large share
    there is disturbed and its rates read low."""
    per_item = cpu.per_item_ms(items)
    unmetered = cpu.machine_busy * (os.cpu_count() or 1) - sum(cpu.used.values()) / seconds
    return {
        "cpu_ms_per_request": per_item,
        "server_cpu_ms_per_request": round(
            sum(ms for label, ms in per_item.items() if label != "client"), 2
        ),
        "machine_busy": round(cpu.machine_busy, 2),
        "unmetered_cores": round(unmetered, 2),
    }


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
        if backend == "sqlite":
            urls: dict[str, str] = {}  # the platform puts SQLite files in its work dir
        elif backend == "postgresql":
            admin_url = request.getfixturevalue("postgres_admin_url")
            urls = {
                name: stack.enter_context(
                    scratch_postgres_database(admin_url, f"jinguo_bench_{name}")
                )
                for name in ("registry", "projects", "gateway")
            }
        else:
            raise ValueError(f"unknown backend {backend!r} in BENCH_BACKENDS")
        vhost = new_vhost(rabbit_manager)
        stack.callback(rabbit_manager.delete_vhost, vhost)
        platform = Platform(
            amqp_uri=vhost_uri(infra.amqp_uri, vhost),
            workdir=workdir,
            database_urls=urls,
            rpc_timeout=10.0,  # the production default; the e2e tests use 3 s
        )
        stack.callback(platform.stop)
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
        running.people = set_up_people(platform, setting("BENCH_PROVIDERS", 16))
        concurrency = setting("BENCH_CONCURRENCY", 16)
        warm_up = run_flows(running, concurrency, concurrency)
        assert not warm_up.failures, warm_up.failures
        note(
            f"{FLOW_BENCH} {backend}: set-up and {concurrency} warm-up flows took "
            f"{setup.elapsed:.1f}s"
        )
        yield running


def eventually(attempt: Any, timeout: float = 30.0) -> Any:
    """Retry ``attempt`` (which raises AssertionError until the world has caught up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            eventlet.sleep(0.1)


def expect(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_up_people(platform: Platform, providers: int) -> People:
    """City, staff, verified providers with a contractor each; wait until projects knows."""
    admin = platform.admin()
    city = admin.create(
        "/organizations",
        {"name": "某市妇女联合会", "kind": "federation", "level": "city", "region_code": "330100"},
    )
    staff_name, staff_password = "city.staff", "city-staff-pass"
    admin.create(
        "/users",
        {
            "username": staff_name,
            "password": staff_password,
            "role": "federation_staff",
            "organization_id": city["id"],
        },
    )
    staff_token = platform.token(staff_name, staff_password)
    staff = platform.client(staff_token)
    people = People(city_id=city["id"], staff=bearer(staff_token), providers=[])
    for index in range(providers):
        provider = staff.create(
            "/organizations",
            {
                "name": f"社工服务中心-{index:03d}",
                "kind": "service_provider",
                "parent_id": city["id"],
            },
        )
        expect(staff.post(f"/organizations/{provider['id']}/verify"), 200)
        username, password = f"contractor.{index:03d}", f"contractor-{index:03d}-pass"
        admin.create(
            "/users",
            {
                "username": username,
                "password": password,
                "role": "contractor",
                "organization_id": provider["id"],
            },
        )
        people.providers.append(
            Provider(provider["id"], bearer(platform.token(username, password)))
        )

    # registry facts reach projects asynchronously: the city first, then every verification
    project = eventually(
        lambda: expect(staff.post("/projects", {**PROJECT, "title": "预热项目"}), 201)
    )
    expect(staff.post(f"/projects/{project['id']}/publish"), 200)
    contractor = platform.client()
    for provider in people.providers:
        application = {"provider_id": provider.id, "amount": AMOUNT, "proposal": "预热"}
        eventually(
            lambda provider=provider, application=application: expect(
                contractor.post(
                    f"/projects/{project['id']}/applications",
                    application,
                    headers=provider.headers,
                ),
                201,
            )
        )
    return people


# --- the flows ----------------------------------------------------------------------------------


@dataclass
class FlowRun:
    idempotency: bool = False
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    completed: list[Flow] = field(default_factory=list)
    seconds: float = 0.0

    def call(
        self, client: Client, name: str, path: str, headers: dict[str, str], body: Any = None
    ) -> dict[str, Any] | None:
        """POST, timed; the body of the expected answer, or None (and a failure noted)."""
        if self.idempotency and name in IDEMPOTENT_CALLS:
            headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        response = client.post(path, body, headers=headers)
        self.latencies[name].append(time.perf_counter() - started)
        self.statuses[(name, response.status_code)] += 1
        if response.status_code != CALLS[name]:
            self.fail(f"{name} {path}: {response.status_code} {response.text[:300]}")
            return None
        return response.json()

    def fail(self, text: str) -> None:
        if len(self.failures) < 5:
            self.failures.append(text)


def one_flow(client: Client, people: People, index: int, run: FlowRun) -> Flow | None:
    staff = people.staff
    provider = people.providers[index % len(people.providers)]
    project = run.call(client, "draft", "/projects", staff, {**PROJECT, "title": f"春蕾-{index}"})
    if project is None:
        return None
    project_id = project["id"]
    if run.call(client, "publish", f"/projects/{project_id}/publish", staff) is None:
        return None
    application = run.call(
        client,
        "apply",
        f"/projects/{project_id}/applications",
        provider.headers,
        {"provider_id": provider.id, "amount": AMOUNT, "proposal": "入户走访与助学金发放"},
    )
    if application is None:
        return None
    contract = run.call(
        client,
        "award",
        f"/projects/{project_id}/award",
        staff,
        {"application_id": application["id"], "milestones": [MILESTONE]},
    )
    if contract is None:
        return None
    milestone = f"/contracts/{contract['id']}/milestones/{contract['milestones'][0]['id']}"
    if run.call(client, "report", milestone + "/reports", provider.headers, REPORT) is None:
        return None
    decided = run.call(client, "accept", milestone + "/accept", staff)
    if decided is None:
        return None
    if decided["status"] != "completed" or decided["milestones"][0]["status"] != "accepted":
        run.fail(f"accept {milestone}: the contract is {decided['status']}")
        return None
    return Flow(project_id, contract["id"], contract["milestones"][0]["id"])


def run_flows(running: Running, flows: int, concurrency: int) -> FlowRun:
    """``flows`` flows from ``concurrency`` green threads, each with its own session."""
    assert running.people is not None
    run = FlowRun(idempotency=os.environ.get("BENCH_IDEMPOTENCY") == "1")
    jobs = iter(range(len(running.flows), len(running.flows) + flows))

    def worker() -> None:
        client = running.platform.client()  # its own requests.Session (keep-alive socket)
        for index in jobs:
            flow = one_flow(client, running.people, index, run)
            if flow is not None:
                run.completed.append(flow)

    clock = Stopwatch()
    pool = eventlet.GreenPool(concurrency)
    for _ in range(concurrency):
        pool.spawn(worker)
    pool.waitall()
    run.seconds = clock.elapsed
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
    load = load_figures(cpu, run.seconds, writes)
    per_call = {name: latency_figures(run.latencies[name]) for name in CALLS}
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
    calls = ", ".join(
        f"{name} {figures['p50_ms']:.0f}/{figures['p99_ms']:.0f}"
        for name, figures in per_call.items()
    )
    note(f"{FLOW_BENCH} {running.backend}: p50/p99 ms per call: {calls}")
    note(
        f"{FLOW_BENCH} {running.backend}: {cpu.describe(writes, 'write request')}; "
        f"{load['unmetered_cores']:.2f} cores busy outside the meter"
    )

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
    concurrency = setting("BENCH_CONCURRENCY", 16)
    seconds = scaled("BENCH_GET_SECONDS", 20, minimum=5)
    ids = [flow.project_id for flow in running.flows]
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

    cpu = running.cpu_meter().start()
    clock = Stopwatch()
    pool = eventlet.GreenPool(concurrency)
    deadline = time.perf_counter() + seconds
    for seed in range(concurrency):
        pool.spawn(worker, seed, deadline)
    pool.waitall()
    elapsed = clock.elapsed
    cpu.stop()

    requests = len(latencies)
    assert not failures, failures
    assert statuses == {200: requests}, statuses
    figures = latency_figures(latencies)
    load = load_figures(cpu, elapsed, requests)
    report(
        READ_BENCH,
        running.backend,
        f"{requests} requests in {elapsed:.1f}s, {requests / elapsed:.1f} req/s, p50 "
        f"{figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms (concurrency "
        f"{concurrency}, {len(ids)} projects)",
        requests=requests,
        concurrency=concurrency,
        projects=len(ids),
        seconds=round(elapsed, 2),
        req_per_s=round(requests / elapsed, 1),
        **figures,
        **load,
    )
    note(
        f"{READ_BENCH} {running.backend}: {cpu.describe(requests, 'request')}; "
        f"{load['unmetered_cores']:.2f} cores busy outside the meter"
    )
