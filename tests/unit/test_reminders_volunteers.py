"""volunteers' daily check over the fakes: a team with hours waiting for verification tells
its leader once per China day; verified hours, or a team without a leader, tell nobody."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kit.errors import Forbidden
from language.actor import SYSTEM
from tests.unit.fakes.volunteers import VolunteersWorld
from tests.unit.test_volunteers_usecases import (
    LEADER,
    NOW,
    STAFF,
    Place,
    enrolled,
    log,
    make_team,
)
from volunteers import commands as c
from volunteers.handlers import hours, reminders

#: 09:00 on 2027-03-12 in China
MORNING = datetime(2027, 3, 12, 1, 0, tzinfo=UTC)


@pytest.fixture
def world() -> VolunteersWorld:
    world = VolunteersWorld(NOW)
    add = world.directory.add
    add(Place.city, kind="federation")
    add(Place.district, kind="federation", parent_id=Place.city)
    add(Place.community, kind="host_unit", parent_id=Place.district)
    return world


def check(world, at: datetime = MORNING) -> dict[str, int]:
    return world.execute(SYSTEM, reminders.run_checks, c.RunChecks(at))


def notices(world) -> list[dict]:
    return [
        body
        for kind, body in zip(world.uow.event_types, world.uow.events, strict=True)
        if kind == "hours_awaiting_verification"
    ]


def test_a_team_with_hours_waiting_tells_its_leader_once_a_day(world):
    team, volunteer, activity = enrolled(world)
    log(world, volunteer["id"], activity.id, hour=1)
    log(world, volunteer["id"], activity.id, hour=4)
    assert check(world) == {"hours_awaiting_verification": 1}
    assert check(world, MORNING + timedelta(hours=10)) == {}  # 19:00 the same China day
    [notice] = notices(world)
    assert notice["team_id"] == team["id"]
    assert notice["leader_user_id"] == LEADER.user_id
    assert notice["entries"] == 2
    # the next China day (16:00 UTC is midnight in China), still waiting: told again, once
    assert check(world, datetime(2027, 3, 12, 16, 0, tzinfo=UTC)) == {
        "hours_awaiting_verification": 1
    }
    assert len(notices(world)) == 2


def test_verified_hours_tell_nobody(world):
    _, volunteer, activity = enrolled(world)
    entry = log(world, volunteer["id"], activity.id)
    world.execute(LEADER, hours.verify_hours, c.VerifyHours(entry.id))
    assert check(world) == {}


def test_a_team_without_a_leader_tells_nobody(world):
    team = make_team(world, "无队长的队", leader=None)
    assert world.repo.teams_awaiting_verification() == []
    assert team["leader_user_id"] is None


def test_only_the_system_and_admins_run_the_check(world):
    with pytest.raises(Forbidden):
        world.execute(STAFF, reminders.run_checks, c.RunChecks(MORNING))
