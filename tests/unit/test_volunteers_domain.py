"""Volunteers rules on plain domain objects: the resident ID number (GB 11643), mainland
mobile numbers, masking, registrations, who manages a team, activities with capacity and a
waitlist, and service hours (the activity's window, overlaps, maker-checker verification).

No broker and no database: objects are built directly and every state is reached through the
real transitions.
"""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from language.actor import Actor
from volunteers.domain import activities, identity, reports, roster, scope
from volunteers.domain import hours as hours_rules
from volunteers.domain.activities import Activity
from volunteers.domain.hours import ServiceHours
from volunteers.domain.identity import VolunteerDraft
from volunteers.domain.roster import Team
from volunteers.domain.scope import Scope
from volunteers.exceptions import (
    ActivityEnded,
    ActivityFull,
    HoursOverlap,
    InvalidTransition,
    NotEnrolled,
    OutOfScope,
    RuleBroken,
    SelfVerification,
)

TODAY = date(2027, 3, 1)
AT = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
#: an activity on the morning of 2027-03-06, China time (01:00 to 05:00 UTC)
STARTS = datetime(2027, 3, 6, 1, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(hours=4)
#: when hours are logged: after every activity here (hours are logged for time already served)
LOGGED = datetime(2027, 4, 10, 1, 0, tzinfo=UTC)

FEDERATION_ID = str(uuid.uuid4())
HOST_ID = str(uuid.uuid4())
CITY_PATH = f"/{FEDERATION_ID}/"
HOST_PATH = f"/{FEDERATION_ID}/{HOST_ID}/"
OTHER_PATH = f"/{uuid.uuid4()}/{uuid.uuid4()}/"

ADMIN = Actor(str(uuid.uuid4()), "admin", "admin")
STAFF = Actor(str(uuid.uuid4()), "staff", "federation_staff", FEDERATION_ID)
LEADER = Actor(str(uuid.uuid4()), "leader", "team_leader")
OTHER_LEADER = Actor(str(uuid.uuid4()), "other_leader", "team_leader")
CONTRACTOR = Actor(str(uuid.uuid4()), "contractor", "contractor", str(uuid.uuid4()))
FINANCE = Actor(str(uuid.uuid4()), "finance", "finance_officer")

#: GB 11643-1999's own example, check character X
SAMPLE_ID = "11010519491231002X"
#: a second valid number, check character a digit
DIGIT_ID = "440524198001010013"


def valid_id(first_seventeen):
    return first_seventeen + identity.id_check_character(first_seventeen)


def broken(excinfo):
    """The field and rule an error names."""
    return excinfo.value.details["field"], excinfo.value.details["rule"]


# --- the resident ID number (GB 11643, ISO 7064 MOD 11-2) ----------------------------------


@pytest.mark.parametrize(
    ("first_seventeen", "check"),
    [
        ("11010519491231002", "X"),
        ("44052419800101001", "3"),
        ("35010219900307123", "4"),
    ],
)
def test_the_check_character_is_mod_11_2_over_the_first_seventeen(first_seventeen, check):
    assert identity.id_check_character(first_seventeen) == check


def test_the_check_character_can_be_every_one_of_its_eleven_values():
    """Varying the sequence number walks the weighted sum through every residue mod 11."""
    seen = {identity.id_check_character(f"35010219900307{n:03d}") for n in range(200)}
    assert seen == set("10X98765432")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (SAMPLE_ID, SAMPLE_ID),
        ("11010519491231002x", SAMPLE_ID),  # a lower-case x is the same number
        (" 110105 19491231 002X ", SAMPLE_ID),  # spaces as people type them
        ("１１０１０５１９４９１２３１００２Ｘ", SAMPLE_ID),  # full-width, from a Chinese IME
        (DIGIT_ID, DIGIT_ID),
    ],
)
def test_a_valid_id_number_is_kept_upper_cased_without_spaces(given, stored):
    assert identity.check_id_number(given, TODAY) == stored


@pytest.mark.parametrize("given", ["", "1101051949123100", "11010519491231002XX", "1" * 15])
def test_an_id_number_is_eighteen_characters(given):
    with pytest.raises(RuleBroken) as excinfo:
        identity.check_id_number(given, TODAY)
    assert broken(excinfo) == ("id_number", "id_length")
    assert f"not {len(given)}" in excinfo.value.message


