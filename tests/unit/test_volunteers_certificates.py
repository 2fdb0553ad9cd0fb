"""Volunteer service certificates (志愿服务证明) through the fakes: issued from verified hours
only by the volunteer's line, frozen and signed, verified by anyone with number and code,
revoked with a reason; and the volunteer's account reaching only her own."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from kit.paging import page_request
from language.actor import Actor
from tests.unit.fakes.volunteers import VolunteersWorld
from tests.unit.test_volunteers_usecases import (
    ADMIN,
    CONTRACTOR,
    LEADER,
    NOW,
    OTHER_LEADER,
    OTHER_STAFF,
    STAFF,
    Place,
    enrolled,
    id_number,
    log,
    new_id,
    register,
)
from volunteers import commands as c
from volunteers.domain.certificates import (
    canonical,
    mask_name,
    normalise_code,
    verification_code,
)
from volunteers.exceptions import (
    AccountLinked,
    CertificateNotFound,
    InvalidTransition,
    OutOfScope,
    RuleBroken,
    VolunteerNotFound,
)
from volunteers.handlers import activities, certificates, hours, volunteers
from volunteers.repository import CERTIFICATE_ORDER
from volunteers.signing import CertificateKey

PERIOD = (date(2027, 3, 1), date(2027, 3, 10))


@pytest.fixture
def world() -> VolunteersWorld:
    """The world of ``test_volunteers_usecases``: two cities' federations and communities."""
    world = VolunteersWorld(NOW)
    add = world.directory.add
    add(Place.city, kind="federation")
    add(Place.district, kind="federation", parent_id=Place.city)
    add(Place.community, kind="host_unit", parent_id=Place.district)
    add(Place.other_city, kind="federation")
    add(Place.other_community, kind="host_unit", parent_id=Place.other_city)
    return world


def served(world, *, verify=(1, 4), pending=(6,)):
    """A member of LEADER's team with verified hours (2 h each) and some still pending."""
    team, volunteer, activity = enrolled(world)
    for hour in verify:
        entry = log(world, volunteer["id"], activity.id, hour=hour)
        world.execute(LEADER, hours.verify_hours, c.VerifyHours(entry.id))
    for hour in pending:
        log(world, volunteer["id"], activity.id, hour=hour, length=1)
    return team, volunteer, activity


def issue(world, volunteer_id, by=STAFF, issuer_id=None, period=PERIOD):
    command = c.IssueCertificate(volunteer_id, period[0], period[1], issuer_id)
    return world.execute(by, certificates.issue_certificate, command)


def check(world, number, code):
    return world.query(ADMIN, certificates.verify_certificate, c.VerifyCertificate(number, code))


def test_a_certificate_carries_the_verified_hours_only_and_a_number_of_the_year(world):
    _, volunteer, _ = served(world, verify=(1, 4), pending=(6,))
    preview = world.query(
        STAFF, certificates.preview_certificate, c.PreviewCertificate(volunteer["id"], *PERIOD)
    )
    assert (preview["total_minutes"], preview["total_hours"]) == (240, 4.0)
    assert preview["issuer_id"] == Place.district and preview["themes"] == ["family_education"]
    assert not world.repo.certificates  # a preview issues nothing

    issued = issue(world, volunteer["id"])
    assert issued["number"] == "JG-2027-000001" and issued["status"] == "issued"
    assert (issued["total_minutes"], issued["total_hours"]) == (240, 4.0)
    content = issued["content"]
    assert content["volunteer_name"] == "王小红" and content["issued_on"] == "2027-03-10"
    assert content["activities"][0]["title"] == "社区环保宣传"
    assert content["activities"][0]["entries"] == 2
    assert issue(world, volunteer["id"])["number"] == "JG-2027-000002"


def test_the_id_number_is_masked_on_the_certificate(world):
    team = enrolled(world)[0]
    volunteer = register(world, team_id=team["id"], name="李四", id_number=id_number(7))
    activity = next(iter(world.repo.activities.values()))
    world.execute(LEADER, activities.enrol, c.Enrol(activity.id, volunteer["id"]))
    entry = log(world, volunteer["id"], activity.id, hour=8)
    world.execute(LEADER, hours.verify_hours, c.VerifyHours(entry.id))
    masked = issue(world, volunteer["id"])["content"]["masked_id_number"]
    assert masked == id_number(7)[:4] + "*" * 10 + id_number(7)[-4:]


