"""Events per second: Jinguo's outbox pipeline beside nameko's dispatcher and raw kombu.

Three ways to get N events (the same ``organization_verified`` bodies) from a producer to a
consumer, through the same RabbitMQ, in the same run:

* **kombu**: a kombu Producer with ``confirm_publish`` (a confirm awaited per message,
  persistent) into a durable queue drained by a plain kombu consumer (manual ack,
  prefetch 100). The floor any safe publisher starts from.
* **nameko**: ``nameko.standalone.events.event_dispatcher`` (confirms on, persistent, no
  database) into a plain ``@event_handler`` that only counts.
* **outbox**: N pending rows committed into a migrated registry database through
  ``UnitOfWork.emit`` (in batches, as a busy service would), a consumer container using
  ``kit.consumer.on_event`` on its own database (``tests.support.probe``: inbox row + an
  effect row per event), then ``kit.outbox.OutboxRelay`` started on the producer database.
  Timed from relay start until every event_id is in the consumer's inbox. Producer and
  consumer databases are both SQLite files, or both PostgreSQL databases.

Publisher and consumer share this test process (one core) in all three, as a service and its
relay do; RabbitMQ and PostgreSQL are separate processes.

Environment (see tests/bench/common.py for BENCH_SCALE):
    BENCH_OUTBOX_EVENTS      events per variant (default 20,000 × BENCH_SCALE)
    BENCH_BACKENDS           comma-separated subset of "sqlite,postgresql" (default both)
    BENCH_CONSUMER_WORKERS   nameko max_workers (= prefetch) of the consumers (default 10)
    BENCH_RELAY_BATCH        the relay's batch_size (default 500, as in config.yaml)
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import eventlet
import kombu
import pytest
import sqlalchemy as sa
from nameko.containers import ServiceContainer
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher

from kit.db import DatabaseResource, connect
from kit.migrate import upgrade
from kit.outbox import OutboxRelay, outbox_status
from kit.tables import inbox, outbox
from language import events as catalogue
from tests.bench.common import (
    CpuMeter,
    Stopwatch,
    note,
    pids_named,
    report,
    scaled,
    setting,
)
from tests.support.infra import scratch_postgres_database
from tests.support.platform import free_port, new_vhost, vhost_uri
from tests.support.probe import ProbeService, applied, create_probe_tables
from tests.support.waiting import wait_until

BENCH = "events.pipeline"
EVENT = "organization_verified"
BACKENDS = [b for b in (os.environ.get("BENCH_BACKENDS") or "sqlite,postgresql").split(",") if b]
ACTOR_ID = "a0000000-0000-4000-8000-000000000001"


def events_count() -> int:
    return scaled("BENCH_OUTBOX_EVENTS", 20_000, minimum=100)


def workers() -> int:
    return setting("BENCH_CONSUMER_WORKERS", 10)


def event_data() -> dict[str, Any]:
    """What ``Organization.transition("verify", ...)`` records for a host unit."""
    return {
        "organization_id": str(uuid.uuid4()),
        "kind": "host_unit",
        "version": 2,
        "status": "verified",
        "reason": None,
        "actor_id": ACTOR_ID,
    }


def cpu_meter() -> CpuMeter:
    return CpuMeter(
        {"rabbitmq": lambda: pids_named("beam.smp"), "postgres": lambda: pids_named("postgres")}
    )


@dataclass(frozen=True)
class Rate:
    end_to_end: float  # events/s until the last one was consumed
    publish: float  # events/s until the last one was confirmed by the broker


def report_rate(
    variant: str, n: int, elapsed: float, published: float, cpu: CpuMeter, **extra: Any
) -> Rate:
    rate = Rate(n / elapsed, n / max(published, 1e-9))
    report(
        BENCH,
        variant,
        f"{n} events, {rate.end_to_end:.0f} events/s end to end (all published after "
        f"{published:.1f}s = {rate.publish:.0f}/s, all consumed after {elapsed:.1f}s)",
        events=n,
        events_per_s=round(rate.end_to_end, 1),
        publish_per_s=round(rate.publish, 1),
        seconds=round(elapsed, 2),
        published_after_s=round(published, 2),
        cpu_ms_per_event=cpu.per_item_ms(n),
        machine_busy=round(cpu.machine_busy, 2),
        consumer_workers=workers(),
        **extra,
    )
    note(f"{BENCH} {variant}: {cpu.describe(n, 'event')}")
    return rate


@pytest.fixture(scope="module")
def broker(rabbit_manager, infra):
    """A vhost of our own for the baselines (module-scoped, so they run once per module)."""
    vhost = new_vhost(rabbit_manager)
    yield vhost_uri(infra.amqp_uri, vhost)
    rabbit_manager.delete_vhost(vhost)


@pytest.fixture(scope="module")
def bodies():
    """N valid catalogue bodies, shared by both baselines."""
    return [catalogue.outgoing("registry", EVENT, event_data()) for _ in range(events_count())]


# --- baseline (a): raw kombu, a confirm per message ---------------------------------------


@pytest.fixture(scope="module")
def kombu_rate(broker, bodies):
    n = len(bodies)
    exchange = kombu.Exchange("bench_raw.events", type="topic", durable=True)
    queue = kombu.Queue("bench-raw-consumer", exchange, routing_key=EVENT, durable=True)
    seen: list[str] = []
    publisher = kombu.Connection(broker, transport_options={"confirm_publish": True})
    subscriber = kombu.Connection(broker)
    try:
        producer = kombu.Producer(publisher.channel(), exchange=exchange)
        channel = subscriber.channel()
        queue(channel).declare()
        channel.basic_qos(0, 100, False)

        def on_message(body: dict, message: Any) -> None:
            seen.append(body["event_id"])
            message.ack()

        def consume() -> None:
            with kombu.Consumer(channel, [queue], callbacks=[on_message], accept=["json"]):
                while len(seen) < n:
                    try:
                        subscriber.drain_events(timeout=1)
                    except TimeoutError:
                        continue

        consumer = eventlet.spawn(consume)
        cpu = cpu_meter().start()
        clock = Stopwatch()
        for body in bodies:
            producer.publish(body, routing_key=EVENT, serializer="json", delivery_mode=2)
        published = clock.elapsed
        with eventlet.Timeout(120 + n / 100):
            consumer.wait()
        elapsed = clock.elapsed
        cpu.stop()
    finally:
        publisher.release()
        subscriber.release()
    assert len(seen) == n and set(seen) == {b["event_id"] for b in bodies}
    return report_rate("kombu-confirm-each", n, elapsed, published, cpu, prefetch=100)


# --- baseline (b): nameko's EventDispatcher into a counting @event_handler ----------------

SEEN: list[str] = []


class CountingService:
    name = "bench_counter"

    @event_handler("bench_source", EVENT)
    def count(self, payload: dict) -> None:
        SEEN.append(payload["event_id"])


@pytest.fixture(scope="module")
def nameko_rate(broker, bodies):
    n = len(bodies)
    config = {"AMQP_URI": broker, "max_workers": workers()}
    container = ServiceContainer(CountingService, config)
    container.start()  # binds its queue before anything is dispatched
    SEEN.clear()
    try:
        dispatch = event_dispatcher(config)  # use_confirms defaults to True; persistent
        cpu = cpu_meter().start()
        clock = Stopwatch()
        for body in bodies:
            dispatch("bench_source", EVENT, body)
        published = clock.elapsed
        wait_until(lambda: len(SEEN) >= n, 120 + n / 50, 0.02, "nameko handler saw every event")
        elapsed = clock.elapsed
        cpu.stop()
    finally:
        container.stop()
    assert len(SEEN) == n and set(SEEN) == {b["event_id"] for b in bodies}
    return report_rate("nameko-dispatcher", n, elapsed, published, cpu)


def test_baselines(kombu_rate, nameko_rate):
    assert kombu_rate.end_to_end > 0 and nameko_rate.end_to_end > 0


# --- the outbox pipeline ------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def databases(request, tmp_path):
    """(producer url, consumer url) on one backend."""
    if request.param == "sqlite":
        yield (
            "sqlite",
            f"sqlite:///{tmp_path / 'registry.sqlite3'}",
            f"sqlite:///{tmp_path / 'consumer.sqlite3'}",
        )
        return
    if request.param != "postgresql":
        raise ValueError(f"unknown backend {request.param!r} in BENCH_BACKENDS")
    admin_url = request.getfixturevalue("postgres_admin_url")
    with (
        scratch_postgres_database(admin_url, "jinguo_bench_producer") as producer,
        scratch_postgres_database(admin_url, "jinguo_bench_consumer") as consumer,
    ):
        yield "postgresql", producer, consumer


def fill_outbox(url: str, n: int, batch: int = 500) -> set[str]:
    """Commit ``n`` pending events through the unit of work, ``batch`` per transaction."""
    resource = DatabaseResource(url, service_name="registry", pool_size=2)
    try:
        for start in range(0, n, batch):
            with resource() as uow:
                for _ in range(start, min(start + batch, n)):
                    uow.emit(EVENT, **event_data())
                uow.commit()
        with resource.begin(write=False) as connection:
            ids = set(connection.execute(sa.select(outbox.c.event_id)).scalars())
    finally:
        resource.dispose()
    assert len(ids) == n
    return ids


def test_outbox_pipeline(databases, container_factory, rabbit_config, nameko_rate, kombu_rate):
    backend, producer_url, consumer_url = databases
    n = events_count()
    amqp_uri = rabbit_config["AMQP_URI"]

    upgrade("registry", producer_url)
    filling = Stopwatch()
    event_ids = fill_outbox(producer_url, n)
    note(f"{BENCH} outbox-{backend}: {n} events committed to the outbox in {filling.elapsed:.1f}s")

    create_probe_tables(consumer_url)
    consumer = container_factory(
        ProbeService,
        {
            "AMQP_URI": amqp_uri,
            "DATABASE_URL": consumer_url,
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
            "max_workers": workers(),
        },
    )
    consumer.start()  # its queues are bound before the relay publishes

    batch_size = setting("BENCH_RELAY_BATCH", 500)
    resource = DatabaseResource(producer_url, service_name="registry")
    relay = OutboxRelay(resource, amqp_uri=amqp_uri, batch_size=batch_size, poll_interval=0.2)
    with connect(consumer_url) as consumer_db:

        def inboxed() -> int:
            with consumer_db.begin(write=False) as connection:
                return connection.execute(sa.select(sa.func.count()).select_from(inbox)).scalar()

        cpu = cpu_meter().start()
        clock = Stopwatch()
        relay_thread = eventlet.spawn(relay.run)
        published = None
        try:
            deadline = time.monotonic() + 120 + n / 20
            while inboxed() < n:
                if published is None and outbox_status(resource)["pending"] == 0:
                    published = clock.elapsed
                assert time.monotonic() < deadline, f"only {inboxed()} of {n} events consumed"
                eventlet.sleep(0.25)
            elapsed = clock.elapsed
            cpu.stop()
        finally:
            relay.stop()
            relay_thread.wait()
            consumer.stop()

        with consumer_db.begin(write=False) as connection:
            inbox_ids = connection.execute(sa.select(inbox.c.event_id)).scalars().all()
            effects = connection.execute(sa.select(applied.c.event_id)).scalars().all()
    status = outbox_status(resource)
    resource.dispose()

    # exactly once: every event in the inbox once, and its effect applied once
    assert len(inbox_ids) == n and len(set(inbox_ids)) == n and set(inbox_ids) == event_ids
    assert len(effects) == n and set(effects) == event_ids
    assert status["pending"] == 0 and status["unrouted"] == 0

    rate = report_rate(
        f"outbox-{backend}",
        n,
        elapsed,
        published if published is not None else elapsed,
        cpu,
        relay_batch=batch_size,
    )
    ratio = rate.end_to_end / nameko_rate.end_to_end
    report(
        f"{BENCH}.ratio",
        f"outbox-{backend}",
        f"outbox/nameko-dispatch {ratio:.2f} end to end (target >= 1.0), "
        f"{rate.publish / nameko_rate.publish:.2f} publishing only; "
        f"outbox/kombu-confirm-each {rate.end_to_end / kombu_rate.end_to_end:.2f} end to end",
        outbox_per_nameko=round(ratio, 2),
        outbox_per_nameko_publish=round(rate.publish / nameko_rate.publish, 2),
        outbox_per_kombu=round(rate.end_to_end / kombu_rate.end_to_end, 2),
        target=1.0,
    )