@pytest.mark.parametrize(
    "given",
    [
        "11010519491231002A",  # a letter other than X as the check character
        "1101051949123100X2",  # X anywhere but last
        "A10105194912310020",
        "11010519491231002-",
    ],
)
def test_an_id_number_is_seventeen_digits_and_a_digit_or_x(given):
    with pytest.raises(RuleBroken) as excinfo:
        identity.check_id_number(given, TODAY)
    assert broken(excinfo) == ("id_number", "id_format")


@pytest.mark.parametrize(
    "first_seventeen",
    [
        "11010519490231002",  # 31 February: no such day
        "11010520270302002",  # born tomorrow
        "11010518991231002",  # before 1900
        "11010519491301002",  # month 13
    ],
)
def test_the_birth_date_in_an_id_number_is_a_real_past_date(first_seventeen):
    # a correct check character: only the date is wrong
    with pytest.raises(RuleBroken) as excinfo:
        identity.check_id_number(valid_id(first_seventeen), TODAY)
    assert broken(excinfo) == ("id_number", "id_birth_date")


def test_a_leap_day_birth_date_is_real_in_a_leap_year():
    assert identity.check_id_number(valid_id("11010520000229002"), TODAY)


@pytest.mark.parametrize(
    "given",
    [
        "110105194912310021",  # the right check character is X
        "440524198001010014",  # one off
        "440524198001010031",  # two digits swapped: MOD 11-2 catches transpositions
    ],
)
def test_a_mistyped_id_number_fails_its_check_character(given):
    with pytest.raises(RuleBroken) as excinfo:
        identity.check_id_number(given, TODAY)
    assert broken(excinfo) == ("id_number", "id_check_character")


def test_no_error_about_an_id_number_repeats_the_number():
    for given in ("110105194912310021", "11010519491231002A", "1101051949123100"):
        with pytest.raises(RuleBroken) as excinfo:
            identity.check_id_number(given, TODAY)
        assert given not in str(excinfo.value.args) and given[:10] not in excinfo.value.message


# --- the mobile phone --------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        "13812341234",
        "138 1234 1234",
        "138-1234-1234",
        "+86 138 1234 1234",
        "+8613812341234",
        "008613812341234",
        "8613812341234",
        "１３８１２３４１２３４",
        "(138)1234-1234",
    ],
)
def test_a_mainland_mobile_is_kept_as_eleven_digits(given):
    assert identity.normalise_phone(given) == "13812341234"


@pytest.mark.parametrize(
    "given",
    [
        "1381234123",  # ten digits
        "138123412345",  # twelve
        "12812341234",  # 12x is no mobile prefix
        "23812341234",  # does not start with 1
        "010-12345678",  # a Beijing landline
        "+85291234567",  # Hong Kong
        "1381234123a",
        "phone",
    ],
)
def test_anything_else_breaks_the_phone_format_rule(given):
    with pytest.raises(RuleBroken) as excinfo:
        identity.normalise_phone(given)
    assert broken(excinfo) == ("phone", "phone_format")
    assert given not in excinfo.value.message


@pytest.mark.parametrize("given", [None, "", "   "])
def test_a_phone_is_required(given):
    with pytest.raises(RuleBroken) as excinfo:
        identity.normalise_phone(given)
    assert broken(excinfo) == ("phone", "required")


# --- masking -------------------------------------------------------------------------------


def test_a_phone_is_masked_to_its_prefix_and_last_four():
    assert identity.mask_phone("13812341234") == "138****1234"
    assert identity.mask_phone("19900001111") == "199****1111"


def test_an_id_number_is_masked_to_its_region_and_last_four():
    masked = identity.mask_id_number(SAMPLE_ID)
    assert masked == "1101**********002X"
    assert len(masked) == 18
    # the birth date (characters 7 to 14) is never shown
    assert "19491231" not in masked


# --- a registration ------------------------------------------------------------------------


def register(**changes):
    values = {
        "name": " 王 小红 ",
        "phone": "138 1234 1234",
        "id_number": SAMPLE_ID,
        "skills": "法律咨询、心理疏导，法律咨询; 家政",
        "consented_on": "2027年2月28日",
        "today": TODAY,
    }
    values.update(changes)
    return identity.check_registration(**values)


def test_a_registration_is_checked_and_normalised():
    draft = register()
    assert draft == VolunteerDraft(
        name="王 小红",
        phone="13812341234",
        id_number=SAMPLE_ID,
        skills=["法律咨询", "心理疏导", "家政"],
        consented_on=date(2027, 2, 28),
    )


@pytest.mark.parametrize("given", ["2027-02-28", "2027/2/28", "2027.02.28", "2027年2月28日"])
def test_consent_dates_are_read_as_spreadsheets_write_them(given):
    assert register(consented_on=given).consented_on == date(2027, 2, 28)


