"""Retry with backoff before parking, on a real broker: an event whose dependency is sick is
tried again later through the delay queues and applied once the dependency is back, without
holding back the events behind it, while a poison event is parked after its few deliveries."""

import time
import uuid
from typing import Any

import kombu
import pytest
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from kit import deadletters, metrics, retry
from kit.config import load_config
from kit.consumer import on_event
from kit.dependencies import Database
from kit.health import Health
from tests.conftest import free_port
from tests.integration.conftest import ROOT
from tests.integration.test_outbox import applied_rows, publish_raw, verified_event
from tests.support.probe import POISON_ID, create_probe_tables
from tests.support.probe import _record as record
from tests.support.waiting import wait_until

#: organization id -> until when (monotonic) the probe's "database" does not answer for it
SICK: dict[str, float] = {}


class PgDown(Exception):
    pgcode = None


class SicklyProbe:
    """The test probe, except that events about a "sick" organization fail the way a database
    that went away fails (an OperationalError), until the test says it is back."""

    name = "sickly"
    db = Database(outbox=False)
    health_report = Health(outbox=False)

    @on_event("registry", "organization_verified")
    def on_verified(self, event: dict, uow: Any) -> None:
        until = SICK.get(str(event["organization_id"]))
        if until is not None and time.monotonic() < until:
            raise sa_exc.OperationalError("INSERT", {}, PgDown("could not connect to server"))
        record(uow, event, "organization_verified")


QUEUE = "evt-registry-organization_verified--sickly.on_verified"


@pytest.fixture
def sickly(container_factory, rabbit_config, tmp_path):
    def start(**config_overrides):
        url = f"sqlite:///{tmp_path / 'sickly.sqlite3'}"
        create_probe_tables(url)
        config = load_config(
            ROOT / "services/registry/config.yaml",
            AMQP_URI=rabbit_config["AMQP_URI"],
            DATABASE_URL=url,
            WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
            EVENT_DELIVERY_LIMIT=3,
            EVENT_RETRY_BASE_SECONDS=1,
            EVENT_RETRY_MAX_DELAY_SECONDS=2,
            **config_overrides,
        )
        container_factory(SicklyProbe, config).start()
        return url

    yield start
    SICK.clear()


@pytest.mark.xfail(
    strict=False,
    reason=(
        "quarantined, not fixed: in 2 of 3 CI runs of the whole suite on RabbitMQ 3.10.8 (never "
        "alone, 4 of 4 passed) two events deferred to the delay queues never came back within "
        "60 s and were not parked. The delay queues are quorum queues with a message TTL and "
        "at-least-once dead-lettering, the set-up of rabbitmq-server#10718 (expired messages "
        "stay in the queue): likely that broker bug, not confirmed. Deferred events can then "
        "wait in a delay queue until another message moves it; see the closing note of issue 17"
    ),
)
def test_a_transient_failure_is_retried_later_while_a_poison_event_is_parked_fast(
    sickly, rabbit_config
):
    url = sickly()
    retried = metrics.EVENT_RETRIES.labels(
        "sickly", "organization_verified", "database_unreachable"
    )
    retried_before = retried._value.get()
    sick = str(uuid.uuid4())
    SICK[sick] = time.monotonic() + 12  # its "database" is away for 12 s
    behind = [verified_event(str(uuid.uuid4()), n) for n in range(20)]
    publish_raw(
        rabbit_config["AMQP_URI"],
        "organization_verified",
        [verified_event(sick, 100), verified_event(POISON_ID, 101), *behind],
    )
    started = time.monotonic()
    with kombu.Connection(rabbit_config["AMQP_URI"]) as connection:
        # the poison event is parked after its deliveries, within seconds of the "outage"'s
        # end at worst: while it shares a batch with the sick event the whole batch looks like
        # a database outage and goes to the delay queues (kit.consumer), and a copy from there
        # starts its delivery count afresh (this per-event outage is the test's artefact; in a
        # real one every event of the batch fails alike)
        wait_until(lambda: deadletters.depth(connection, QUEUE) == 1, timeout=45)
        parked_after = time.monotonic() - started
        (parked,) = deadletters.peek(connection, QUEUE, 10)
        assert POISON_ID in parked["body"] and parked["reason"] == "delivery_limit"
        # the events behind both went on meanwhile
        behind_ids = {body["event_id"] for body in behind}

        def behind_applied() -> bool:
            return behind_ids <= {row["event_id"] for row in applied_rows(url)}

        try:
            wait_until(behind_applied, timeout=60)
        except AssertionError:
            # say what is missing and where it went (once under CI load some never came: were
            # they parked, i.e. requeued past the delivery limit, or still travelling?)
            missing = behind_ids - {row["event_id"] for row in applied_rows(url)}
            parked = deadletters.peek(connection, QUEUE, 50)
            raise AssertionError(
                f"{len(missing)} of the events behind never applied: {sorted(missing)}; "
                f"parked now: {[(p['reason'], p['deaths'], p['body'][:120]) for p in parked]}"
            ) from None
        # meanwhile the sick one is being retried through the delay queues, not parked
        assert retried._value.get() - retried_before >= 2
        # once its "database" is back it is applied, once, and nothing more is parked
        wait_until(
            lambda: sick in {row["organization_id"] for row in applied_rows(url)}, timeout=45
        )
        applied_after = time.monotonic() - started
        assert deadletters.depth(connection, QUEUE) == 1
        rows = [row for row in applied_rows(url) if row["organization_id"] == sick]
        assert len(rows) == 1
    # parked long before the 15-minute horizon; the sick one applied only once it was well,
    # within a backoff step of that
    assert parked_after < 45 and 12 <= applied_after < 12 + 2 + 30, (parked_after, applied_after)


