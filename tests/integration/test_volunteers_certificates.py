"""Volunteer service certificates in a real volunteers container, on SQLite and PostgreSQL:
issued from verified hours, verified by number and code, a row altered in SQL fails
verification, a revoked one says so, and hours corrected after issue leave it as issued."""

import json

import eventlet
import pytest
import sqlalchemy as sa

from kit.db import connect
from kit.rpc import RemoteFailure
from tests.integration import test_volunteers_service as base
from tests.integration.test_volunteers_service import PHONE, STARTS, refused
from tests.support.rpc import ServiceRpcProxy
from volunteers.models import certificates, service_hours
from volunteers.service import VolunteersService

# the volunteers service's fixtures: a container on each database, its world
volunteers_db = base.volunteers_db
volunteers_config = base.volunteers_config
roster = base.roster

PERIOD = {"period_from": "2026-10-01", "period_to": "2026-10-31"}


def served(roster, *hours_at):
    """A member of the leader's team with verified hours: (start, hours) each."""
    team = roster.team()
    volunteer = roster.volunteer(PHONE, id_number=base.ID_NUMBER)
    roster.svc.add_member(team["id"], {"volunteer_id": volunteer["id"]}, roster.leader)
    activity = roster.activity(team)
    roster.svc.enrol(activity["id"], {"volunteer_id": volunteer["id"]}, roster.leader)
    entries = []
    for started_at, hours in hours_at:
        entry = roster.svc.log_hours(
            {
                "volunteer_id": volunteer["id"],
                "activity_id": activity["id"],
                "started_at": started_at,
                "hours": hours,
            },
            roster.staff,
        )
        roster.svc.verify_hours(entry["id"], roster.leader)
        entries.append(entry)
    return volunteer, activity, entries


def issue(roster, volunteer, actor=None):
    return roster.svc.issue_certificate(
        {"volunteer_id": volunteer["id"], **PERIOD}, actor or roster.staff
    )


def execute(roster, statement):
    with connect(roster.db_url) as db, db.begin() as connection:
        connection.execute(statement)


def test_a_certificate_is_genuine_until_its_row_is_altered_in_sql(roster):
    volunteer, _, _ = served(roster, (STARTS, "2"), ("2026-10-10T05:00:00+00:00", "1.5"))
    issued = issue(roster, volunteer)
    assert issued["number"].startswith("JG-2026-") and issued["total_minutes"] == 210
    content = issued["content"]
    assert content["masked_id_number"] == "1101**********002X"
    assert content["issuer_name"] == "某区妇联" and content["places"] == ["幸福社区活动中心"]
    answer = roster.svc.verify_certificate(issued["number"], issued["verification_code"])
    assert answer["result"] == "genuine" and answer["total_hours"] == 3.5
    assert answer["masked_name"] == "王*红" and answer["issuer_name"] == "某区妇联"
    text = json.dumps(answer, ensure_ascii=False)
    assert PHONE not in text and base.ID_NUMBER not in text and "王小红" not in text
    assert roster.svc.verify_certificate(issued["number"], "ZZZZ-ZZZZ") == {"result": "not_found"}

    # someone with the database (not the key) adds hours to the certificate
    row = roster.rows(certificates, certificates.c.id == issued["id"])[0]
    forged = {**row.content, "total_minutes": 6000, "total_hours": 100.0}
    execute(
        roster,
        sa.update(certificates)
        .where(certificates.c.id == issued["id"])
        .values(content=forged, total_minutes=6000),
    )
    answer = roster.svc.verify_certificate(issued["number"], issued["verification_code"])
    assert answer == {"result": "invalid", "number": issued["number"]}
    assert roster.svc.get_certificate(issued["id"], roster.staff)["genuine"] is False


