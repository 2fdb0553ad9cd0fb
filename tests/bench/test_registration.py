"""Registering organizations through the gateway: HTTP → gateway → RPC → registry → outbox.

The platform runs as real ``nameko run`` processes (registry and gateway) on a fresh vhost.
The admin registers a city federation, then N organizations under it — host units (half of
them with a women's organization child) and service providers — from C green threads, each
with its own HTTP session. A queue bound to ``registry.events`` catches what the relay
publishes, so the run also proves every registration's event went out exactly once.

Environment (see tests/bench/common.py for BENCH_SCALE):
    BENCH_REGISTRATIONS   requests to time (default 10,000 × BENCH_SCALE)
    BENCH_CONCURRENCY     green threads, one requests.Session each (default 16)
    BENCH_BACKENDS        comma-separated subset of "sqlite,postgresql" (default both)
    BENCH_IDEMPOTENCY     1 to send an Idempotency-Key with every POST (default 0)
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass

import eventlet
import kombu
import pytest

from registry.domain.hierarchy import SECTORS
from tests.bench.common import (
    CpuMeter,
    Stopwatch,
    latency_figures,
    note,
    pids_named,
    report,
    scaled,
    setting,
)
from tests.support.infra import scratch_postgres_database
from tests.support.platform import Platform, new_vhost, vhost_uri

BENCH = "registry.register_via_gateway"
BACKENDS = [b for b in (os.environ.get("BENCH_BACKENDS") or "sqlite,postgresql").split(",") if b]

#: ten requests: three host units with a women's organization, three without, one provider
PATTERN = [
    *[("host_unit", "womens_organization")] * 3,
    *[("host_unit",)] * 3,
    ("service_provider",),
]


def plan(requests: int) -> list[tuple[str, ...]]:
    """Jobs (chains of kinds, each a request; a women's organization follows its host unit)."""
    jobs: list[tuple[str, ...]] = []
    left = requests
    for chain in itertools.cycle(PATTERN):
        if left <= 0:
            break
        chain = chain[:left]
        jobs.append(chain)
        left -= len(chain)
    return jobs


@pytest.fixture(params=BACKENDS)
def running(request, rabbit_manager, infra, tmp_path):
    backend = request.param
    with ExitStack() as stack:
        if backend == "sqlite":
            urls = {
                "registry": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
                "gateway": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
            }
        elif backend == "postgresql":
            admin_url = request.getfixturevalue("postgres_admin_url")
            urls = {
                name: stack.enter_context(
                    scratch_postgres_database(admin_url, f"jinguo_bench_{name}")
                )
                for name in ("registry", "gateway")
            }
        else:
            raise ValueError(f"unknown backend {backend!r} in BENCH_BACKENDS")
        vhost = new_vhost(rabbit_manager)
        stack.callback(rabbit_manager.delete_vhost, vhost)
        platform = Platform(
            amqp_uri=vhost_uri(infra.amqp_uri, vhost),
            workdir=tmp_path,
            database_urls=urls,
            rpc_timeout=10.0,  # the production default; the e2e tests use 3 s
        )
        stack.callback(platform.stop)
        tap = stack.enter_context(EventQueue(platform.amqp_uri))
        platform.start()
        yield Running(backend, platform, tap)


@dataclass
class Running:
    backend: str
    platform: Platform
    events: EventQueue

    def cpu_meter(self) -> CpuMeter:
        def pid(name: str):
            return lambda: [self.platform.processes[name].popen.pid]

        return CpuMeter(
            {
                "gateway": pid("gateway"),
                "registry": pid("registry"),
                "rabbitmq": lambda: pids_named("beam.smp"),
                "postgres": lambda: pids_named("postgres"),
            }
        )


class EventQueue:
    """A durable queue bound to every registry event, read only at the end."""

    def __init__(self, amqp_uri: str) -> None:
        self.connection = kombu.Connection(amqp_uri)
        exchange = kombu.Exchange("registry.events", type="topic", durable=True)
        self.queue = kombu.Queue(
            f"bench-registry-events-{uuid.uuid4().hex[:6]}", exchange, routing_key="#", durable=True
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


def test_register_organizations_through_the_gateway(running):
    platform, tap = running.platform, running.events
    requests = scaled("BENCH_REGISTRATIONS", 10_000)
    concurrency = setting("BENCH_CONCURRENCY", 16)
    idempotency = os.environ.get("BENCH_IDEMPOTENCY") == "1"
    token = platform.token("admin", platform.admin_password)
    admin = platform.client(token)
    city = admin.create(
        "/organizations",
        {"name": "某市妇女联合会", "kind": "federation", "level": "city", "region_code": "330100"},
    )

    jobs = iter(enumerate(plan(requests)))
    latencies: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []
    created: dict[str, list[str]] = collections.defaultdict(list)

    def post(client, payload: dict) -> dict | None:
        headers = {"Idempotency-Key": uuid.uuid4().hex} if idempotency else {}
        started = time.perf_counter()
        response = client.post("/organizations", payload, headers=headers)
        latencies.append(time.perf_counter() - started)
        statuses[response.status_code] += 1
        if response.status_code != 201:
            if len(failures) < 5:
                failures.append(f"{response.status_code} {response.text[:300]}")
            return None
        return response.json()

    def worker() -> None:
        client = platform.client(token)  # its own requests.Session (its own keep-alive socket)
        for index, chain in jobs:
            parent_id = city["id"]
            for kind in chain:
                payload = {"name": f"{kind}-{index:05d}", "kind": kind, "parent_id": parent_id}
                if kind == "host_unit":
                    payload["sector"] = SECTORS[index % len(SECTORS)]
                body = post(client, payload)
                if body is None:
                    break
                created[kind].append(body["id"])
                parent_id = body["id"]

    cpu = running.cpu_meter().start()
    clock = Stopwatch()
    pool = eventlet.GreenPool(concurrency)
    for _ in range(concurrency):
        pool.spawn(worker)
    pool.waitall()
    elapsed = clock.elapsed
    cpu.stop()

    assert not failures, failures
    assert statuses == {201: requests}, statuses
    figures = latency_figures(latencies)
    report(
        BENCH,
        running.backend,
        f"{requests} requests, {requests / elapsed:.1f} req/s, p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms (concurrency {concurrency}"
        f"{', Idempotency-Key' if idempotency else ''})",
        requests=requests,
        concurrency=concurrency,
        idempotency_key=idempotency,
        seconds=round(elapsed, 2),
        req_per_s=round(requests / elapsed, 1),
        **figures,
        cpu_ms_per_request=cpu.per_item_ms(requests),
        machine_busy=round(cpu.machine_busy, 2),
    )
    note(f"{BENCH} {running.backend}: {cpu.describe(requests, 'request')}")

    # every registration's event left the outbox, exactly once (city included)
    expected = requests + 1
    drain = Stopwatch()
    wait_for_events = 60 + requests / 50
    deadline = time.monotonic() + wait_for_events
    while tap.depth() < expected and time.monotonic() < deadline:
        eventlet.sleep(0.2)
    note(f"{BENCH} {running.backend}: relay caught up {drain.elapsed:.1f}s after the last 201")
    events = tap.drain()
    ids = [body["organization_id"] for key, body in events if key == "organization_registered"]
    assert len(events) == expected, (len(events), expected)
    assert len(set(ids)) == expected
    assert set(ids) == {city["id"], *itertools.chain.from_iterable(created.values())}

    # the registry counted what we registered
    coverage = admin.get(f"/organizations/{city['id']}/coverage").json()
    host_units, women = len(created["host_unit"]), len(created["womens_organization"])
    assert coverage["total"]["host_units"] == host_units
    assert coverage["total"]["covered"] == women