@pytest.mark.parametrize("given", [None, "", "  ", [], ["  "]])
def test_an_id_number_and_skills_are_optional(given):
    draft = register(id_number=given if not isinstance(given, list) else None, skills=given)
    assert draft.id_number is None and draft.skills == []


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"name": "  "}, "name", "required"),
        ({"name": "王" * 101}, "name", "max_length"),
        ({"phone": "1381234123"}, "phone", "phone_format"),
        ({"phone": None}, "phone", "required"),
        ({"id_number": "110105194912310021"}, "id_number", "id_check_character"),
        ({"skills": ["法" * 51]}, "skills", "max_length"),
        ({"skills": [f"技能{n}" for n in range(31)]}, "skills", "max_items"),
        ({"consented_on": None}, "consented_on", "required"),
        ({"consented_on": "2027-02-30"}, "consented_on", "date_format"),
        ({"consented_on": "去年"}, "consented_on", "date_format"),
        ({"consented_on": "2027-03-02"}, "consented_on", "not_in_future"),
        ({"consented_on": date(2027, 3, 2)}, "consented_on", "not_in_future"),
    ],
)
def test_a_bad_registration_names_its_field_and_rule(changes, field, rule):
    with pytest.raises(RuleBroken) as excinfo:
        register(**changes)
    assert broken(excinfo) == (field, rule)
    assert excinfo.value.kind == "invalid"


# --- teams and scope -----------------------------------------------------------------------


def new_team(leader=LEADER):
    return Team(
        name="低碳生活巾帼志愿服务队",
        theme="low_carbon_living",
        host_id=HOST_ID,
        leader_user_id=leader.user_id if leader else None,
        description=None,
        created_by=STAFF.user_id,
        created_at=AT,
    )


def test_a_team_has_one_of_the_themes():
    with pytest.raises(RuleBroken) as excinfo:
        Team(
            name="x",
            theme="knitting",
            host_id=HOST_ID,
            leader_user_id=None,
            description=None,
            created_by=STAFF.user_id,
            created_at=AT,
        )
    assert broken(excinfo) == ("theme", "one_of")
    team = new_team()
    with pytest.raises(RuleBroken):
        team.edit({"theme": "knitting"}, AT)
    assert team.theme == "low_carbon_living" and team.version == 1


def test_a_teams_search_key_fits_its_column_even_when_case_folding_lengthens_it():
    team = new_team()
    team.edit({"name": "ß" * 200}, AT)
    assert team.search_name == "s" * 200
    assert roster.team_search_key("婦聯 YWCA") == "妇联 ywca"


def test_a_team_is_managed_by_its_leader_staff_above_its_host_and_admins():
    team = new_team()
    assert Scope(LEADER).manages(team, HOST_PATH)
    assert Scope(STAFF, CITY_PATH).manages(team, HOST_PATH)
    assert Scope(ADMIN).manages(team, OTHER_PATH)
    assert not Scope(OTHER_LEADER).manages(team, HOST_PATH)
    assert not Scope(STAFF, CITY_PATH).manages(team, OTHER_PATH)
    assert not Scope(STAFF, None).manages(team, HOST_PATH)
    assert not Scope(CONTRACTOR).manages(team, HOST_PATH)
    with pytest.raises(OutOfScope) as excinfo:
        Scope(OTHER_LEADER).ensure_manages(team, HOST_PATH)
    assert excinfo.value.details["team_id"] == team.id


@pytest.mark.parametrize("actor", [CONTRACTOR, FINANCE, Actor("u", "ops", "ops")])
def test_only_those_who_run_teams_see_the_roster(actor):
    with pytest.raises(OutOfScope):
        Scope(actor).ensure_roster()
    for allowed in (ADMIN, STAFF, LEADER):
        Scope(allowed).ensure_roster()


def test_a_volunteer_belongs_to_the_registering_staffs_federation_or_her_teams_host():
    team_host = str(uuid.uuid4())
    assert Scope(STAFF, CITY_PATH).registering_organization(team_host) == FEDERATION_ID
    assert Scope(LEADER).registering_organization(team_host) == team_host
    assert Scope(ADMIN).registering_organization(None) is None


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        (None, "host_kind"),
        ({"kind": "service_provider", "status": "verified"}, "host_kind"),
        ({"kind": "host_unit", "status": "suspended"}, "active"),
        ({"kind": "federation", "status": "deregistered"}, "active"),
    ],
)
def test_a_team_is_hosted_by_an_active_federation_or_host_unit(entry, rule):
    with pytest.raises(RuleBroken) as excinfo:
        roster.check_host(HOST_ID, entry)
    assert broken(excinfo) == ("host_id", rule)
    roster.check_host(HOST_ID, {"kind": "host_unit", "status": "registered"})


