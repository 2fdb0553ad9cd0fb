"""The transactional outbox and the idempotent consumer, end to end inside real containers.

The registry publishes through a TCP proxy the test can cut — a broker outage as the relay
sees it — while its RPC and the consumer talk to the broker directly.
"""

import json
import uuid

import eventlet
import kombu
import pytest
import sqlalchemy as sa

from kit import deadletters, metrics
from kit.config import load_config
from kit.db import connect
from kit.outbox import OutboxRelay, outbox_status
from kit.tables import inbox, outbox
from registry.service import RegistryService
from tests.conftest import free_port
from tests.integration.conftest import ROOT
from tests.support.probe import POISON_ID, ProbeService, applied, blocked, create_probe_tables
from tests.support.proxy import CuttableProxy
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import wait_until

ADMIN = {"user_id": "a0000000-0000-4000-8000-000000000001", "username": "admin", "role": "admin"}


@pytest.fixture
def probe(container_factory, rabbit_config, tmp_path):
    url = f"sqlite:///{tmp_path / 'probe.sqlite3'}"
    create_probe_tables(url)
    config = load_config(
        ROOT / "services/registry/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=url,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
    )
    container = container_factory(ProbeService, config)
    container.start()  # binds the probe's queues before anything is published
    return url


def applied_rows(url):
    with connect(url) as db, db.begin(write=False) as connection:
        return [dict(r._mapping) for r in connection.execute(sa.select(applied))]


@pytest.fixture
def proxy(rabbit_config):
    parts = kombu.Connection(rabbit_config["AMQP_URI"])
    proxy = CuttableProxy(parts.hostname, parts.port or 5672).start()
    yield proxy
    proxy.cut()


def test_broker_outage_loses_nothing_and_republishing_applies_once(
    container_factory, registry_config, registry_db, rabbit_config, probe, proxy
):
    vhost = rabbit_config["vhost"]
    registry_config["OUTBOX"] = {
        "amqp_uri": f"amqp://guest:guest@{proxy.address}/{vhost}",
        "poll_interval": 0.2,
        "lease_ttl": 3,
        "confirm_timeout": 2,
        "max_backoff": 0.5,
    }
    container_factory(RegistryService, registry_config).start()
    duplicates = metrics.EVENTS_CONSUMED.labels("probe", "organization_registered", "duplicate")
    duplicates_before = duplicates._value.get()

    with ServiceRpcProxy("registry", registry_config) as registry:
        before = [
            registry.register_organization(
                {"name": f"服务社{i}", "kind": "service_provider"}, ADMIN
            )
            for i in range(5)
        ]
        wait_until(lambda: len(applied_rows(probe)) == 5)

        proxy.cut()
        during = [
            registry.register_organization(
                {"name": f"断网期间{i}", "kind": "service_provider"}, ADMIN
            )
            for i in range(20)
        ]
        for org in during[:10]:
            registry.change_status(org["id"], "verify", {}, ADMIN)
        with connect(registry_db, service_name="registry") as db:
            eventlet.sleep(1.5)  # the relay keeps failing and backing off meanwhile
            assert outbox_status(db)["pending"] == 30
        assert len(applied_rows(probe)) == 5

        proxy.restore()
        wait_until(lambda: len(applied_rows(probe)) == 35)

        # a relay that crashed after the broker confirmed but before it marked the rows sent
        # publishes them all again: consumers must not apply any of them twice
        with connect(registry_db, service_name="registry") as db:

            def all_marked_sent():
                """the relay has marked its last batch (it does so just after the confirms)"""
                with db.begin(write=False) as connection:
                    return (
                        connection.execute(
                            sa.select(sa.func.count()).where(outbox.c.status == "sent")
                        ).scalar_one()
                        == 35
                    )

            wait_until(all_marked_sent)
            with db.begin() as connection:
                connection.execute(sa.update(outbox).values(status="pending", sent_at=None))
            wait_until(lambda: outbox_status(db)["pending"] == 0)

        # the 25 registrations all arrive a second time, and are all recognised as duplicates
        def all_duplicates_seen():
            """every republished registration counted as a duplicate"""
            return duplicates._value.get() - duplicates_before >= 25

        try:
            wait_until(all_duplicates_seen)
        except AssertionError:
            print(
                "DIAG duplicates",
                duplicates._value.get() - duplicates_before,
                "applied",
                len(applied_rows(probe)),
            )
            raise

    rows = applied_rows(probe)
    event_ids = [row["event_id"] for row in rows]
    assert len(rows) == 35 and len(set(event_ids)) == 35
    registered = {
        row["organization_id"] for row in rows if row["event_type"] == "organization_registered"
    }
    assert registered == {org["id"] for org in before + during}
    with connect(probe) as db, db.begin(write=False) as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one() == 35


def publish_raw(amqp_uri, event_type, bodies):
    with kombu.Connection(amqp_uri) as connection:
        producer = connection.Producer()
        exchange = kombu.Exchange("registry.events", type="topic", durable=True)
        for body in bodies:
            producer.publish(
                json.dumps(body),
                exchange=exchange,
                routing_key=event_type,
                content_type="application/json",
                declare=[exchange],
            )