def test_a_transient_failure_that_outlasts_the_horizon_is_parked(sickly, rabbit_config):
    url = sickly(EVENT_RETRY_HORIZON_SECONDS=4)
    sick = str(uuid.uuid4())
    SICK[sick] = time.monotonic() + 3600  # never back
    exhausted = metrics.EVENT_RETRIES_EXHAUSTED.labels(
        "sickly", "organization_verified", "database_unreachable"
    )
    before = exhausted._value.get()
    publish_raw(rabbit_config["AMQP_URI"], "organization_verified", [verified_event(sick, 200)])
    with kombu.Connection(rabbit_config["AMQP_URI"]) as connection:
        wait_until(lambda: deadletters.depth(connection, QUEUE) == 1, timeout=20)
        (parked,) = deadletters.peek(connection, QUEUE, 10)
        assert sick in parked["body"] and parked["reason"] == "rejected"
        assert exhausted._value.get() - before == 1
        # replayed once the cause is fixed, it starts afresh and is applied
        SICK.clear()
        assert deadletters.replay(connection, QUEUE) == 1
        wait_until(lambda: [r["organization_id"] for r in applied_rows(url)] == [sick])


def test_the_delay_queues_are_quorum_queues_that_dead_letter_back_at_least_once(
    sickly, rabbit_config
):
    sickly()
    with kombu.Connection(rabbit_config["AMQP_URI"]) as connection:
        channel = connection.channel()
        for tier in retry.RetryPolicy(base=1, cap=2).tiers():
            name = retry.delay_queue("sickly", tier)
            # a passive declare with other arguments would fail: these are the ones declared
            kombu.Queue(
                name,
                durable=True,
                queue_arguments=retry.delay_queue_arguments(tier, {}, "sickly"),
            )(channel).declare()
        channel.close()
    assert [retry.delay_queue("sickly", t) for t in (1, 2)] == [
        "sickly.retry.1s",
        "sickly.retry.2s",
    ]


def test_health_reports_the_database_down_as_soon_as_a_statement_failed(tmp_path):
    from kit.db import DatabaseResource
    from kit.health import service_health

    url = f"sqlite:///{tmp_path / 'health.sqlite3'}"
    create_probe_tables(url)
    resource = DatabaseResource(url, service_name="sickly")
    assert service_health(resource, outbox=False)["database"]["status"] == "ok"
    with pytest.raises(sa_exc.OperationalError), resource.begin() as connection:
        connection.execute(sa.text("SELECT * FROM a_table_that_is_not_there_yet"))
    # a missing table is a bug, not the database away: still ok
    assert service_health(resource, outbox=False)["database"]["status"] == "ok"
    resource.dispose()
    broken = DatabaseResource(
        "postgresql://nobody@127.0.0.1:1/none", service_name="sickly", connect_timeout=1
    )
    with pytest.raises(sa_exc.OperationalError), broken.begin() as connection:
        connection.execute(sa.text("SELECT 1"))
    started = time.monotonic()
    report = service_health(broken, outbox=False)
    assert report["status"] == "down" and report["database"]["error"] == "OperationalError"
    assert time.monotonic() - started < 0.5  # reported from the failure seen, not a new wait
    broken.dispose()
