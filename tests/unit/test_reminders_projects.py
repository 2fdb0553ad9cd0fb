"""projects' daily checks over the fakes, with a clock the test sets: each notice once, to
the right people; a run after days of downtime catches up; the grace period's edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from kit.errors import Forbidden
from language.actor import SYSTEM
from projects import commands as c
from projects import handlers
from projects.context import Context
from projects.domain.reminders import is_overdue, milestone_notices
from tests.unit.fakes import FakeSentNotices, FakeUnitOfWork
from tests.unit.test_projects_usecases import World

#: the first milestone of ``World.awarded`` is due on 2027-03-31 (China date)
DUE = date(2027, 3, 31)


def china_noon(day: date) -> datetime:
    """Noon in China on ``day``, as aware UTC."""
    return datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)


@dataclass
class CheckedWorld(World):
    notices: FakeSentNotices = field(default_factory=FakeSentNotices)

    def context(self, uow: FakeUnitOfWork, actor: Any) -> Context:
        ctx = super().context(uow, actor)
        ctx.notices = self.notices
        return ctx

    def check(self, day: date, grace_days: int = 30) -> dict[str, int]:
        return self.execute(SYSTEM, handlers.run_checks, c.RunChecks(china_noon(day), grace_days))

    def sent(self, event_type: str) -> list[dict[str, Any]]:
        return [body for kind, body in self.events if kind == event_type]


@pytest.fixture
def world() -> CheckedWorld:
    return CheckedWorld()


def test_nothing_is_owed_before_seven_days_ahead(world):
    world.awarded()
    assert world.check(DUE - timedelta(days=8)) == {}
    assert world.sent("milestone_due") == []


def test_due_in_seven_days_goes_to_the_contractor_once(world):
    _, contract = world.awarded()
    assert world.check(DUE - timedelta(days=7)) == {"due_in_7_days": 1}
    assert world.check(DUE - timedelta(days=6)) == {}
    [notice] = world.sent("milestone_due")
    assert notice["notice"] == "due_in_7_days"
    assert notice["milestone_id"] == contract.milestones[0].id
    assert notice["contractor_id"] == world.provider
    assert notice["purchaser_id"] == world.city
    assert notice["due_on"] == "2027-03-31"
    assert notice["title"] == "开班"


def test_due_today_is_sent_on_the_day_once(world):
    world.awarded()
    world.check(DUE - timedelta(days=7))
    assert world.check(DUE) == {"due_today": 1}
    assert world.check(DUE) == {}
    assert [n["notice"] for n in world.sent("milestone_due")] == ["due_in_7_days", "due_today"]


def test_a_reported_milestone_is_not_reminded_of_its_due_date(world):
    _, contract = world.awarded()
    world.reported(contract)
    world.check(DUE)
    assert world.sent("milestone_due") == []


def test_a_check_after_days_of_downtime_sends_every_notice_owed_once(world):
    world.awarded()
    # nothing ran from seven days before the due date until well past the grace period
    sent = world.check(DUE + timedelta(days=31))
    assert sent == {"due_in_7_days": 1, "due_today": 1, "overdue": 1}
    assert world.check(DUE + timedelta(days=32)) == {}
    [overdue] = world.sent("milestone_overdue")
    assert overdue["days_overdue"] == 31


def test_overdue_only_beyond_the_grace_period(world):
    world.awarded()
    assert "overdue" not in world.check(DUE + timedelta(days=30))
    assert world.check(DUE + timedelta(days=31)) == {"overdue": 1}


def test_the_grace_period_is_configurable(world):
    world.awarded()
    world.check(DUE)
    assert world.check(DUE + timedelta(days=3), grace_days=2) == {"overdue": 1}


def test_a_reported_but_undecided_milestone_is_still_overdue(world):
    _, contract = world.awarded()
    world.reported(contract)
    assert world.check(DUE + timedelta(days=31)).get("overdue") == 1


def test_an_accepted_milestone_is_never_overdue(world):
    _, contract = world.awarded()
    world.reported(contract)
    world.accepted(contract)
    assert world.check(DUE + timedelta(days=60)) == {}


def test_a_report_waiting_more_than_three_days_reminds_the_purchaser_once(world):
    _, contract = world.awarded()
    report = world.reported(contract)  # at 2027-01-10 02:00 UTC
    three_days = datetime(2027, 1, 13, 2, 0, tzinfo=UTC)
    run = world.execute
    assert run(SYSTEM, handlers.run_checks, c.RunChecks(three_days)) == {}
    later = c.RunChecks(three_days + timedelta(minutes=1))
    assert run(SYSTEM, handlers.run_checks, later) == {"awaiting_decision": 1}
    assert world.check(date(2027, 1, 20)) == {}
    [notice] = world.sent("report_awaiting_decision")
    assert notice["report_id"] == report.id
    assert notice["purchaser_id"] == world.city


def test_a_decided_report_is_not_reminded(world):
    _, contract = world.awarded()
    world.reported(contract)
    world.accepted(contract)
    assert world.check(date(2027, 1, 20)) == {}


def test_only_the_system_and_admins_run_the_checks(world):
    world.awarded()
    with pytest.raises(Forbidden):
        world.execute(world.staff, handlers.run_checks, c.RunChecks(china_noon(DUE)))
    assert world.execute(world.admin, handlers.run_checks, c.RunChecks(china_noon(DUE)))


def test_a_rejected_report_names_the_contractor_who_redoes_it(world):
    _, contract = world.awarded()
    world.reported(contract)
    milestone = contract.milestones[0]
    command = c.RejectMilestone(contract.id, milestone.id, "材料不全")
    world.execute(world.staff, handlers.reject_milestone, command)
    [rejected] = world.sent("milestone_rejected")
    assert rejected["contractor_id"] == world.provider


@pytest.mark.parametrize(
    ("days_late", "overdue"), [(-1, False), (0, False), (30, False), (31, True)]
)
def test_the_grace_period_edges(days_late, overdue):
    today = DUE + timedelta(days=days_late)
    assert is_overdue(DUE, "pending", today, 30) is overdue
    notices = [o.notice for o in milestone_notices(DUE, "pending", today, 30)]
    assert ("overdue" in notices) is overdue