# --- activities: capacity and the waitlist ------------------------------------------------


def new_activity(capacity=2, project_id=None):
    return Activity(
        title="社区垃圾分类宣传",
        team_id=str(uuid.uuid4()),
        project_id=project_id,
        starts_at=STARTS,
        ends_at=ENDS,
        place="幸福社区",
        capacity=capacity,
        description=None,
        created_by=LEADER.user_id,
        created_at=AT,
    )


def enrol_many(activity, count, waitlist=True):
    return [
        activity.enrol(str(uuid.uuid4()), waitlist=waitlist, actor=LEADER, at=AT)
        for _ in range(count)
    ]


def statuses(enrolments):
    return [enrolment.status for enrolment in enrolments]


def counts(activity):
    return activity.enrolled_count, activity.waitlisted_count, activity.places_left


def test_an_activity_enrols_up_to_capacity_then_waitlists_in_order():
    activity = new_activity(capacity=3)
    enrolments = enrol_many(activity, 5)
    assert statuses(enrolments) == ["enrolled"] * 3 + ["waitlisted"] * 2
    assert [e.position for e in enrolments] == [1, 2, 3, 4, 5]
    assert counts(activity) == (3, 2, 0)
    events = activity.pull_events()
    assert [(e.name, e.data["status"]) for e in events] == [
        ("volunteer_enrolled", "enrolled")
    ] * 3 + [("volunteer_enrolled", "waitlisted")] * 2


def test_without_the_waitlist_a_full_activity_refuses_and_changes_nothing():
    activity = new_activity(capacity=1)
    enrol_many(activity, 1)
    before = vars(activity).copy()
    with pytest.raises(ActivityFull) as excinfo:
        activity.enrol(str(uuid.uuid4()), waitlist=False, actor=LEADER, at=AT)
    assert excinfo.value.kind == "conflict" and excinfo.value.details["capacity"] == 1
    assert vars(activity) == before


def test_a_cancelled_place_goes_to_the_first_waitlisted():
    activity = new_activity(capacity=2)
    first, second, third, fourth = enrol_many(activity, 4)
    activity.pull_events()
    promoted = activity.cancel(second, third, actor=LEADER, at=AT + timedelta(hours=1))
    assert promoted is third
    assert statuses([first, second, third, fourth]) == [
        "enrolled",
        "cancelled",
        "enrolled",
        "waitlisted",
    ]
    assert third.promoted_at == AT + timedelta(hours=1)
    assert (second.cancelled_at, second.cancelled_by) == (AT + timedelta(hours=1), LEADER.user_id)
    assert counts(activity) == (2, 1, 0)
    assert [e.data["status"] for e in activity.pull_events()] == ["cancelled", "enrolled"]


def test_leaving_the_waitlist_frees_no_place_and_promotes_nobody():
    activity = new_activity(capacity=1)
    first, second, third = enrol_many(activity, 3)
    assert activity.cancel(second, None, actor=LEADER, at=AT) is None
    assert statuses([first, second, third]) == ["enrolled", "cancelled", "waitlisted"]
    assert counts(activity) == (1, 1, 0)


def test_a_cancelled_place_with_nobody_waiting_is_left_free():
    activity = new_activity(capacity=2)
    first, _ = enrol_many(activity, 2)
    assert activity.cancel(first, None, actor=LEADER, at=AT) is None
    assert counts(activity) == (1, 0, 1)
    # and the next to enrol takes it
    assert enrol_many(activity, 1, waitlist=False)[0].status == "enrolled"


def test_cancelling_twice_is_a_conflict_naming_the_state():
    activity = new_activity()
    (enrolment,) = enrol_many(activity, 1)
    activity.cancel(enrolment, None, actor=LEADER, at=AT)
    before = counts(activity)
    with pytest.raises(InvalidTransition) as excinfo:
        activity.cancel(enrolment, None, actor=LEADER, at=AT)
    assert excinfo.value.kind == "conflict"
    assert excinfo.value.details["current_status"] == "cancelled"
    assert "cancelled" in excinfo.value.message
    assert counts(activity) == before


