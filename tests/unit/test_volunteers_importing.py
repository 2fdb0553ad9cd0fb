"""The steps of one import batch (``volunteers.domain.importing``), each on its own: the batch's
shape, a row parsed, the team a row names, duplicates within the batch, volunteers registered
already, the rows built — and the retry of a volunteer write (``handlers.writes``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from kit.errors import InvalidInput
from volunteers.domain import importing
from volunteers.domain.identity import VolunteerDraft
from volunteers.domain.importing import Candidate, Checked, ImportTally
from volunteers.domain.roster import Team
from volunteers.handlers import writes

TODAY = date(2027, 3, 10)
AT = datetime(2027, 3, 10, 2, 0, tzinfo=UTC)
IMPORT = str(uuid.uuid4())


def draft(phone: str = "13812341234", id_number: str | None = None) -> VolunteerDraft:
    return VolunteerDraft("王小红", phone, id_number, [], date(2027, 1, 5))


def team(name: str = "一队") -> Team:
    return Team(
        name=name,
        theme="other",
        host_id="host",
        leader_user_id=None,
        description=None,
        created_by="u",
        created_at=AT,
    )


def digest(field: str, value: str) -> str:
    return f"{field}#{value}"


# --- the batch and its rows --------------------------------------------------------------------


def test_a_batch_is_a_list_of_rows_under_a_uuid():
    assert importing.check_batch(IMPORT.upper(), []) == IMPORT
    for import_id, rows, field in (
        (IMPORT, {"rows": 1}, "rows"),
        (IMPORT, [[]] * (importing.MAX_BATCH_ROWS + 1), "rows"),
        ("12", [], "import_id"),
    ):
        with pytest.raises(InvalidInput) as caught:
            importing.check_batch(import_id, rows)
        assert caught.value.details["field"] == field


def test_a_rows_cells_are_padded_and_empty_ones_are_null():
    assert importing.row_cells([2, "王", ""]) == (2, ["王", None, None, None, None, None])
    for bad, rule in (("x", "shape"), ([True, "a"], "line"), ([3, 4], "cell_type")):
        with pytest.raises(InvalidInput) as caught:
            importing.row_cells(bad)
        assert caught.value.details["rule"] == rule


def test_a_row_is_parsed_into_a_candidate_or_refused_with_its_line():
    tally = ImportTally()
    candidate = importing.parse_row(
        [2, "王小红", "138 1234 1234", None, "法律", "2027-1-5", " 一队 "], TODAY, tally
    )
    assert candidate == Candidate(
        2, VolunteerDraft("王小红", "13812341234", None, ["法律"], date(2027, 1, 5)), "一队"
    )
    assert importing.parse_row([3, "王", "123", None, None, "2027-01-05"], TODAY, tally) is None
    assert importing.parse_row([4, "x" * 1001, "13812341234"], TODAY, tally) is None
    assert (tally.invalid, [(e["line"], e["field"], e["rule"]) for e in tally.errors]) == (
        2,
        [(3, "phone", "phone_format"), (4, "name", "max_length")],
    )


def test_parse_keeps_the_good_rows_in_order():
    tally = ImportTally()
    rows = [
        [2, "甲", "13800000001", None, None, "2027-01-05"],
        [3],
        [4, "乙", "13800000002", None, None, "2027-01-05"],
    ]
    assert [c.line for c in importing.parse(rows, TODAY, tally)] == [2, 4]
    assert tally.errors[0]["line"] == 3 and tally.errors[0]["field"] == "name"


# --- teams ------------------------------------------------------------------------------------


def test_a_team_is_named_by_id_or_by_one_name():
    one = team()
    ids = importing.team_ids(["一队", one.id, one.id.upper()])
    assert ids == {one.id: one.id, one.id.upper(): one.id}
    assert importing.choose_team("一队", [one]) is one
    assert importing.choose_team("一队", [])["rule"] == "exists"
    assert importing.choose_team("一队", [one, team()])["rule"] == "ambiguous"


# --- duplicates -------------------------------------------------------------------------------


def test_a_row_repeating_an_earlier_ones_phone_or_id_number_is_refused():
    tally = ImportTally()
    one = team()
    candidates = [
        Candidate(2, draft("13800000001", "A"), "一队"),
        Candidate(3, draft("13800000001"), None),
        Candidate(4, draft("13800000002", "A"), None),
        Candidate(5, draft("13800000003"), "没有"),
        Candidate(6, draft("13800000004"), None),
    ]
    teams = {"一队": one, "没有": {"rule": "exists", "message": "no team '没有'"}}
    checked = importing.deduplicate(candidates, teams, digest, tally)
    assert [(c.line, c.team) for c in checked] == [(2, one), (6, None)]
    assert checked[0].id_hash == "id_number#A" and checked[1].id_hash is None
    assert [(e["line"], e["field"], e.get("duplicate_of_line")) for e in tally.errors] == [
        (3, "phone", 2),
        (4, "id_number", 2),
        (5, "team", None),
    ]
    assert (tally.duplicate, tally.invalid) == (2, 1)


def test_a_row_of_a_registered_volunteer_names_her_only_to_whom_may_see_her():
    tally = ImportTally()
    rows = [
        Checked(2, draft("1"), None, "p1", None),
        Checked(3, draft("2"), None, "p2", "i2"),
        Checked(4, draft("3"), None, "p3", None),
        Checked(5, draft("4"), None, "p4", None),
    ]
    existing = [
        SimpleNamespace(
            id="v1", phone_hash="p1", id_number_hash=None, import_id=None, import_line=None
        ),
        SimpleNamespace(
            id="v2", phone_hash="px", id_number_hash="i2", import_id=IMPORT, import_line=9
        ),
        SimpleNamespace(
            id="v3", phone_hash="p3", id_number_hash=None, import_id=None, import_line=None
        ),
    ]
    fresh = importing.drop_registered(rows, existing, {"v1", "v2"}, IMPORT, tally)
    assert [f.line for f in fresh] == [5]
    by_line = {e["line"]: e for e in tally.errors}
    assert by_line[2]["duplicate_of_volunteer_id"] == "v1"
    assert (by_line[3]["field"], by_line[3]["duplicate_of_line"]) == ("id_number", 9)
    assert "duplicate_of_volunteer_id" not in by_line[4] and "duplicate_of_line" not in by_line[4]
    assert tally.duplicate == 3


# --- the rows that go in ------------------------------------------------------------------------


def test_the_rows_built_seal_personal_data_and_join_the_named_team():
    one = team()
    fresh = [
        Checked(2, draft("13800000001", "ID"), one, "p1", "i1"),
        Checked(3, draft("13800000002"), None, "p2", None),
    ]
    sealed = []

    def seal(value: str, field: str, volunteer_id: str) -> str:
        sealed.append((field, volunteer_id))
        return f"sealed:{field}"

    rows, members = importing.build_rows(
        fresh,
        import_id=IMPORT,
        actor_id="actor",
        at=AT,
        seal=seal,
        organization_of=lambda host: host or "own",
    )
    assert [(r["import_line"], r["phone_cipher"], r["id_number_cipher"]) for r in rows] == [
        (2, "sealed:phone", "sealed:id_number"),
        (3, "sealed:phone", None),
    ]
    assert [r["organization_id"] for r in rows] == ["host", "own"]
    assert all(
        "1380000000" not in str(value) for r in rows for key, value in r.items() if key != "name"
    )
    assert members == [
        {"team_id": one.id, "volunteer_id": rows[0]["id"], "added_by": "actor", "joined_at": AT}
    ]
    assert sealed[0] == ("phone", rows[0]["id"])


def test_the_tally_lists_errors_by_line():
    tally = ImportTally(received=3)
    tally.refuse(5, "duplicate", "phone", "unique", "again")
    tally.refuse(2, "invalid", "name", "required", "no name")
    summary = tally.as_dict()
    assert [e["line"] for e in summary["errors"]] == [2, 5]
    assert (summary["invalid"], summary["duplicate"], summary["imported"]) == (1, 1, 0)


# --- a write of volunteer rows is retried on a collision ------------------------------------


def failing(*errors: Exception):
    calls = []

    def transaction():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "done"

    return transaction, calls


def database_error(kind: type, pgcode: str | None = None) -> Exception:
    return kind("INSERT", {}, SimpleNamespace(pgcode=pgcode))


def test_a_collision_is_tried_again_up_to_three_times():
    transaction, calls = failing(
        database_error(IntegrityError), database_error(OperationalError, "40001")
    )
    assert writes.in_turn(transaction) == "done" and len(calls) == 3
    transaction, calls = failing(*[database_error(IntegrityError)] * 3)
    with pytest.raises(IntegrityError):
        writes.in_turn(transaction)
    assert len(calls) == writes.ATTEMPTS


def test_another_database_error_is_not_tried_again():
    transaction, calls = failing(database_error(OperationalError, "08006"))
    with pytest.raises(OperationalError):
        writes.in_turn(transaction)
    assert len(calls) == 1
