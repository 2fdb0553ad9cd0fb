"""Every volunteers use case, run against the in-memory fakes (``tests/unit/fakes/volunteers``):
what it leaves in the repository, the events it commits, the errors it raises (code, field,
rule) and whom it refuses. No broker, no database: the whole module runs in about a second.

The world: a city federation with a district and a community (a host unit) under it, another
city with a community of its own, a service provider; its people act as the gateway would
name them.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from kit.errors import InvalidInput
from kit.paging import page_request
from language.actor import SYSTEM, Actor
from tests.unit.fakes.volunteers import VolunteersWorld
from volunteers import commands as c
from volunteers.crypto import PersonalData
from volunteers.domain.identity import id_check_character
from volunteers.exceptions import (
    ActivityEnded,
    ActivityFull,
    ActivityNotFound,
    AlreadyEnrolled,
    AlreadyMember,
    DuplicateTeam,
    DuplicateVolunteer,
    EnrolmentNotFound,
    HoursNotFound,
    HoursOverlap,
    InvalidTransition,
    NotEnrolled,
    OutOfScope,
    RuleBroken,
    SelfVerification,
    TeamNotFound,
    UnmaskingNotAllowed,
    VolunteerNotFound,
)
from volunteers.handlers import activities, hours, imports, teams, volunteers
from volunteers.repository import (
    ACTIVITY_ORDER,
    ENROLMENT_ORDER,
    HOURS_ORDER,
    READS_ORDER,
    TEAM_ORDER,
    VOLUNTEER_ORDER,
)

#: now, in the tests: 2027-03-10 18:00 China time
NOW = datetime(2027, 3, 10, 10, 0, tzinfo=UTC)
#: an activity that began yesterday morning and ends tomorrow
STARTS = datetime(2027, 3, 9, 1, 0, tzinfo=UTC)
ENDS = datetime(2027, 3, 11, 5, 0, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def person(role: str, organization_id: str | None = None, name: str | None = None) -> Actor:
    return Actor(new_id(), name or role, role, organization_id)


class Place:
    """The organizations of the world, by name."""

    city = new_id()
    district = new_id()
    community = new_id()
    other_city = new_id()
    other_community = new_id()
    provider = new_id()


ADMIN = person("admin", name="管理员")
STAFF = person("federation_staff", Place.district, "区妇联干事")
CITY_STAFF = person("federation_staff", Place.city, "市妇联干事")
OTHER_STAFF = person("federation_staff", Place.other_city, "外市干事")
LEADER = person("team_leader", name="队长甲")
OTHER_LEADER = person("team_leader", name="队长乙")
CONTRACTOR = person("contractor", Place.provider)
FINANCE = person("finance_officer", Place.district)
OPS = person("ops")


@pytest.fixture
def world() -> VolunteersWorld:
    world = VolunteersWorld(NOW)
    add = world.directory.add
    add(Place.city, kind="federation")
    add(Place.district, kind="federation", parent_id=Place.city)
    add(Place.community, kind="host_unit", parent_id=Place.district)
    add(Place.other_city, kind="federation")
    add(Place.other_community, kind="host_unit", parent_id=Place.other_city)
    add(Place.provider, kind="service_provider", parent_id=Place.city)
    return world


def page(order: Any, limit: int = 50, cursor: str | None = None, sort: str | None = None) -> Any:
    return page_request(limit, cursor, ordering=order, sort=sort)


_phones = iter(range(10_000_000, 99_999_999))


def phone() -> str:
    return f"138{next(_phones)}"


def id_number(serial: int) -> str:
    first = f"11010519900307{serial:03d}"
    return first + id_check_character(first)


def make_team(
    world: VolunteersWorld,
    name: str = "巾帼志愿服务队",
    *,
    by: Actor = STAFF,
    host: str = Place.community,
    leader: Actor | None = LEADER,
) -> dict[str, Any]:
    command = c.CreateTeam(
        name=name,
        theme="family_education",
        host_id=host,
        leader_user_id=leader.user_id if leader else None,
    )
    return world.execute(by, teams.create_team, command)


def register(
    world: VolunteersWorld,
    *,
    by: Actor = STAFF,
    team_id: str | None = None,
    name: str = "王小红",
    skills: list[str] | None = None,
    **more: Any,
) -> dict[str, Any]:
    command = c.RegisterVolunteer(
        name=name,
        phone=more.pop("phone", None) or phone(),
        consented_on=date(2027, 1, 5),
        team_id=team_id,
        skills=skills or [],
        **more,
    )
    return world.execute(by, volunteers.register_volunteer, command)


def make_activity(
    world: VolunteersWorld,
    team_id: str,
    *,
    by: Actor = LEADER,
    capacity: int = 10,
    starts: datetime = STARTS,
    ends: datetime = ENDS,
    project_id: str | None = None,
) -> Any:
    command = c.CreateActivity(
        title="社区环保宣传",
        team_id=team_id,
        starts_at=starts,
        ends_at=ends,
        capacity=capacity,
        project_id=project_id,
    )
    return world.execute(by, activities.create_activity, command)


def enrolled(world: VolunteersWorld, by: Actor = LEADER) -> tuple[dict, dict, Any]:
    """A team led by LEADER, a member, an activity of the team she is enrolled in."""
    team = make_team(world)
    volunteer = register(world, team_id=team["id"])
    activity = make_activity(world, team["id"])
    world.execute(by, activities.enrol, c.Enrol(activity.id, volunteer["id"]))
    return team, volunteer, activity


def log(
    world: VolunteersWorld,
    volunteer_id: str,
    activity_id: str,
    *,
    by: Actor = STAFF,
    hour: int = 1,
    length: int = 2,
) -> Any:
    started = STARTS + timedelta(hours=hour - 1)
    command = c.LogHours(
        volunteer_id=volunteer_id,
        activity_id=activity_id,
        started_at=started,
        ended_at=started + timedelta(hours=length),
    )
    return world.execute(by, hours.log_hours, command)


# --- teams -------------------------------------------------------------------------------------


def test_staff_set_up_a_team_under_a_host_of_their_subtree(world):
    team = make_team(world)
    assert team["members"] == 0 and team["version"] == 1
    assert team["created_by"] == STAFF.user_id and team["created_at"] == NOW
    assert world.repo.teams[team["id"]].leader_user_id == LEADER.user_id
    assert world.uow.events == []  # a team is no event

    with pytest.raises(DuplicateTeam) as caught:
        make_team(world)
    assert caught.value.details["rule"] == "unique_per_host"
    with pytest.raises(OutOfScope) as caught:
        make_team(world, host=Place.other_community)
    assert caught.value.details["field"] == "host_id"
    with pytest.raises(RuleBroken) as caught:
        make_team(world, "服务商的队", host=Place.provider)
    assert (caught.value.field, caught.value.rule) == ("host_id", "host_kind")
    with pytest.raises(OutOfScope):
        make_team(world, "队长自己的队", by=LEADER)
    assert len(world.repo.teams) == 1


def test_a_team_is_edited_by_the_federations_above_its_host(world):
    team = make_team(world)
    make_team(world, "第二队")
    world.clock.advance(hours=1)
    edited = world.execute(
        CITY_STAFF,
        teams.edit_team,
        c.EditTeam(team["id"], {"name": "新名字", "leader_user_id": None}),
    )
    assert (edited.name, edited.leader_user_id, edited.version) == ("新名字", None, 2)
    assert edited.updated_at == NOW + timedelta(hours=1)

    with pytest.raises(DuplicateTeam):
        world.execute(STAFF, teams.edit_team, c.EditTeam(team["id"], {"name": "第二队"}))
    with pytest.raises(TeamNotFound):  # not hers to run: not there for her
        world.execute(OTHER_STAFF, teams.edit_team, c.EditTeam(team["id"], {"name": "x"}))
    led = make_team(world, "她带的队")
    with pytest.raises(OutOfScope):  # a leader runs her team but does not rename it
        world.execute(LEADER, teams.edit_team, c.EditTeam(led["id"], {"name": "x"}))
    assert world.repo.teams[team["id"]].name == "新名字"


def test_a_team_is_read_by_whom_runs_it(world):
    team = make_team(world)
    register(world, team_id=team["id"])
    got = world.query(LEADER, teams.get_team, c.GetTeam(team["id"]))
    assert (got["id"], got["members"]) == (team["id"], 1)
    assert world.query(ADMIN, teams.get_team, c.GetTeam(team["id"]))["members"] == 1
    with pytest.raises(TeamNotFound):
        world.query(OTHER_LEADER, teams.get_team, c.GetTeam(team["id"]))
    with pytest.raises(TeamNotFound):
        world.query(OTHER_STAFF, teams.get_team, c.GetTeam(team["id"]))
    with pytest.raises(OutOfScope):
        world.query(CONTRACTOR, teams.get_team, c.GetTeam(team["id"]))


def test_teams_are_listed_for_whom_runs_them_a_page_at_a_time(world):
    first = make_team(world, "一队")
    second = make_team(world, "二队", leader=OTHER_LEADER)
    make_team(world, "外市队", by=OTHER_STAFF, host=Place.other_community, leader=None)

    def names(actor, **filters):
        command = c.ListTeams(page=page(TEAM_ORDER, sort="name"), **filters)
        return [t["name"] for t in world.query(actor, teams.list_teams, command)["items"]]

    assert names(STAFF) == ["一队", "二队"]
    assert names(ADMIN) == ["一队", "二队", "外市队"]
    assert names(LEADER) == ["一队"]
    assert names(LEADER, leader_user_id=OTHER_LEADER.user_id) == []
    assert names(STAFF, q="二") == ["二队"]
    assert names(OTHER_STAFF) == ["外市队"]

    command = c.ListTeams(page=page(TEAM_ORDER, limit=1, sort="name"))
    one = world.query(STAFF, teams.list_teams, command)
    assert [t["id"] for t in one["items"]] == [first["id"]] and one["total"] == 2
    rest = world.query(
        STAFF,
        teams.list_teams,
        c.ListTeams(page=page(TEAM_ORDER, limit=1, cursor=one["next_cursor"], sort="name")),
    )
    assert [t["id"] for t in rest["items"]] == [second["id"]] and rest["next_cursor"] is None


def test_a_volunteer_joins_a_team_once(world):
    team = make_team(world)
    volunteer = register(world)
    membership = world.execute(LEADER, teams.add_member, c.AddMember(team["id"], volunteer["id"]))
    assert (membership.team_id, membership.added_by, membership.joined_at) == (
        team["id"],
        LEADER.user_id,
        NOW,
    )
    assert (team["id"], volunteer["id"]) in world.repo.memberships
    with pytest.raises(AlreadyMember):
        world.execute(STAFF, teams.add_member, c.AddMember(team["id"], volunteer["id"]))
    with pytest.raises(RuleBroken) as caught:
        world.execute(STAFF, teams.add_member, c.AddMember(team["id"], new_id()))
    assert (caught.value.code, caught.value.field) == ("VOLUNTEER_UNKNOWN", "volunteer_id")
    hidden = register(world, by=OTHER_STAFF)  # another city's: not hers to name
    with pytest.raises(RuleBroken):
        world.execute(STAFF, teams.add_member, c.AddMember(team["id"], hidden["id"]))


def test_a_teams_members_are_listed_masked(world):
    team = make_team(world)
    number = phone()
    register(world, team_id=team["id"], phone=number)
    register(world)  # not a member
    listed = world.query(
        LEADER, teams.list_members, c.ListMembers(team["id"], page(VOLUNTEER_ORDER))
    )
    assert listed["total"] == 1
    (member,) = listed["items"]
    assert member["phone"] == number[:3] + "****" + number[-4:]
    assert member["team_ids"] == [team["id"]] and member["unmasked"] == []
    with pytest.raises(TeamNotFound):
        world.query(
            OTHER_LEADER, teams.list_members, c.ListMembers(team["id"], page(VOLUNTEER_ORDER))
        )


# --- volunteers and their personal data ------------------------------------------------------


def test_a_registration_seals_the_personal_data_and_announces_only_the_id(world):
    team = make_team(world)
    number, card = phone(), id_number(1)
    view = register(world, team_id=team["id"], phone=number, id_number=card, skills=["法律"])
    assert view["phone"] == number[:3] + "****" + number[-4:]
    assert view["id_number"] == card[:4] + "**********" + card[-4:]
    assert view["team_ids"] == [team["id"]] and view["created_at"] == NOW
    stored = world.repo.volunteers[view["id"]]
    assert number not in stored.phone_cipher and card not in stored.id_number_cipher
    assert world.keys.open(stored.phone_cipher, "phone", stored.id) == number
    assert stored.organization_id == Place.district  # the registering staff's federation
    assert (team["id"], view["id"]) in world.repo.memberships and world.repo.flushes == 1
    assert world.uow.event_types == ["volunteer_registered"]
    assert world.uow.events[0]["volunteer_ids"] == [view["id"]]
    assert number not in str(world.uow.events)


def test_a_registration_is_refused_when_it_breaks_a_rule_or_repeats_a_phone(world):
    number = phone()
    first = register(world, phone=number)
    with pytest.raises(DuplicateVolunteer) as caught:
        register(world, phone=number)
    assert caught.value.details["volunteer_id"] == first["id"]  # she may see her
    with pytest.raises(DuplicateVolunteer) as caught:
        register(world, by=OTHER_STAFF, phone=number)
    assert "volunteer_id" not in caught.value.details  # no probing by phone number
    with pytest.raises(RuleBroken) as caught:
        register(world, phone="12345")
    assert (caught.value.field, caught.value.rule) == ("phone", "phone_format")
    with pytest.raises(OutOfScope):
        register(world, by=CONTRACTOR)
    with pytest.raises(RuleBroken) as caught:
        register(world, team_id=new_id())
    assert caught.value.code == "TEAM_UNKNOWN"
    assert len(world.repo.volunteers) == 1 and world.uow.event_types == ["volunteer_registered"]


def test_a_volunteer_is_read_masked_and_only_an_admin_reads_her_in_clear(world):
    number, card = phone(), id_number(2)
    view = register(world, phone=number, id_number=card)
    read = world.query(STAFF, volunteers.get_volunteer, c.GetVolunteer(view["id"]))
    assert read["phone"] != number and read["unmasked"] == []
    assert world.repo.read_rows == []
    with pytest.raises(UnmaskingNotAllowed):
        world.execute(STAFF, volunteers.get_volunteer, c.GetVolunteer(view["id"], unmasked=True))
    with pytest.raises(VolunteerNotFound):
        world.query(OTHER_STAFF, volunteers.get_volunteer, c.GetVolunteer(view["id"]))

    command = c.GetVolunteer(view["id"], unmasked=True, fields=("phone",), reason="回访")
    clear = world.execute(ADMIN, volunteers.get_volunteer, command)
    assert clear["phone"] == number and clear["id_number"] != card
    assert clear["unmasked"] == ["phone"]
    (audit,) = world.repo.read_rows
    assert (audit["fields"], audit["actor_id"], audit["reason"], audit["read_at"]) == (
        "phone",
        ADMIN.user_id,
        "回访",
        NOW,
    )


def test_a_volunteer_with_an_account_reads_herself(world):
    herself = person("contractor", Place.provider, "志愿者本人")
    view = register(world, user_id=herself.user_id)
    assert (
        world.query(herself, volunteers.get_volunteer, c.GetVolunteer(view["id"]))["id"]
        == (view["id"])
    )
    with pytest.raises(OutOfScope):  # anybody else of her role sees no roster
        world.query(CONTRACTOR, volunteers.get_volunteer, c.GetVolunteer(view["id"]))


def test_volunteers_are_listed_as_the_actor_may_see_them(world):
    team = make_team(world)
    member = register(world, team_id=team["id"], name="张三", skills=["法律", "心理"])
    pool = register(world, name="李四")  # the district's, in no team: the leader's pool
    other = register(world, by=OTHER_STAFF, name="王五")

    def ids(actor, **filters):
        command = c.ListVolunteers(page=page(VOLUNTEER_ORDER, sort="name"), **filters)
        return {v["id"] for v in world.query(actor, volunteers.list_volunteers, command)["items"]}

    assert ids(ADMIN) == {member["id"], pool["id"], other["id"]}
    assert ids(STAFF) == {member["id"], pool["id"]}
    assert ids(LEADER) == {member["id"], pool["id"]}
    assert ids(OTHER_LEADER) == set()
    assert ids(STAFF, skill="心理") == {member["id"]}
    assert ids(STAFF, q="李") == {pool["id"]}
    assert ids(STAFF, team_id=team["id"]) == {member["id"]}
    with pytest.raises(OutOfScope):
        ids(FINANCE)


def test_the_audit_of_clear_reads_is_for_admins(world):
    first, second = register(world), register(world)
    for view in (first, second, first):
        world.execute(ADMIN, volunteers.get_volunteer, c.GetVolunteer(view["id"], unmasked=True))
    command = c.ListPersonalDataReads(page=page(READS_ORDER), volunteer_id=first["id"])
    listed = world.query(ADMIN, volunteers.personal_data_reads, command)
    assert listed["total"] == 2
    assert all(item["fields"] == ["phone"] for item in listed["items"])
    with pytest.raises(OutOfScope):
        world.query(STAFF, volunteers.personal_data_reads, command)


def test_data_sealed_with_a_retired_key_is_sealed_again_a_batch_at_a_time(world):
    numbers = [phone() for _ in range(3)]
    ids = [register(world, phone=n, id_number=id_number(i))["id"] for i, n in enumerate(numbers)]
    world.keys = PersonalData(os.urandom(32), world.hash_key, (world.data_key,))

    done = world.execute(ADMIN, volunteers.reencrypt_personal_data, c.ReencryptPersonalData(2))
    assert done == {"reencrypted": 2, "key_id": world.keys.current_key_id}
    assert (
        world.execute(ADMIN, volunteers.reencrypt_personal_data, c.ReencryptPersonalData(5))[
            "reencrypted"
        ]
        == 1
    )
    assert (
        world.execute(ADMIN, volunteers.reencrypt_personal_data, c.ReencryptPersonalData(5))[
            "reencrypted"
        ]
        == 0
    )
    for volunteer_id, number in zip(ids, numbers, strict=True):
        stored = world.repo.volunteers[volunteer_id]
        assert world.keys.is_current(stored.phone_cipher)
        assert world.keys.is_current(stored.id_number_cipher)
        assert world.keys.open(stored.phone_cipher, "phone", volunteer_id) == number
    with pytest.raises(OutOfScope):
        world.execute(STAFF, volunteers.reencrypt_personal_data, c.ReencryptPersonalData(5))


@pytest.mark.parametrize("limit", [0, 10_001, -1, "5", 2.5, True, None])
def test_the_service_itself_refuses_a_reencryption_limit_outside_1_to_10000(world, limit):
    with pytest.raises(InvalidInput) as caught:
        world.execute(ADMIN, volunteers.reencrypt_personal_data, c.ReencryptPersonalData(limit))
    error = caught.value
    assert error.code == "VALIDATION_FAILED"
    assert error.message == "limit is a whole number from 1 to 10000"
    assert (error.details["field"], error.details["rule"]) == ("limit", "range")
    assert error.details["fields"] == {"limit": ["Must be between 1 and 10000."]}


# --- imports -----------------------------------------------------------------------------------


IMPORT = "9a1c1d6e-0000-4000-8000-00000000000a"


def row(line: int, name: str = "赵六", number: str | None = None, team: str | None = None, **more):
    cells = [
        line,
        name,
        number or phone(),
        more.get("id_number"),
        more.get("skills"),
        more.get("consented_on", "2027-01-05"),
        team,
    ]
    return cells


def test_an_import_batch_takes_the_new_valid_rows_and_says_why_not_of_the_others(world):
    team = make_team(world, "一队")
    registered = phone()
    known = register(world, phone=registered)
    repeated = phone()
    rows = [
        row(2, "一", team="一队"),
        row(3, "二", number="123"),
        row(4, "三", number=repeated),
        row(5, "四", number=repeated),
        row(6, "五", number=registered),
        row(7, "六", team="没有这个队"),
        row(8, "七" * 1001),
        row(9, "八", team=team["id"], skills="法律、心理"),
    ]
    tally = world.execute(STAFF, imports.import_batch, c.ImportBatch(IMPORT, rows))
    assert (tally["received"], tally["imported"], tally["invalid"], tally["duplicate"]) == (
        8,
        3,
        3,
        2,
    )
    errors = {e["line"]: e for e in tally["errors"]}
    assert [e["line"] for e in tally["errors"]] == [3, 5, 6, 7, 8]
    assert (errors[3]["field"], errors[3]["rule"]) == ("phone", "phone_format")
    assert errors[5]["duplicate_of_line"] == 4
    assert errors[6]["duplicate_of_volunteer_id"] == known["id"]
    assert (errors[7]["field"], errors[7]["rule"]) == ("team", "exists")
    assert (errors[8]["field"], errors[8]["rule"]) == ("name", "max_length")

    imported = [v for v in world.repo.volunteers.values() if v.import_id == IMPORT]
    assert sorted(v.import_line for v in imported) == [2, 4, 9]
    assert all(v.created_at == NOW and v.organization_id == Place.district for v in imported)
    in_team = {v for t, v in world.repo.memberships if t == team["id"]}
    assert {v.id for v in imported if v.import_line in (2, 9)} == in_team
    assert world.uow.event_types[-1] == "volunteer_registered"
    assert sorted(world.uow.events[-1]["volunteer_ids"]) == sorted(v.id for v in imported)
    assert world.uow.events[-1]["import_id"] == IMPORT

    again = world.execute(
        STAFF, imports.import_batch, c.ImportBatch(IMPORT, [row(10, number=repeated)])
    )
    assert again["errors"][0]["duplicate_of_line"] == 4  # named by its line of this import
    hidden = world.execute(
        OTHER_STAFF, imports.import_batch, c.ImportBatch(new_id(), [row(2, number=repeated)])
    )
    assert set(hidden["errors"][0]) == {"line", "kind", "field", "rule", "message"}


def test_an_import_batch_of_the_wrong_shape_or_by_the_wrong_role_is_refused(world):
    for import_id, rows, field, rule in (
        (IMPORT, "not rows", "rows", "shape"),
        (IMPORT, [[0, "x"]], "rows", "line"),
        (IMPORT, [[2, 3]], "rows", "cell_type"),
        ("not-a-uuid", [], "import_id", "uuid"),
    ):
        with pytest.raises(InvalidInput) as caught:
            world.execute(STAFF, imports.import_batch, c.ImportBatch(import_id, rows))
        assert (caught.value.details["field"], caught.value.details["rule"]) == (field, rule)
    with pytest.raises(OutOfScope):
        world.execute(CONTRACTOR, imports.import_batch, c.ImportBatch(IMPORT, [row(2)]))
    assert world.repo.volunteers == {} and world.uow.events == []


def test_an_imports_progress_is_its_importers(world):
    world.execute(STAFF, imports.import_batch, c.ImportBatch(IMPORT, [row(2), row(3), row(7)]))
    progress = world.query(STAFF, imports.import_progress, c.GetImportProgress(IMPORT.upper()))
    assert progress == {"import_id": IMPORT, "imported": 3, "through_line": 7}
    assert world.query(ADMIN, imports.import_progress, c.GetImportProgress(IMPORT))["imported"] == 3
    nothing = world.query(CITY_STAFF, imports.import_progress, c.GetImportProgress(IMPORT))
    assert (nothing["imported"], nothing["through_line"]) == (0, None)
    with pytest.raises(InvalidInput) as caught:
        world.query(STAFF, imports.import_progress, c.GetImportProgress("x"))
    assert caught.value.details["rule"] == "uuid"


# --- activities and enrolment ------------------------------------------------------------------


def test_a_leader_creates_an_activity_for_her_team(world):
    team = make_team(world)
    activity = make_activity(world, team["id"], capacity=2)
    assert (activity.team_id, activity.capacity, activity.created_at) == (team["id"], 2, NOW)
    assert world.repo.activities[activity.id] is activity
    with pytest.raises(RuleBroken) as caught:
        make_activity(world, team["id"], by=OTHER_LEADER)
    assert (caught.value.code, caught.value.field) == ("TEAM_UNKNOWN", "team_id")
    with pytest.raises(RuleBroken) as caught:
        make_activity(world, team["id"], ends=STARTS - timedelta(hours=1))
    assert caught.value.rule == "after_starts_at"


def test_an_activity_names_a_project_of_its_line_learnt_or_asked_for(world):
    team = make_team(world)
    learnt, asked, draft, elsewhere = new_id(), new_id(), new_id(), new_id()
    world.execute(SYSTEM, activities.learn_project, c.ProjectPublished(learnt, Place.city, NOW))
    assert make_activity(world, team["id"], project_id=learnt).project_id == learnt
    assert world.asked == []  # known: nobody asked

    world.projects[asked] = {"purchaser_id": Place.district, "status": "published"}
    world.projects[draft] = {"purchaser_id": Place.district, "status": "draft"}
    world.projects[elsewhere] = {"purchaser_id": Place.other_city, "status": "published"}
    make_activity(world, team["id"], project_id=asked)
    assert world.repo.known_purchaser(asked) == Place.district  # kept for next time
    make_activity(world, team["id"], project_id=draft)
    assert world.repo.known_purchaser(draft) is None  # a draft's purchaser may change
    with pytest.raises(RuleBroken) as caught:
        make_activity(world, team["id"], project_id=elsewhere)
    assert (caught.value.code, caught.value.rule) == (
        "PROJECT_NOT_AVAILABLE",
        "project_not_available",
    )
    with pytest.raises(RuleBroken) as caught:
        make_activity(world, team["id"], project_id=new_id())
    assert (caught.value.code, caught.value.field) == ("PROJECT_UNKNOWN", "project_id")


def test_a_published_project_is_learnt_once(world):
    project = new_id()
    world.execute(SYSTEM, activities.learn_project, c.ProjectPublished(project, Place.city, NOW))
    world.execute(
        SYSTEM, activities.learn_project, c.ProjectPublished(project, Place.district, NOW)
    )
    assert world.repo.known_projects[project] == (Place.city, NOW)


def test_an_activity_is_read_by_whom_runs_its_team(world):
    team = make_team(world)
    activity = make_activity(world, team["id"])
    assert world.query(STAFF, activities.get_activity, c.GetActivity(activity.id)) is activity
    with pytest.raises(ActivityNotFound):
        world.query(OTHER_LEADER, activities.get_activity, c.GetActivity(activity.id))
    with pytest.raises(OutOfScope):
        world.query(FINANCE, activities.get_activity, c.GetActivity(activity.id))


def test_activities_are_listed_for_the_teams_the_actor_sees(world):
    team = make_team(world)
    early = make_activity(world, team["id"])
    later = make_activity(
        world, team["id"], starts=STARTS + timedelta(days=3), ends=ENDS + timedelta(days=3)
    )
    far = make_team(
        world, "外市队", by=OTHER_STAFF, host=Place.other_community, leader=OTHER_LEADER
    )
    make_activity(world, far["id"], by=OTHER_LEADER)

    def ids(actor, **filters):
        command = c.ListActivities(page=page(ACTIVITY_ORDER), **filters)
        return [a.id for a in world.query(actor, activities.list_activities, command)["items"]]

    assert ids(STAFF) == [later.id, early.id]  # the latest start first
    assert ids(LEADER) == [later.id, early.id]
    assert len(ids(ADMIN)) == 3
    assert ids(STAFF, starts_from=date(2027, 3, 12)) == [later.id]
    assert ids(STAFF, starts_before=date(2027, 3, 12)) == [early.id]
    assert ids(OTHER_STAFF) == ids(OTHER_LEADER) != []


def test_enrolment_fills_the_places_then_the_waitlist(world):
    team = make_team(world)
    activity = make_activity(world, team["id"], capacity=1)
    first, second, third = (register(world, team_id=team["id"]) for _ in range(3))
    seated = world.execute(LEADER, activities.enrol, c.Enrol(activity.id, first["id"]))
    queued = world.execute(LEADER, activities.enrol, c.Enrol(activity.id, second["id"]))
    assert (seated.status, queued.status) == ("enrolled", "waitlisted")
    assert (activity.enrolled_count, activity.waitlisted_count) == (1, 1)
    with pytest.raises(ActivityFull):
        world.execute(LEADER, activities.enrol, c.Enrol(activity.id, third["id"], waitlist=False))
    with pytest.raises(AlreadyEnrolled) as caught:
        world.execute(LEADER, activities.enrol, c.Enrol(activity.id, first["id"]))
    assert caught.value.details["status"] == "enrolled"
    statuses = [
        body["status"]
        for kind, body in zip(world.uow.event_types, world.uow.events, strict=True)
        if kind == "volunteer_enrolled"
    ]
    assert statuses == ["enrolled", "waitlisted"]
    world.clock.at = ENDS
    with pytest.raises(ActivityEnded):
        world.execute(LEADER, activities.enrol, c.Enrol(activity.id, third["id"]))


def test_a_cancelled_place_goes_to_the_first_in_the_waitlist(world):
    team = make_team(world)
    activity = make_activity(world, team["id"], capacity=1)
    first, second = (register(world, team_id=team["id"]) for _ in range(2))
    seated = world.execute(LEADER, activities.enrol, c.Enrol(activity.id, first["id"]))
    queued = world.execute(LEADER, activities.enrol, c.Enrol(activity.id, second["id"]))
    with pytest.raises(EnrolmentNotFound):
        world.execute(OTHER_LEADER, activities.cancel_enrolment, c.CancelEnrolment(seated.id))

    world.clock.advance(minutes=5)
    result = world.execute(STAFF, activities.cancel_enrolment, c.CancelEnrolment(seated.id))
    assert result["enrolment"] is seated and result["promoted"] is queued
    assert (seated.status, seated.cancelled_by, queued.status, queued.promoted_at) == (
        "cancelled",
        STAFF.user_id,
        "enrolled",
        NOW + timedelta(minutes=5),
    )
    assert world.uow.event_types[-2:] == ["volunteer_enrolled", "volunteer_enrolled"]
    with pytest.raises(InvalidTransition):
        world.execute(STAFF, activities.cancel_enrolment, c.CancelEnrolment(seated.id))
    again = world.execute(LEADER, activities.enrol, c.Enrol(activity.id, first["id"]))
    assert again is seated and (again.status, again.position) == ("waitlisted", 3)


def test_an_activitys_enrolments_are_listed_with_the_volunteers_names(world):
    team = make_team(world)
    activity = make_activity(world, team["id"], capacity=1)
    first = register(world, team_id=team["id"], name="甲")
    second = register(world, team_id=team["id"], name="乙")
    for volunteer in (first, second):
        world.execute(LEADER, activities.enrol, c.Enrol(activity.id, volunteer["id"]))
    command = c.ListEnrolments(activity.id, page(ENROLMENT_ORDER))
    listed = world.query(LEADER, activities.list_enrolments, command)
    assert [(e.volunteer_name, e.status) for e in listed["items"]] == [
        ("甲", "enrolled"),
        ("乙", "waitlisted"),
    ]
    waiting = c.ListEnrolments(activity.id, page(ENROLMENT_ORDER), status="waitlisted")
    assert world.query(STAFF, activities.list_enrolments, waiting)["total"] == 1
    with pytest.raises(ActivityNotFound):
        world.query(OTHER_STAFF, activities.list_enrolments, command)


# --- service hours -----------------------------------------------------------------------------


def test_hours_are_logged_for_an_enrolled_volunteer_within_the_activity(world):
    team, volunteer, activity = enrolled(world)
    entry = log(world, volunteer["id"], activity.id)
    assert (entry.status, entry.minutes, entry.logged_by, entry.logged_at) == (
        "pending",
        120,
        STAFF.user_id,
        NOW,
    )
    assert world.repo.entries[entry.id] is entry
    with pytest.raises(HoursOverlap):
        log(world, volunteer["id"], activity.id, hour=2)
    by_hours = c.LogHours(
        volunteer_id=volunteer["id"],
        activity_id=activity.id,
        started_at=STARTS + timedelta(hours=5),
        hours="1.5",
    )
    assert world.execute(LEADER, hours.log_hours, by_hours).minutes == 90
    no_end = c.LogHours(volunteer["id"], activity.id, STARTS + timedelta(hours=8))
    with pytest.raises(RuleBroken) as caught:
        world.execute(LEADER, hours.log_hours, no_end)
    assert (caught.value.field, caught.value.rule) == ("ended_at", "required")
    stranger = register(world, team_id=team["id"])
    with pytest.raises(NotEnrolled):
        log(world, stranger["id"], activity.id)
    with pytest.raises(RuleBroken) as caught:
        log(world, volunteer["id"], new_id())
    assert caught.value.code == "ACTIVITY_UNKNOWN"
    with pytest.raises(RuleBroken) as caught:
        log(world, volunteer["id"], activity.id, by=OTHER_LEADER)
    assert caught.value.code == "ACTIVITY_UNKNOWN"


def test_hours_are_verified_by_someone_else_who_runs_the_team(world):
    _, volunteer, activity = enrolled(world)
    entry = log(world, volunteer["id"], activity.id, by=STAFF)
    with pytest.raises(SelfVerification):
        world.execute(STAFF, hours.verify_hours, c.VerifyHours(entry.id))
    with pytest.raises(HoursNotFound):
        world.execute(OTHER_LEADER, hours.verify_hours, c.VerifyHours(entry.id))
    world.clock.advance(hours=1)
    verified = world.execute(LEADER, hours.verify_hours, c.VerifyHours(entry.id))
    assert (verified.status, verified.decided_by, verified.decided_at) == (
        "verified",
        LEADER.user_id,
        NOW + timedelta(hours=1),
    )
    assert world.uow.event_types[-1] == "service_hours_verified"
    assert (world.uow.events[-1]["entry_id"], world.uow.events[-1]["minutes"]) == (entry.id, 120)
    with pytest.raises(InvalidTransition):
        world.execute(ADMIN, hours.verify_hours, c.VerifyHours(entry.id))


def test_hours_are_rejected_saying_why(world):
    _, volunteer, activity = enrolled(world)
    entry = log(world, volunteer["id"], activity.id, by=STAFF)
    with pytest.raises(RuleBroken) as caught:
        world.execute(LEADER, hours.reject_hours, c.RejectHours(entry.id, "  "))
    assert (caught.value.field, caught.value.rule) == ("reason", "required")
    rejected = world.execute(LEADER, hours.reject_hours, c.RejectHours(entry.id, " 时间不对 "))
    assert (rejected.status, rejected.reject_reason) == ("rejected", "时间不对")
    assert "service_hours_verified" not in world.uow.event_types
    with pytest.raises(InvalidTransition):
        world.execute(LEADER, hours.reject_hours, c.RejectHours(entry.id, "again"))


def test_hours_are_read_by_whom_runs_the_team_and_by_the_volunteer(world):
    herself = person("team_leader", name="志愿者本人")
    team = make_team(world)
    volunteer = register(world, team_id=team["id"], user_id=herself.user_id)
    activity = make_activity(world, team["id"])
    world.execute(LEADER, activities.enrol, c.Enrol(activity.id, volunteer["id"]))
    entry = log(world, volunteer["id"], activity.id)
    assert world.query(herself, hours.get_hours, c.GetHours(entry.id)) is entry
    assert world.query(LEADER, hours.get_hours, c.GetHours(entry.id)) is entry
    with pytest.raises(HoursNotFound):
        world.query(OTHER_LEADER, hours.get_hours, c.GetHours(entry.id))
    with pytest.raises(OutOfScope):
        world.query(OPS, hours.get_hours, c.GetHours(entry.id))


def test_hours_are_listed_for_the_teams_the_actor_sees(world):
    _, volunteer, activity = enrolled(world)
    first = log(world, volunteer["id"], activity.id, hour=1)
    world.clock.advance(minutes=1)
    second = log(world, volunteer["id"], activity.id, hour=4)
    world.execute(LEADER, hours.verify_hours, c.VerifyHours(first.id))

    def listed(actor, **filters):
        return world.query(actor, hours.list_hours, c.ListHours(page(HOURS_ORDER), **filters))

    items = listed(LEADER)["items"]
    assert [e.id for e in items] == [second.id, first.id]  # the latest logged first
    assert {e.volunteer_name for e in items} == {"王小红"}
    assert [e.id for e in listed(STAFF, status="verified")["items"]] == [first.id]
    assert listed(OTHER_STAFF)["total"] == 0 and listed(ADMIN)["total"] == 2
    with pytest.raises(OutOfScope):
        listed(FINANCE)


def test_a_volunteers_statement_counts_her_verified_hours(world):
    _, volunteer, activity = enrolled(world)
    first = log(world, volunteer["id"], activity.id, hour=1, length=2)
    second = log(world, volunteer["id"], activity.id, hour=4, length=1)
    log(world, volunteer["id"], activity.id, hour=6, length=1)  # pending: not counted
    for entry in (second, first):
        world.execute(LEADER, hours.verify_hours, c.VerifyHours(entry.id))
    statement = world.query(STAFF, hours.statement, c.GetStatement(volunteer["id"]))
    assert [e["id"] for e in statement["entries"]] == [first.id, second.id]
    assert statement["entries"][0]["activity_title"] == "社区环保宣传"
    assert (statement["total_minutes"], statement["total_hours"]) == (180, 3.0)
    with pytest.raises(VolunteerNotFound):
        world.query(OTHER_STAFF, hours.statement, c.GetStatement(volunteer["id"]))


def test_a_statement_shows_staff_only_the_hours_served_in_teams_they_see(world):
    """She serves in a team of each of two federations: each federation's staff see her
    hours in their own teams, she sees all of hers."""
    _, volunteer, activity = enrolled(world)
    theirs = make_team(world, "外市服务队", by=OTHER_STAFF, host=Place.other_community, leader=None)
    world.execute(ADMIN, teams.add_member, c.AddMember(theirs["id"], volunteer["id"]))
    elsewhere = make_activity(world, theirs["id"], by=OTHER_STAFF)
    world.execute(OTHER_STAFF, activities.enrol, c.Enrol(elsewhere.id, volunteer["id"]))
    here = log(world, volunteer["id"], activity.id, hour=1)
    there = log(world, volunteer["id"], elsewhere.id, by=OTHER_STAFF, hour=4)
    world.execute(LEADER, hours.verify_hours, c.VerifyHours(here.id))
    world.execute(ADMIN, hours.verify_hours, c.VerifyHours(there.id))

    def shown(actor):
        statement = world.query(actor, hours.statement, c.GetStatement(volunteer["id"]))
        return [entry["id"] for entry in statement["entries"]], statement["total_minutes"]

    assert shown(STAFF) == ([here.id], 120)
    assert shown(OTHER_STAFF) == ([there.id], 120)
    assert shown(ADMIN) == ([here.id, there.id], 240)


def test_the_hours_report_groups_verified_hours_for_whom_may_read_it(world):
    team, volunteer, activity = enrolled(world)
    other = register(world, team_id=team["id"], name="李四")
    world.execute(LEADER, activities.enrol, c.Enrol(activity.id, other["id"]))
    for who, hour in ((volunteer, 1), (volunteer, 4), (other, 1)):
        entry = log(world, who["id"], activity.id, hour=hour)
        world.execute(LEADER, hours.verify_hours, c.VerifyHours(entry.id))
    log(world, other["id"], activity.id, hour=6)  # pending: not counted

    by_team = world.query(FINANCE, hours.report, c.HoursReport("team"))
    assert by_team["items"] == [
        {"key": team["id"], "label": team["name"], "entries": 3, "minutes": 360, "hours": 6.0}
    ]
    assert by_team["total"] == {"entries": 3, "minutes": 360, "hours": 6.0}
    assert world.query(OPS, hours.report, c.HoursReport("theme"))["items"][0]["key"] == (
        "family_education"
    )
    assert world.query(OTHER_STAFF, hours.report, c.HoursReport("month"))["items"] == []
    project = world.query(LEADER, hours.report, c.HoursReport("project"))["items"]
    assert project == [{"key": None, "label": None, "entries": 3, "minutes": 360, "hours": 6.0}]

    first = world.query(STAFF, hours.report, c.HoursReport("volunteer", limit=1))
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = world.query(
        STAFF, hours.report, c.HoursReport("volunteer", limit=1, after=first["items"][0]["key"])
    )
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {first["items"][0]["label"], rest["items"][0]["label"]} == {"王小红", "李四"}

    none = world.query(STAFF, hours.report, c.HoursReport("month", since=date(2027, 3, 10)))
    assert none["items"] == [] and none["total"]["entries"] == 0
    with pytest.raises(RuleBroken) as caught:
        world.query(STAFF, hours.report, c.HoursReport("team", date(2027, 3, 2), date(2027, 3, 1)))
    assert (caught.value.field, caught.value.rule) == ("until", "after_since")
    with pytest.raises(OutOfScope):
        world.query(CONTRACTOR, hours.report, c.HoursReport("team"))
    with pytest.raises(OutOfScope):  # names are personal data
        world.query(FINANCE, hours.report, c.HoursReport("volunteer"))


# --- the audit trail -------------------------------------------------------------------------


def test_a_read_in_clear_leaves_one_audit_record_naming_the_fields_not_their_values(world):
    number = phone()
    view = register(world, phone=number)
    before = len(world.uow.records)
    command = c.GetVolunteer(view["id"], unmasked=True, fields=("phone",), reason="回访")
    world.execute(ADMIN, volunteers.get_volunteer, command)
    (read,) = world.uow.records[before:]
    assert (read["action"], read["object_type"], read["object_id"]) == (
        "read_personal_data",
        "volunteer",
        view["id"],
    )
    assert read["changes"] == [
        {"field": "fields", "before": None, "after": "phone"},
        {"field": "reason", "before": None, "after": "回访"},
    ]
    assert number not in str(world.uow.records)