def test_re_enrolling_after_cancelling_joins_the_back_of_the_line():
    activity = new_activity(capacity=1)
    first, second = enrol_many(activity, 2)
    activity.cancel(first, second, actor=LEADER, at=AT)
    activity.reenrol(first, waitlist=True, actor=LEADER, at=AT)
    assert (first.status, first.position, first.cancelled_at) == ("waitlisted", 3, None)
    assert second.status == "enrolled"
    with pytest.raises(InvalidTransition) as excinfo:
        activity.reenrol(second, waitlist=True, actor=LEADER, at=AT)
    assert excinfo.value.details["current_status"] == "enrolled"


def test_capacity_never_exceeded_over_any_sequence_of_enrolments_and_cancellations():
    activity = new_activity(capacity=3)
    line = enrol_many(activity, 8)
    for victim in (line[0], line[4], line[1], line[3]):
        waiting = sorted((e for e in line if e.status == "waitlisted"), key=lambda e: e.position)
        activity.cancel(victim, waiting[0] if waiting else None, actor=LEADER, at=AT)
        enrolled = [e for e in line if e.status == "enrolled"]
        assert len(enrolled) == activity.enrolled_count <= activity.capacity
        assert sum(e.status == "waitlisted" for e in line) == activity.waitlisted_count
    # the waitlist moved up in the order it was joined
    assert [e.position for e in line if e.status == "enrolled"] == [3, 6, 7]


@pytest.mark.parametrize("waitlist", [True, False])
def test_nobody_enrols_in_an_activity_that_has_ended(waitlist):
    activity = new_activity(capacity=1)
    # once it has started, up to its last minute, one still may
    last_minute = ENDS - timedelta(minutes=1)
    assert activity.enrol("v1", waitlist=waitlist, actor=LEADER, at=last_minute).status == (
        "enrolled"
    )
    activity.pull_events()
    before = vars(activity).copy()
    for at in (ENDS, ENDS + timedelta(days=30)):
        with pytest.raises(ActivityEnded) as excinfo:
            activity.enrol("v2", waitlist=waitlist, actor=LEADER, at=at)
        assert (excinfo.value.kind, excinfo.value.code) == ("conflict", "ACTIVITY_ENDED")
        assert excinfo.value.details == {"activity_id": activity.id, "ends_at": ENDS.isoformat()}
        assert ENDS.isoformat() in excinfo.value.message
    assert vars(activity) == before
    assert activity.pull_events() == []


def test_nobody_re_enrols_in_an_activity_that_has_ended():
    activity = new_activity(capacity=2)
    (enrolment,) = enrol_many(activity, 1)
    activity.cancel(enrolment, None, actor=LEADER, at=AT)
    with pytest.raises(ActivityEnded):
        activity.reenrol(enrolment, waitlist=True, actor=LEADER, at=ENDS)
    assert (enrolment.status, counts(activity)) == ("cancelled", (0, 0, 2))


@pytest.mark.parametrize(
    ("starts", "ends", "capacity", "field", "rule"),
    [
        (STARTS, STARTS, 5, "ends_at", "after_starts_at"),
        (ENDS, STARTS, 5, "ends_at", "after_starts_at"),
        (STARTS.replace(tzinfo=None), ENDS, 5, "starts_at", "aware"),
        (STARTS, ENDS, 0, "capacity", "min"),
    ],
)
def test_an_activity_has_a_window_and_a_place(starts, ends, capacity, field, rule):
    with pytest.raises(RuleBroken) as excinfo:
        Activity(
            title="x",
            team_id="t",
            project_id=None,
            starts_at=starts,
            ends_at=ends,
            place=None,
            capacity=capacity,
            description=None,
            created_by="u",
            created_at=AT,
        )
    assert broken(excinfo) == (field, rule)


# --- service hours -------------------------------------------------------------------------

VOLUNTEER_ID = str(uuid.uuid4())


def log(
    activity=None,
    started=STARTS,
    ended=ENDS,
    *,
    others=(),
    status="enrolled",
    actor=LEADER,
    at=LOGGED,
    end_field="ended_at",
):
    return hours_rules.log_hours(
        volunteer_id=VOLUNTEER_ID,
        activity=activity or new_activity(project_id=str(uuid.uuid4())),
        enrolment_status=status,
        others=others,
        started_at=started,
        ended_at=ended,
        actor=actor,
        at=at,
        end_field=end_field,
    )


def test_hours_within_the_activity_are_logged_pending_in_whole_minutes():
    activity = new_activity(project_id=str(uuid.uuid4()))
    entry = log(activity, STARTS + timedelta(minutes=30), ENDS - timedelta(minutes=15))
    assert (entry.status, entry.minutes, entry.logged_by) == ("pending", 195, LEADER.user_id)
    assert (entry.team_id, entry.project_id) == (activity.team_id, activity.project_id)
    # the month a report counts the hours in is China's: 2027-03-06 09:00 there
    assert entry.service_month == "2027-03"
    assert entry.pull_events() == []