def test_hours_corrected_after_issue_do_not_change_the_certificate(roster):
    volunteer, activity, entries = served(roster, (STARTS, "2"))
    issued = issue(roster, volunteer)
    # the entry corrected in the database, another one logged and verified in the period
    execute(
        roster,
        sa.update(service_hours).where(service_hours.c.id == entries[0]["id"]).values(minutes=30),
    )
    later = roster.svc.log_hours(
        {
            "volunteer_id": volunteer["id"],
            "activity_id": activity["id"],
            "started_at": "2026-10-10T06:00:00+00:00",
            "hours": "1",
        },
        roster.staff,
    )
    roster.svc.verify_hours(later["id"], roster.leader)
    preview = roster.svc.preview_certificate(
        {"volunteer_id": volunteer["id"], **PERIOD}, roster.staff
    )
    assert preview["total_minutes"] == 90  # what the hours say now
    got = roster.svc.get_certificate(issued["id"], roster.staff)
    assert (got["total_minutes"], got["genuine"]) == (120, True)
    answer = roster.svc.verify_certificate(issued["number"], issued["verification_code"])
    assert (answer["result"], answer["total_minutes"]) == ("genuine", 120)


def test_a_revoked_certificate_says_so_and_is_not_revoked_twice(roster):
    volunteer, _, _ = served(roster, (STARTS, "2"))
    issued = issue(roster, volunteer, roster.leader)
    assert issued["issuer_id"] == roster.community
    failure = refused(
        roster.svc.revoke_certificate, issued["id"], {"reason": "x"}, roster.other_staff
    )
    assert failure.code == "CERTIFICATE_NOT_FOUND"
    revoked = roster.svc.revoke_certificate(issued["id"], {"reason": "时长有误"}, roster.leader)
    assert revoked["status"] == "revoked" and revoked["revoke_reason"] == "时长有误"
    failure = refused(roster.svc.revoke_certificate, issued["id"], {"reason": "再次"}, roster.staff)
    assert failure.code == "INVALID_TRANSITION"
    answer = roster.svc.verify_certificate(issued["number"], issued["verification_code"])
    assert answer["result"] == "revoked" and answer["revoked_on"]


def test_numbers_run_on_within_the_year_and_no_hours_no_certificate(roster):
    volunteer, _, _ = served(roster, (STARTS, "2"))
    first, second = issue(roster, volunteer), issue(roster, volunteer)
    assert int(second["number"][-6:]) == int(first["number"][-6:]) + 1
    nobody = roster.volunteer("13900000001", "李娜")
    failure = refused(issue, roster, nobody)
    assert (failure.code, failure.details["rule"]) == ("NO_VERIFIED_HOURS", "no_verified_hours")
    listed = roster.svc.list_certificates({"volunteer_id": volunteer["id"]}, roster.staff)
    assert listed["total"] == 2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_certificates_issued_at_once_by_two_replicas_get_one_number_each(
    roster, container_factory, volunteers_config
):
    container_factory(VolunteersService, volunteers_config).start()  # a second replica
    volunteer, _, _ = served(roster, (STARTS, "2"))

    def issue_one(n):
        with ServiceRpcProxy("volunteers", volunteers_config) as svc:
            actor = roster.staff if n % 2 else roster.admin
            payload = {"volunteer_id": volunteer["id"], **PERIOD, "issuer_id": roster.district}
            return svc.issue_certificate(payload, actor)["number"]

    numbers = list(eventlet.GreenPool(8).imap(issue_one, range(8)))
    assert len(set(numbers)) == 8, numbers
    assert sorted(int(n[-6:]) for n in numbers) == list(range(1, 9))

    certificate_id = roster.rows(certificates)[0].id

    def revoke(n):
        with ServiceRpcProxy("volunteers", volunteers_config) as svc:
            try:
                return svc.revoke_certificate(certificate_id, {"reason": f"第{n}次"}, roster.staff)[
                    "status"
                ]
            except RemoteFailure as failure:
                return failure.code

    outcomes = list(eventlet.GreenPool(6).imap(revoke, range(6)))
    assert sorted(outcomes) == ["INVALID_TRANSITION"] * 5 + ["revoked"], outcomes
