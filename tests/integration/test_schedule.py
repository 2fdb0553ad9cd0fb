"""The time-driven checks in real containers, on SQLite and PostgreSQL with a real broker:
each notice is published once across a restart of the service and across replicas, the
schedule runs in one replica at a time (the lease), and runs by itself on the real clock."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from kit.clock import local_date
from kit.db import connect
from kit.rpc import RemoteFailure
from kit.schedule import ScheduledChecks
from kit.tables import outbox_lease
from projects.models import reminders_sent
from projects.service import ProjectsService
from tests.integration.test_projects_service import (
    ADMIN,
    MILESTONES,
    World,
    awarded_project,
    count,
    project_payload,
)
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import wait_until

#: noon in China on 2027-03-31, the first milestone's due date
DUE = datetime(2027, 3, 31, 4, 0, tzinfo=UTC)


def scheduled_config(config, interval=3600.0, ttl=2.0):
    """The service's config with the schedule's timing set for a test (an hour: the checks run
    once at start and then only when a test asks)."""
    return {**config, "SCHEDULE_INTERVAL_SECONDS": interval, "SCHEDULE_LEASE_TTL": ttl}


def schedule_of(container) -> ScheduledChecks:
    return next(e for e in container.entrypoints if isinstance(e, ScheduledChecks))


def lease_holder(db_url):
    with connect(db_url) as db, db.begin(write=False) as connection:
        return connection.execute(
            sa.select(outbox_lease.c.holder).where(outbox_lease.c.name == "projects.schedule")
        ).scalar()


@pytest.fixture
def started(container_factory, projects_config, projects_db, rabbit_config):
    """A projects container (its schedule idle for an hour) and the world it knows."""
    config = scheduled_config(projects_config)
    container = container_factory(ProjectsService, config)
    container.start()
    return container, config, World(rabbit_config["AMQP_URI"], projects_db)


def test_each_notice_once_across_a_restart_and_a_catch_up(
    started, container_factory, projects_db, tap_factory
):
    container, config, world = started
    tap = tap_factory("projects", "milestone_due", "milestone_overdue")
    with ServiceRpcProxy("projects", config) as svc:
        _, contract = awarded_project(svc, world)
        first = contract["milestones"][0]["id"]
        as_of = (DUE - timedelta(days=7)).isoformat()
        assert svc.run_checks({"as_of": as_of}, ADMIN) == {"due_in_7_days": 1}
        assert svc.run_checks({"as_of": as_of}, ADMIN) == {}
        with pytest.raises(RemoteFailure) as refused:
            svc.run_checks({"as_of": as_of}, world.staff)
        assert refused.value.code == "ROLE_NOT_ALLOWED"
    container.stop()  # a restart: a new process, the same database
    again = container_factory(ProjectsService, config)
    again.start()
    with ServiceRpcProxy("projects", config) as svc:
        assert svc.run_checks({"as_of": (DUE - timedelta(days=6)).isoformat()}, ADMIN) == {}
        # down from six days before the due date until past the grace period: a catch-up
        late = (DUE + timedelta(days=31)).isoformat()
        assert svc.run_checks({"as_of": late}, ADMIN) == {"due_today": 1, "overdue": 1}
        assert svc.run_checks({"as_of": late}, ADMIN) == {}
    tap.collect(3)
    events = tap.collect(4, timeout=1.5)  # a fourth would be a duplicate
    assert [(key, body.get("notice")) for key, body in events] == [
        ("milestone_due", "due_in_7_days"),
        ("milestone_due", "due_today"),
        ("milestone_overdue", None),
    ]
    assert all(body["milestone_id"] == first for _, body in events)
    assert events[2][1]["days_overdue"] == 31
    assert count(projects_db, reminders_sent) == 3


def test_two_replicas_never_both_run_and_the_other_takes_over(
    container_factory, projects_config, projects_db, rabbit_config
):
    config = scheduled_config(projects_config, interval=0.2, ttl=1.5)
    first = container_factory(ProjectsService, config)
    first.start()
    wait_until(lambda: schedule_of(first).runs >= 2, what="the first replica runs the checks")
    second = container_factory(ProjectsService, config)
    second.start()
    before = schedule_of(first).runs
    wait_until(lambda: schedule_of(first).runs >= before + 5, timeout=20)
    assert schedule_of(second).runs == 0  # it never held the lease while the first did
    assert lease_holder(projects_db) == schedule_of(first).lease.holder
    first.stop()  # releases the lease: the second takes over
    wait_until(lambda: schedule_of(second).runs >= 1, timeout=20, what="the takeover")
    assert lease_holder(projects_db) == schedule_of(second).lease.holder


def test_the_schedule_runs_the_checks_by_itself_on_the_real_clock(
    container_factory, projects_config, projects_db, rabbit_config, tap_factory
):
    """A milestone due in three days (China date) gets its notice without anybody asking."""
    tap = tap_factory("projects", "milestone_due")
    today = local_date(datetime.now(UTC))
    config = scheduled_config(projects_config, interval=0.3)
    container = container_factory(ProjectsService, config)
    container.start()
    world = World(rabbit_config["AMQP_URI"], projects_db)
    starts, due = today - timedelta(days=30), today + timedelta(days=3)
    milestones = [
        {**MILESTONES[0], "due_on": due.isoformat(), "amount": 30_000_000},
    ]
    with ServiceRpcProxy("projects", config) as svc:
        project = svc.draft_project(
            project_payload(
                starts_on=starts.isoformat(), ends_on=(today + timedelta(days=300)).isoformat()
            ),
            world.staff,
        )
        svc.publish_project(project["id"], world.staff)
        application = svc.submit_application(
            project["id"],
            {"provider_id": world.provider, "amount": 30_000_000, "proposal": "方案"},
            world.contractor,
        )
        svc.award_contract(
            project["id"],
            {"application_id": application["id"], "milestones": milestones},
            world.staff,
        )
    [(key, body)] = tap.collect(1, timeout=15)
    assert (key, body["notice"], body["due_on"]) == ("milestone_due", "due_in_7_days", str(due))
    assert isinstance(date.fromisoformat(body["due_on"]), date)