def test_the_service_month_is_chinas_not_utcs():
    late = datetime(2027, 3, 31, 17, 0, tzinfo=UTC)  # 1 April, 01:00 in China
    activity = Activity(
        title="x",
        team_id="t",
        project_id=None,
        starts_at=late,
        ends_at=late + timedelta(hours=2),
        place=None,
        capacity=1,
        description=None,
        created_by="u",
        created_at=AT,
    )
    assert log(activity, late, late + timedelta(hours=1)).service_month == "2027-04"


@pytest.mark.parametrize(
    ("started", "ended", "field"),
    [
        (STARTS - timedelta(minutes=1), ENDS, "started_at"),
        (STARTS, ENDS + timedelta(minutes=1), "ended_at"),
        (STARTS - timedelta(days=1), STARTS - timedelta(hours=20), "started_at"),
    ],
)
def test_hours_lie_within_the_activitys_window(started, ended, field):
    with pytest.raises(RuleBroken) as excinfo:
        log(started=started, ended=ended)
    assert broken(excinfo) == (field, "within_activity")
    assert excinfo.value.details["activity_starts_at"] == STARTS.isoformat()


def test_hours_are_logged_only_for_time_already_served_give_or_take_the_clock_skew():
    now = STARTS + timedelta(hours=2)  # the activity is on
    skew = hours_rules.CLOCK_SKEW
    assert skew == timedelta(minutes=5)
    # ending now, or a clock's few minutes ahead of now, is time served
    assert log(ended=now, at=now).minutes == 120
    assert log(ended=now + skew, at=now).minutes == 125
    for end_field in ("ended_at", "hours"):
        with pytest.raises(RuleBroken) as excinfo:
            log(ended=now + skew + timedelta(seconds=1), at=now, end_field=end_field)
        assert excinfo.value.kind == "invalid"
        assert broken(excinfo) == (end_field, "not_in_future")
        assert excinfo.value.details["now"] == now.isoformat()
        said = {"ended_at": "the end", "hours": "the start plus the hours"}[end_field]
        assert f"{said} lies in the future" in excinfo.value.message
    # an activity still to come: none of it is served yet
    with pytest.raises(RuleBroken) as excinfo:
        log(at=AT)
    assert broken(excinfo) == ("ended_at", "not_in_future")


def test_hours_past_the_activitys_end_are_outside_it_even_when_also_still_to_come():
    with pytest.raises(RuleBroken) as excinfo:
        log(ended=ENDS + timedelta(hours=1), at=ENDS - timedelta(hours=1))
    assert broken(excinfo) == ("ended_at", "within_activity")


@pytest.mark.parametrize(
    ("started", "ended", "field", "rule"),
    [
        (STARTS + timedelta(hours=1), STARTS, "ended_at", "after_started_at"),
        (STARTS, STARTS, "ended_at", "after_started_at"),
        (STARTS, STARTS + timedelta(seconds=59), "ended_at", "min"),
        (STARTS.replace(tzinfo=None), ENDS, "started_at", "aware"),
    ],
)
def test_hours_have_a_positive_duration(started, ended, field, rule):
    with pytest.raises(RuleBroken) as excinfo:
        log(started=started, ended=ended)
    assert broken(excinfo) == (field, rule)


def test_hours_over_a_day_are_refused():
    with pytest.raises(RuleBroken) as excinfo:
        hours_rules.duration_minutes(STARTS, STARTS + timedelta(hours=24, minutes=1))
    assert broken(excinfo) == ("ended_at", "max")
    assert hours_rules.duration_minutes(STARTS, STARTS + timedelta(hours=24)) == 1440


@pytest.mark.parametrize("status", [None, "waitlisted", "cancelled"])
def test_hours_are_logged_for_enrolled_volunteers_only(status):
    with pytest.raises(NotEnrolled) as excinfo:
        log(status=status)
    assert excinfo.value.kind == "conflict"
    assert excinfo.value.details["enrolment_status"] == status


def existing_entry(started, ended, status="pending"):
    activity = new_activity()
    entry = ServiceHours(
        volunteer_id=VOLUNTEER_ID,
        activity=activity,
        started_at=started,
        ended_at=ended,
        logged_by=LEADER.user_id,
        logged_at=AT,
    )
    if status == "rejected":
        entry.reject("重复登记", STAFF, AT)
    if status == "verified":
        entry.verify(STAFF, AT)
    entry.pull_events()
    return entry


