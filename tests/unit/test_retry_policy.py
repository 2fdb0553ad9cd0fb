"""The kit's retry policy in plain Python: which failures are tried again later, and when."""

import random
from types import SimpleNamespace

import kombu.exceptions
import pytest
import sqlalchemy.exc as sa_exc

from kit import consumer, queues, retry
from kit.errors import InvalidInput, RetryLater, Unavailable
from kit.rpc import RemoteFailure, as_service_error
from language import events


class PgError(Exception):
    """A psycopg2 error as SQLAlchemy wraps it: only ``pgcode`` matters here."""

    def __init__(self, pgcode, text="error"):
        super().__init__(text)
        self.pgcode = pgcode


def operational(pgcode=None, text="server closed the connection unexpectedly"):
    return sa_exc.OperationalError("SELECT 1", {}, PgError(pgcode, text))


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (operational(), "database_unreachable"),
        (sa_exc.InterfaceError("SELECT 1", {}, PgError(None)), "database_unreachable"),
        (sa_exc.DisconnectionError("gone"), "database_unreachable"),
        (sa_exc.TimeoutError("QueuePool limit reached"), "database_unreachable"),
        (operational("57P03", "the database system is starting up"), "database_unreachable"),
        (operational("40001", "could not serialize access"), "serialization"),
        (operational("40P01", "deadlock detected"), "deadlock"),
        (operational("55P03", "lock timeout"), "lock_timeout"),
        (sa_exc.OperationalError("UPDATE", {}, Exception("database is locked")), "lock_timeout"),
        (RetryLater("the contract is not known here yet"), "not_yet_known"),
        (Unavailable("projects did not answer"), "dependency_unavailable"),
        (RemoteFailure("unavailable", "SERVICE_TIMEOUT", "late", {}), "dependency_unavailable"),
        (kombu.exceptions.OperationalError("broker gone"), "broker_unreachable"),
        (ConnectionResetError("reset"), "broker_unreachable"),
    ],
)
def test_failures_that_mean_try_later_are_transient(exc, reason):
    assert retry.classify(exc) == reason


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("a bug"),
        KeyError("amount"),
        InvalidInput("amount must be positive", field="amount", rule="positive"),
        RemoteFailure("not_found", "NOT_FOUND", "no such contract", {}),
        sa_exc.IntegrityError("INSERT", {}, PgError("23505", "duplicate key")),
        sa_exc.DataError("INSERT", {}, PgError("22003", "numeric out of range")),
        sa_exc.ProgrammingError("SELECT", {}, PgError("42P01", "no such table")),
    ],
)
def test_failures_that_mean_this_event_cannot_be_applied_are_permanent(exc):
    assert retry.classify(exc) is None


def test_a_transient_cause_behind_a_wrapping_error_is_seen():
    try:
        try:
            raise operational()
        except sa_exc.OperationalError as inner:
            raise RuntimeError("while applying a milestone") from inner
    except RuntimeError as outer:
        assert retry.classify(outer) == "database_unreachable"