def verified_event(organization_id, n):
    return {
        "event_id": str(uuid.UUID(int=n + 1)),
        "occurred_at": "2026-11-22T10:00:00+00:00",
        "organization_id": organization_id,
        "kind": "service_provider",
        "version": 2,
        "status": "verified",
        "reason": None,
        "actor_id": None,
    }


def test_one_failing_event_does_not_hold_back_its_batch(probe, rabbit_config):
    failed = metrics.EVENTS_CONSUMED.labels("probe", "organization_verified", "failed")
    failed_before = failed._value.get()
    bodies = [verified_event(str(uuid.uuid4()), n) for n in range(30)]
    bodies[7] = verified_event(POISON_ID, 7)
    invalid = {"event_id": str(uuid.uuid4()), "organization_id": "not even a uuid"}
    publish_raw(rabbit_config["AMQP_URI"], "organization_verified", [*bodies, invalid])

    wait_until(lambda: len(applied_rows(probe)) == 29)
    wait_until(lambda: failed._value.get() - failed_before >= 2)
    applied_ids = {row["event_id"] for row in applied_rows(probe)}
    assert applied_ids == {b["event_id"] for b in bodies} - {bodies[7]["event_id"]}


def test_a_redelivered_event_changes_nothing(probe, rabbit_config):
    body = verified_event("6f1e0c2a-7a55-4e43-9b3e-2f6d6f0c9a01", 41)
    publish_raw(rabbit_config["AMQP_URI"], "organization_verified", [body] * 3)
    wait_until(lambda: len(applied_rows(probe)) >= 1)
    eventlet.sleep(1.0)  # the two copies behind it have had every chance to apply
    rows = applied_rows(probe)
    assert [(r["event_id"], r["event_type"]) for r in rows] == [
        (body["event_id"], "organization_verified")
    ]


def test_only_the_lease_holder_publishes_and_a_follower_takes_over(registry_db, rabbit_config):
    with connect(registry_db, service_name="registry") as db:
        first = OutboxRelay(db, amqp_uri=rabbit_config["AMQP_URI"], lease_ttl=1.0)
        second = OutboxRelay(db, amqp_uri=rabbit_config["AMQP_URI"], lease_ttl=1.0)
        assert first.hold_lease() is True
        assert second.hold_lease() is False
        assert first.hold_lease() is True  # the holder renews

        # the holder stops renewing (crashed): after the TTL the follower takes over
        eventlet.sleep(1.2)
        assert second.hold_lease() is True
        first._lease_until = None
        assert first.hold_lease() is False

        # a clean stop hands the lease over at once
        second._release_lease()
        assert first.hold_lease() is True


@pytest.fixture
def impatient_probe(container_factory, rabbit_config, tmp_path):
    """A probe whose queues give up on a message after 3 deliveries."""
    url = f"sqlite:///{tmp_path / 'probe.sqlite3'}"
    create_probe_tables(url)
    config = load_config(
        ROOT / "services/registry/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=url,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        EVENT_DELIVERY_LIMIT=3,
    )
    container_factory(ProbeService, config).start()
    return url


QUEUE = "evt-registry-organization_verified--probe.on_verified"


def test_a_poison_event_is_dead_lettered_and_the_next_hundred_go_on(
    impatient_probe, rabbit_config, monkeypatch
):
    monkeypatch.setattr("kit.consumer.RETRY_DELAY", 0.05)
    publish_raw(
        rabbit_config["AMQP_URI"], "organization_verified", [verified_event(POISON_ID, 9000)]
    )
    bodies = [verified_event(str(uuid.uuid4()), n) for n in range(100)]
    publish_raw(rabbit_config["AMQP_URI"], "organization_verified", bodies)
    wait_until(lambda: len(applied_rows(impatient_probe)) == 100)
    with kombu.Connection(rabbit_config["AMQP_URI"]) as connection:
        wait_until(lambda: deadletters.depth(connection, QUEUE) == 1)
        (parked,) = deadletters.peek(connection, QUEUE, 10)
        assert parked["reason"] == "delivery_limit" and POISON_ID in parked["body"]
        assert parked["event_type"] == "organization_verified"  # not the dead-letter key
        assert deadletters.depth(connection, QUEUE) == 1  # peeking leaves it parked


def test_ops_replay_a_dead_letter_once_its_cause_is_fixed(
    impatient_probe, rabbit_config, monkeypatch
):
    monkeypatch.setattr("kit.consumer.RETRY_DELAY", 0.05)
    organization = str(uuid.uuid4())
    with connect(impatient_probe) as db, db.begin() as connection:
        connection.execute(sa.insert(blocked).values(organization_id=organization))
    publish_raw(
        rabbit_config["AMQP_URI"], "organization_verified", [verified_event(organization, 7)]
    )
    with kombu.Connection(rabbit_config["AMQP_URI"]) as connection:
        wait_until(lambda: deadletters.depth(connection, QUEUE) == 1)
        assert applied_rows(impatient_probe) == []
        with connect(impatient_probe) as db, db.begin() as connection_db:
            connection_db.execute(sa.delete(blocked))
        assert deadletters.replay(connection, QUEUE) == 1
        wait_until(
            lambda: [r["organization_id"] for r in applied_rows(impatient_probe)] == [organization]
        )
        assert deadletters.depth(connection, QUEUE) == 0