@pytest.mark.parametrize(
    ("started", "ended"),
    [
        (STARTS, ENDS),  # the same time
        (STARTS + timedelta(hours=1), STARTS + timedelta(hours=2)),  # inside
        (STARTS - timedelta(hours=1), STARTS + timedelta(minutes=1)),  # straddles the start
        (ENDS - timedelta(minutes=1), ENDS + timedelta(hours=1)),  # straddles the end
    ],
)
def test_one_volunteers_entries_never_overlap(started, ended):
    other = existing_entry(started, ended, "verified")
    with pytest.raises(HoursOverlap) as excinfo:
        log(others=[other])
    assert excinfo.value.details["overlapping_entry_id"] == other.id
    assert broken(excinfo) == ("started_at", "no_overlap")


def test_entries_that_only_touch_or_were_rejected_do_not_overlap():
    before = existing_entry(STARTS - timedelta(hours=2), STARTS)  # ends as this one starts
    after = existing_entry(ENDS, ENDS + timedelta(hours=1))  # starts as this one ends
    rejected = existing_entry(STARTS, ENDS, "rejected")
    assert log(others=[before, after, rejected]).status == "pending"
    assert hours_rules.overlaps(STARTS, ENDS, ENDS, ENDS + timedelta(hours=1)) is False
    assert hours_rules.overlaps(STARTS, ENDS, ENDS - timedelta(seconds=1), ENDS) is True


@pytest.mark.parametrize(
    ("given", "minutes"), [(1, 60), ("1.5", 90), (2.25, 135), ("0.05", 3), (24, 1440)]
)
def test_hours_given_as_numbers_come_to_whole_minutes(given, minutes):
    assert hours_rules.minutes_from_hours(given) == minutes


@pytest.mark.parametrize(("given", "rule"), [("1.51", "whole_minutes"), ("x", "number")])
def test_hours_that_are_not_whole_minutes_are_refused(given, rule):
    with pytest.raises(RuleBroken) as excinfo:
        hours_rules.minutes_from_hours(given)
    assert broken(excinfo) == ("hours", rule)


# --- verifying hours: maker-checker and the state machine -----------------------------------


def pending_entry(project_id=None):
    entry = log(new_activity(project_id=project_id))
    entry.pull_events()
    return entry


def may_decide(entry, actor, *, volunteer_user_id=None, host_path=HOST_PATH, leader=LEADER):
    federation_path = CITY_PATH if actor.role == "federation_staff" else None
    hours_rules.ensure_may_decide(
        entry,
        actor=actor,
        scope=Scope(actor, federation_path),
        team=new_team(leader),
        host_path=host_path,
        volunteer_user_id=volunteer_user_id,
    )


def test_verified_hours_announce_themselves_for_the_project():
    project_id = str(uuid.uuid4())
    entry = pending_entry(project_id)
    entry.verify(STAFF, AT + timedelta(days=1))
    assert (entry.status, entry.decided_by, entry.decided_at) == (
        "verified",
        STAFF.user_id,
        AT + timedelta(days=1),
    )
    (event,) = entry.pull_events()
    assert event.name == "service_hours_verified"
    assert event.data == {
        "entry_id": entry.id,
        "volunteer_id": VOLUNTEER_ID,
        "activity_id": entry.activity_id,
        "team_id": entry.team_id,
        "project_id": project_id,
        "minutes": 240,
        "verified_by": STAFF.user_id,
        "actor_id": STAFF.user_id,
    }


def test_rejected_hours_keep_the_reason_and_announce_nothing():
    entry = pending_entry()
    entry.reject("  活动当天未签到 ", STAFF, AT)
    assert (entry.status, entry.reject_reason, entry.decided_by) == (
        "rejected",
        "活动当天未签到",
        STAFF.user_id,
    )
    assert entry.pull_events() == []


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_says_why(reason):
    entry = pending_entry()
    with pytest.raises(RuleBroken) as excinfo:
        entry.reject(reason, STAFF, AT)
    assert broken(excinfo) == ("reason", "required")
    assert (entry.status, entry.decided_by, entry.version) == ("pending", None, 1)