def test_the_delay_doubles_from_the_base_up_to_the_cap():
    policy = retry.RetryPolicy(base=1, cap=30, horizon=900)
    assert [policy.tier(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert policy.tiers() == [1, 2, 4, 8, 16, 30]


def test_each_delay_is_jittered_between_half_its_tier_and_its_tier():
    policy = retry.RetryPolicy(base=1, cap=30, horizon=900)
    rng = random.Random(3)
    for attempt in range(1, 12):
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        tier = policy.tier(attempt)
        assert all(tier / 2 <= d <= tier for d in delays)
        assert max(delays) - min(delays) > tier / 4  # spread out, not all at once


def test_the_schedule_keeps_trying_until_the_horizon_and_never_waits_longer_than_the_cap():
    policy = retry.RetryPolicy(base=1, cap=30, horizon=900)
    schedule = policy.schedule(random.Random(7))
    assert sum(schedule) >= 900
    assert sum(schedule[:-1]) < 900
    assert max(schedule) <= 30
    # an outage of 90 s is noticed again at most 30 s after it ends
    assert len(schedule) > 30


def test_a_first_failure_starts_the_clock_and_later_ones_keep_it():
    policy = retry.RetryPolicy(base=1, cap=30, horizon=900)
    first = retry.decide(policy, {}, now=1000.0, rng=random.Random(1))
    assert (first.park, first.attempt, first.since, first.tier) == (False, 1, 1000.0, 1)
    headers = {retry.ATTEMPT_HEADER: 5, retry.SINCE_HEADER: 1000.0}
    fifth = retry.decide(policy, headers, now=1100.0, rng=random.Random(1))
    assert (fifth.park, fifth.attempt, fifth.since, fifth.tier) == (False, 6, 1000.0, 30)


def test_past_the_horizon_a_transient_failure_is_parked():
    policy = retry.RetryPolicy(base=1, cap=30, horizon=900)
    headers = {retry.ATTEMPT_HEADER: 40, retry.SINCE_HEADER: 1000.0}
    assert retry.decide(policy, headers, now=1899.0).park is False
    assert retry.decide(policy, headers, now=1900.0).park is True


def test_the_policy_is_configurable_and_defaults_to_a_fifteen_minute_horizon():
    assert retry.RetryPolicy.from_config({}) == retry.RetryPolicy(1.0, 30.0, 900.0)
    configured = retry.RetryPolicy.from_config(
        {
            "EVENT_RETRY_BASE_SECONDS": "2",
            "EVENT_RETRY_MAX_DELAY_SECONDS": "60",
            "EVENT_RETRY_HORIZON_SECONDS": "3600",
        }
    )
    assert configured == retry.RetryPolicy(2.0, 60.0, 3600.0)
    assert configured.tiers() == [2, 4, 8, 16, 32, 60]


def test_event_queues_and_delay_queues_dead_letter_at_least_once():
    queue = "evt-projects-milestone_accepted--funding.milestone_accepted"
    arguments = queues.queue_arguments(queue, {})
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-dead-letter-strategy"] == "at-least-once"
    assert arguments["x-overflow"] == "reject-publish"  # the broker requires it for at-least-once
    assert arguments["x-delivery-limit"] == 20
    delay = retry.delay_queue_arguments(8, {}, "funding")
    assert delay["x-message-ttl"] == 8000
    # back by the routing key (the work queue's name) through funding's own return exchange,
    # not the default exchange (writing there reaches every queue of the vhost)
    assert delay["x-dead-letter-exchange"] == "funding.retry.back"
    assert delay["x-dead-letter-strategy"] == "at-least-once"
    # queues declared by an earlier version keep their arguments (the broker refuses others)
    old = queues.queue_arguments(queue, {"EVENT_DEAD_LETTER_STRATEGY": "at-most-once"})
    assert "x-dead-letter-strategy" not in old and "x-overflow" not in old


def test_a_database_outage_reaches_an_rpc_caller_as_unavailable_naming_the_database():
    error = as_service_error(operational())
    assert (error.kind, error.code, error.details) == (
        "unavailable",
        "DATABASE_UNAVAILABLE",
        {"dependency": "database"},
    )
    assert as_service_error(sa_exc.TimeoutError("pool exhausted")).code == "DATABASE_UNAVAILABLE"


class FakeResource:
    """A database resource whose unit of work raises what a test tells it to."""

    catalogue = events

    def __init__(self, fail):
        self.fail = fail
        self.units = 0

    def __call__(self):
        self.units += 1
        raise self.fail(self.units)


def bodies(n):
    return [
        {
            "event_id": f"00000000-0000-4000-8000-{i:012d}",
            "occurred_at": "2027-01-01T00:00:00+00:00",
            "organization_id": f"10000000-0000-4000-8000-{i:012d}",
            "kind": "service_provider",
            "version": 1,
            "status": "verified",
            "reason": None,
            "actor_id": None,
        }
        for i in range(n)
    ]


def test_a_batch_that_met_an_unreachable_database_is_deferred_whole_without_one_by_one():
    resource = FakeResource(lambda _: operational())
    outcomes = consumer.apply_batch(
        resource,  # type: ignore[arg-type]
        "probe.on_verified",
        "registry",
        "organization_verified",
        bodies(5),
        lambda event, uow: None,
        service="probe",
    )
    assert [(o.done, o.reason) for o in outcomes] == [(False, "database_unreachable")] * 5
    assert all(o.transient for o in outcomes)
    assert resource.units == 1  # not five more attempts against a database that is away


def test_in_a_failed_batch_each_event_is_judged_on_its_own_failure():
    def fail(unit):
        if unit == 1:
            return RuntimeError("the batch")  # the whole batch, then each alone:
        return [RetryLater("not yet"), ValueError("a bug")][unit % 2]

    outcomes = consumer.apply_batch(
        FakeResource(fail),  # type: ignore[arg-type]
        "probe.on_verified",
        "registry",
        "organization_verified",
        bodies(2),
        lambda event, uow: None,
        service="probe",
    )
    assert [(o.done, o.transient, o.reason) for o in outcomes] == [
        (False, True, "not_yet_known"),
        (False, False, None),
    ]


def test_the_oldest_failing_event_is_forgotten_once_applied_or_taken_over():
    handler = SimpleNamespace(policy=retry.RetryPolicy(cap=30), _failing={})
    age = consumer.BatchEventHandler.oldest_failing_age
    assert age(handler) == 0.0
    import time

    handler._failing["a"] = (time.time() - 120, time.monotonic())
    handler._failing["b"] = (time.time() - 10, time.monotonic() - 1000)  # another replica's now
    assert 119 <= age(handler) <= 121
    assert "b" not in handler._failing


def test_a_sqlite_error_about_the_schema_is_permanent_and_a_locked_database_is_not():
    import sqlite3

    missing = sa_exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    locked = sa_exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    assert retry.classify(missing) is None
    assert retry.classify(locked) == "lock_timeout"


def test_a_new_reason_restarts_the_backoff_but_not_the_horizon():
    policy = retry.RetryPolicy(base=1, cap=30, horizon=900)
    headers = {
        retry.ATTEMPT_HEADER: 8,
        retry.SINCE_HEADER: 1000.0,
        retry.REASON_HEADER: "database_unreachable",
    }
    same = retry.decide(policy, headers, now=1100.0, reason="database_unreachable")
    assert (same.attempt, same.tier) == (9, 30)
    # the database is back; the contract this milestone refers to is not applied yet
    other = retry.decide(policy, headers, now=1100.0, reason="not_yet_known")
    assert (other.attempt, other.tier, other.since) == (1, 1, 1000.0)
    late = retry.decide(policy, headers, now=1900.0, reason="not_yet_known")
    assert late.park