def test_no_verified_hours_no_certificate(world):
    _, volunteer, _ = served(world, verify=(), pending=(1,))
    with pytest.raises(RuleBroken) as caught:
        issue(world, volunteer["id"])
    assert (caught.value.field, caught.value.rule) == ("period_from", "no_verified_hours")
    with pytest.raises(RuleBroken) as caught:
        issue(world, volunteer["id"], period=(date(2027, 3, 5), date(2027, 3, 1)))
    assert caught.value.rule == "after_period_from"
    with pytest.raises(RuleBroken) as caught:
        issue(world, volunteer["id"], period=(date(2027, 3, 1), date(2027, 3, 11)))
    assert caught.value.rule == "not_in_future"


def test_only_the_volunteers_line_issues(world):
    _, volunteer, _ = served(world)
    with pytest.raises(RuleBroken) as caught:  # she is not on their roster
        issue(world, volunteer["id"], by=OTHER_STAFF)
    assert caught.value.field == "volunteer_id"
    with pytest.raises(OutOfScope):  # staff name a federation of their own subtree only
        issue(world, volunteer["id"], issuer_id=Place.other_city)
    with pytest.raises(OutOfScope):
        issue(world, volunteer["id"], by=CONTRACTOR)
    # the leader issues for her team's host, counting her own teams' hours
    by_leader = issue(world, volunteer["id"], by=LEADER)
    assert by_leader["issuer_id"] == Place.community and by_leader["total_minutes"] == 240
    # the city above the district issues too, when it names itself
    city_staff = Actor(new_id(), "市妇联", "federation_staff", Place.city)
    assert issue(world, volunteer["id"], by=city_staff)["issuer_id"] == Place.city
    with pytest.raises(RuleBroken):  # another leader does not see her
        issue(world, volunteer["id"], by=OTHER_LEADER)


def test_hours_rejected_later_do_not_change_an_issued_certificate(world):
    _, volunteer, _ = served(world, verify=(1,), pending=(4,))
    issued = issue(world, volunteer["id"])
    pending = next(e for e in world.repo.entries.values() if e.status == "pending")
    world.execute(LEADER, hours.verify_hours, c.VerifyHours(pending.id))
    # an entry counted by the certificate is "corrected" afterwards (as SQL could)
    counted = next(e for e in world.repo.entries.values() if e.id != pending.id)
    counted.minutes = 5
    got = world.query(STAFF, certificates.get_certificate, c.GetCertificate(issued["id"]))
    assert got["total_minutes"] == 120 and got["genuine"] is True
    assert check(world, issued["number"], issued["verification_code"])["total_minutes"] == 120


def test_verification_genuine_wrong_code_tampered_and_revoked(world):
    _, volunteer, _ = served(world)
    issued = issue(world, volunteer["id"])
    number, code = issued["number"], issued["verification_code"]
    answer = check(world, number, code.lower().replace("-", " "))
    assert answer["result"] == "genuine" and answer["masked_name"] == "王*红"
    assert answer["total_minutes"] == 240 and answer["issuer_name"]
    assert set(answer) == {
        "result",
        "number",
        "masked_name",
        "period_from",
        "period_to",
        "total_minutes",
        "total_hours",
        "issuer_name",
        "issued_on",
        "revoked_on",
    }
    assert check(world, number, "AAAA-AAAA") == {"result": "not_found"}
    assert check(world, "JG-2027-999999", code) == {"result": "not_found"}

    stored = world.repo.certificates[issued["id"]]
    stored.content = {**stored.content, "total_minutes": 6000, "total_hours": 100.0}
    stored.total_minutes = 6000
    assert check(world, number, code) == {"result": "invalid", "number": number}
    got = world.query(STAFF, certificates.get_certificate, c.GetCertificate(issued["id"]))
    assert got["genuine"] is False

    # a signature made with another key (a forger with the database but not the key)
    forger = CertificateKey(b"x" * 32)
    forged = forger.sign(canonical(stored.content))
    stored.signature = base64.b64encode(forged).decode()
    assert check(world, number, verification_code(forged))["result"] == "invalid"