@pytest.mark.parametrize(
    ("first", "then", "state"),
    [
        ("verify", "verify", "verified"),
        ("verify", "reject", "verified"),
        ("reject", "verify", "rejected"),
        ("reject", "reject", "rejected"),
    ],
)
def test_a_decided_entry_cannot_be_decided_again(first, then, state):
    entry = pending_entry()
    decide = {
        "verify": lambda: entry.verify(ADMIN, AT),
        "reject": lambda: entry.reject("不符", ADMIN, AT),
    }
    decide[first]()
    entry.pull_events()
    decided = (entry.status, entry.decided_by, entry.version)
    with pytest.raises(InvalidTransition) as excinfo:
        decide[then]()
    assert excinfo.value.kind == "conflict"
    assert excinfo.value.details["current_status"] == state
    assert excinfo.value.details["entry_id"] == entry.id
    assert state in excinfo.value.message
    assert (entry.status, entry.decided_by, entry.version) == decided
    assert entry.pull_events() == []


def test_rejecting_a_decided_entry_without_a_reason_still_names_its_state():
    entry = pending_entry()
    entry.verify(ADMIN, AT)
    with pytest.raises(InvalidTransition) as excinfo:
        entry.reject(None, ADMIN, AT)
    assert excinfo.value.details["current_status"] == "verified"


def test_whoever_logged_hours_does_not_verify_them():
    entry = pending_entry()  # logged by LEADER, who leads the team
    with pytest.raises(SelfVerification) as excinfo:
        may_decide(entry, LEADER)
    assert excinfo.value.kind == "forbidden"
    assert excinfo.value.details["reason"] == "you logged these hours"


def test_a_volunteer_does_not_verify_her_own_hours_even_as_an_admin():
    entry = pending_entry()
    with pytest.raises(SelfVerification) as excinfo:
        may_decide(entry, ADMIN, volunteer_user_id=ADMIN.user_id)
    assert excinfo.value.details["reason"] == "these are your own hours"


def test_the_teams_leader_staff_above_its_host_and_admins_verify():
    entry = pending_entry()
    # logged by LEADER; the team led by OTHER_LEADER this time
    may_decide(entry, OTHER_LEADER, leader=OTHER_LEADER)
    may_decide(entry, STAFF)
    may_decide(entry, ADMIN, host_path=OTHER_PATH)
    for outsider, path in ((STAFF, OTHER_PATH), (OTHER_LEADER, HOST_PATH), (CONTRACTOR, HOST_PATH)):
        with pytest.raises(OutOfScope):
            may_decide(entry, outsider, host_path=path)


# --- reports -------------------------------------------------------------------------------


def test_report_periods_run_forwards():
    assert reports.report_period(date(2027, 1, 1), date(2027, 1, 1)) == (
        date(2027, 1, 1),
        date(2027, 1, 1),
    )
    with pytest.raises(RuleBroken) as excinfo:
        reports.report_period(date(2027, 2, 1), date(2027, 1, 31))
    assert broken(excinfo) == ("until", "after_since")


def test_minutes_are_shown_as_hours_to_two_decimals():
    assert [reports.hours(m) for m in (0, 1, 90, 100, 1441)] == [0.0, 0.02, 1.5, 1.67, 24.02]


# --- issue 11, hole 5: an activity names a project of its line only ----------------------------

CITY, DISTRICT, STREET = "/c/", "/c/d/", "/c/d/s/"
OTHER_CITY, OTHER_DISTRICT = "/o/", "/o/d/"


def test_organizations_on_one_line_are_one_above_the_other():
    assert scope.in_line(CITY, STREET) and scope.in_line(STREET, CITY)
    assert scope.in_line(DISTRICT, DISTRICT)
    assert not scope.in_line(DISTRICT, OTHER_DISTRICT)
    assert not scope.in_line("/c/d/", "/c/e/")  # sibling districts
    assert not scope.in_line("/c/d/", "/c/dd/")  # a prefix of the id is not the parent
    assert not scope.in_line(None, CITY) and not scope.in_line(CITY, None)


def test_a_path_names_the_organizations_it_runs_through_top_first():
    assert scope.ids_on_path("/c/d/s/") == ["c", "d", "s"]
    assert scope.ids_on_path(None) == []


@pytest.mark.parametrize("purchaser", [CITY, DISTRICT, STREET])
def test_a_project_purchased_in_the_line_is_available(purchaser):
    activities.ensure_project_available("p", purchaser, [DISTRICT, None])


@pytest.mark.parametrize("purchaser", [OTHER_CITY, OTHER_DISTRICT, "/c/e/", None])
def test_a_project_purchased_elsewhere_is_not(purchaser):
    with pytest.raises(RuleBroken) as refused:
        activities.ensure_project_available("p", purchaser, [DISTRICT, None])
    assert (refused.value.field, refused.value.rule) == ("project_id", "project_not_available")
    assert refused.value.code == "PROJECT_NOT_AVAILABLE"