def test_revocation_by_an_issuer_with_a_reason(world):
    _, volunteer, _ = served(world)
    issued = issue(world, volunteer["id"], by=LEADER)
    revoke = certificates.revoke_certificate
    with pytest.raises(RuleBroken) as caught:
        world.execute(LEADER, revoke, c.RevokeCertificate(issued["id"], "  "))
    assert (caught.value.field, caught.value.rule) == ("reason", "required")
    with pytest.raises(CertificateNotFound):
        world.execute(OTHER_STAFF, revoke, c.RevokeCertificate(issued["id"], "错误"))
    world.clock.advance(hours=1)
    revoked = world.execute(STAFF, revoke, c.RevokeCertificate(issued["id"], "时长登记有误"))
    assert revoked["status"] == "revoked" and revoked["revoke_reason"] == "时长登记有误"
    assert revoked["revoked_by"] == STAFF.user_id
    with pytest.raises(InvalidTransition) as caught:
        world.execute(LEADER, revoke, c.RevokeCertificate(issued["id"], "再次"))
    assert caught.value.details["current_status"] == "revoked"
    answer = check(world, issued["number"], issued["verification_code"])
    assert answer["result"] == "revoked" and answer["revoked_on"] == "2027-03-10"


def test_a_leader_revokes_only_what_she_issued(world):
    _, volunteer, _ = served(world)
    issued = issue(world, volunteer["id"])  # by staff
    with pytest.raises(OutOfScope):
        world.execute(
            LEADER, certificates.revoke_certificate, c.RevokeCertificate(issued["id"], "x")
        )


def volunteer_account(world, volunteer_id, by=STAFF):
    account = Actor(new_id(), "xiaohong", "volunteer")
    world.execute(by, certificates.link_account, c.LinkAccount(volunteer_id, account.user_id))
    return account


def test_a_volunteer_reaches_only_her_own_record_hours_and_certificates(world):
    team, volunteer, _ = served(world)
    issued = issue(world, volunteer["id"])
    other = register(world, team_id=team["id"], name="李四")
    issue_other = world.repo.volunteers[other["id"]]
    her = volunteer_account(world, volunteer["id"])

    own = world.query(her, volunteers.get_volunteer, c.GetVolunteer(volunteer["id"]))
    assert own["id"] == volunteer["id"]
    with pytest.raises(VolunteerNotFound):
        world.query(her, volunteers.get_volunteer, c.GetVolunteer(issue_other.id))
    statement = world.query(her, hours.statement, c.GetStatement(volunteer["id"]))
    assert statement["total_minutes"] == 240
    with pytest.raises(VolunteerNotFound):
        world.query(her, hours.statement, c.GetStatement(issue_other.id))

    listed = world.query(
        her,
        certificates.list_certificates,
        c.ListCertificates(page_request(50, None, ordering=CERTIFICATE_ORDER)),
    )
    assert [i["id"] for i in listed["items"]] == [issued["id"]]
    got = world.query(her, certificates.get_certificate, c.GetCertificate(issued["id"]))
    assert got["number"] == issued["number"]
    stranger = Actor(new_id(), "someone", "volunteer")
    with pytest.raises(CertificateNotFound):
        world.query(stranger, certificates.get_certificate, c.GetCertificate(issued["id"]))
    assert (
        world.query(
            stranger,
            certificates.list_certificates,
            c.ListCertificates(page_request(50, None, ordering=CERTIFICATE_ORDER)),
        )["items"]
        == []
    )
    with pytest.raises(OutOfScope):  # she does not issue
        issue(world, volunteer["id"], by=her)
    with pytest.raises(OutOfScope):
        world.query(her, volunteers.list_volunteers, _list_volunteers())


def _list_volunteers():
    from volunteers.repository import VOLUNTEER_ORDER

    return c.ListVolunteers(page=page_request(50, None, ordering=VOLUNTEER_ORDER))


def test_volunteer_accounts_are_linked_by_staff_who_see_her(world):
    _, volunteer, _ = served(world)
    with pytest.raises(VolunteerNotFound):
        volunteer_account(world, volunteer["id"], by=OTHER_STAFF)
    with pytest.raises(OutOfScope):
        volunteer_account(world, volunteer["id"], by=LEADER)
    her = volunteer_account(world, volunteer["id"])
    assert world.repo.volunteers[volunteer["id"]].user_id == her.user_id
    with pytest.raises(AccountLinked):
        volunteer_account(world, volunteer["id"], by=ADMIN)


def test_names_and_codes_as_shown():
    names = ("王小红", "李四", "欧阳娜娜", "X")
    assert [mask_name(n) for n in names] == ["王*红", "李*", "欧**娜", "X"]
    assert normalise_code(" abcd efgh ") == "ABCD-EFGH"
    code = verification_code(b"signature")
    assert len(code) == 9 and code[4] == "-"
