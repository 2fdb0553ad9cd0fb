"""Volunteer service certificates over HTTP: hours verified → a certificate issued by the
district federation → its PDF (text extracted: the figures and the number; rendered to PNG
under var/screenshots/) → verified by anyone with number and code, the public answer carrying
no phone, ID number or full name → revoked, and the public answer says so. A volunteer's own
account reaches her record, her hours and her certificates, and nobody else's."""

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
ID_A = "110105198003120024"
PHONE_A = "13800138000"
DAY = "2026-10-10"
STILL_ON_UNTIL = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
#: a mainland mobile number or an 18-character resident ID number, anywhere in a text
PERSONAL = re.compile(r"1[3-9]\d{9}|\d{17}[\dXx]")


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code, response.text
    return response.json() if "json" in response.headers.get("Content-Type", "") else response


def at(clock):
    return f"{DAY}T{clock}:00+08:00"


@pytest.fixture(scope="module")
def world(platform):
    admin = platform.admin()
    city = admin.create(
        "/organizations", {"name": "泉州市妇联", "kind": "federation", "level": "city"}
    )
    district = admin.create(
        "/organizations",
        {"name": "鲤城区妇联", "kind": "federation", "level": "county", "parent_id": city["id"]},
    )
    other = admin.create(
        "/organizations", {"name": "漳州市妇联", "kind": "federation", "level": "city"}
    )
    host = admin.create(
        "/organizations",
        {
            "name": "开元社区",
            "kind": "host_unit",
            "sector": "community",
            "parent_id": district["id"],
        },
    )
    clients, ids = {}, {}
    for name, role, organization_id in (
        ("staff", "federation_staff", district["id"]),
        ("other", "federation_staff", other["id"]),
        ("leader", "team_leader", None),
    ):
        user = admin.create(
            "/users",
            {
                "username": f"qz.cert.{name}",
                "password": f"{name}-password-qz",
                "role": role,
                "organization_id": organization_id,
            },
        )
        ids[name] = user["id"]
        clients[name] = platform.client(platform.token(f"qz.cert.{name}", f"{name}-password-qz"))
    staff, leader = clients["staff"], clients["leader"]
    team = eventually(
        lambda: expect(
            staff.post(
                "/teams",
                {
                    "name": "开元巾帼家教志愿服务队",
                    "theme": "family_education",
                    "host_id": host["id"],
                    "leader_user_id": ids["leader"],
                },
            ),
            201,
        )
    )
    volunteers = [
        expect(
            staff.post(
                "/volunteers",
                {
                    "name": name,
                    "phone": phone,
                    "consented_on": "2026-03-01",
                    "team_id": team["id"],
                    **extra,
                },
            ),
            201,
        )
        for name, phone, extra in (
            ("陈美玲", PHONE_A, {"id_number": ID_A}),
            ("黄小燕", "13900139001", {}),
        )
    ]
    activity = expect(
        leader.post(
            "/activities",
            {
                "title": "家庭教育公益讲座",
                "team_id": team["id"],
                "starts_at": at("09:00"),
                "ends_at": STILL_ON_UNTIL.isoformat(),
                "place": "开元社区文化站",
                "capacity": 5,
            },
        ),
        201,
    )
    for volunteer, start in zip(volunteers, ("09:00", "13:00"), strict=True):
        expect(
            leader.post(
                f"/activities/{activity['id']}/enrolments", {"volunteer_id": volunteer["id"]}
            ),
            201,
        )
        entry = expect(
            staff.post(
                "/service-hours",
                {
                    "volunteer_id": volunteer["id"],
                    "activity_id": activity["id"],
                    "started_at": at(start),
                    "hours": "2.5",
                },
            ),
            201,
        )
        expect(leader.post(f"/service-hours/{entry['id']}/verify"), 200)
    return {"admin": admin, "district": district, "volunteers": volunteers, **clients}


PERIOD = {"period_from": "2026-10-01", "period_to": "2026-10-31"}


def test_issue_download_verify_and_revoke(platform, world):
    staff, her = world["staff"], world["volunteers"][0]
    request = {"volunteer_id": her["id"], **PERIOD}
    preview = expect(staff.post("/certificates/preview", request), 200)
    assert (preview["total_minutes"], preview["issuer_name"]) == (150, "鲤城区妇联")
    expect(world["other"].post("/certificates", request), 422, "VOLUNTEER_UNKNOWN")
    issued = expect(staff.post("/certificates", request), 201)
    number, code = issued["number"], issued["verification_code"]
    assert re.fullmatch(r"JG-\d{4}-\d{6}", number) and re.fullmatch(
        r"[A-Z2-7]{4}-[A-Z2-7]{4}", code
    )

    pdf = expect(staff.get(f"/certificates/{issued['id']}/pdf"), 200)
    assert pdf.headers["Content-Type"] == "application/pdf"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "certificate.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    for shown in (
        number,
        code,
        "志愿服务证明",
        "陈美玲",
        "2.5 小时",
        "150 分钟",
        "鲤城区妇联",
        "家庭教育公益讲座",
        "1101**********0024",
    ):
        assert shown in text, (shown, text)
    assert ID_A not in text and PHONE_A not in text
    fonts = subprocess.run(
        ["pdffonts", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert "TrueType" in fonts and " yes yes " in fonts  # the CJK font embedded (subset)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-singlefile",
            str(path),
            str(SCREENSHOTS / "certificate"),
        ],
        check=True,
    )
    assert (SCREENSHOTS / "certificate.png").stat().st_size > 10_000

    visitor = platform.client()
    answer = expect(visitor.get(f"/public/certificates/{number}", params={"code": code}), 200)
    assert answer["result"] == "genuine" and answer["masked_name"] == "陈*玲"
    assert (answer["total_minutes"], answer["issuer_name"]) == (150, "鲤城区妇联")
    raw = visitor.get(f"/public/certificates/{number}", params={"code": code}).text
    assert not PERSONAL.search(raw) and "陈美玲" not in raw, raw
    wrong = expect(visitor.get(f"/public/certificates/{number}", params={"code": "AAAA-AAAA"}), 200)
    assert wrong == {"result": "not_found"}
    expect(visitor.get(f"/public/certificates/{number}"), 422)

    expect(staff.post(f"/certificates/{issued['id']}/revoke", {}), 422)
    revoked = expect(
        staff.post(f"/certificates/{issued['id']}/revoke", {"reason": "服务时长登记有误"}), 200
    )
    assert revoked["status"] == "revoked"
    expect(
        staff.post(f"/certificates/{issued['id']}/revoke", {"reason": "again"}),
        409,
        "INVALID_TRANSITION",
    )
    revoked_pdf = SCREENSHOTS / "certificate-revoked.pdf"
    revoked_pdf.write_bytes(expect(staff.get(f"/certificates/{issued['id']}/pdf"), 200).content)
    text = subprocess.run(
        ["pdftotext", str(revoked_pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "已撤销" in text and number in text
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-singlefile",
            str(revoked_pdf),
            str(revoked_pdf.with_suffix("")),
        ],
        check=True,
    )
    answer = expect(visitor.get(f"/public/certificates/{number}", params={"code": code}), 200)
    assert answer["result"] == "revoked"


def test_a_volunteer_reaches_her_own_and_nothing_else(platform, world):
    staff, admin = world["staff"], world["admin"]
    her, other = world["volunteers"]
    for volunteer in (her, other):
        expect(staff.post("/certificates", {"volunteer_id": volunteer["id"], **PERIOD}), 201)
    expect(
        world["other"].post(
            f"/volunteers/{her['id']}/account",
            {"username": "qz.v.x", "password": "a-good-password-1"},
        ),
        404,
    )
    # the account made before the volunteers service refused to link it is gone again
    users = expect(admin.get("/users", params={"limit": 500}), 200)["items"]
    assert "qz.v.x" not in {u["username"] for u in users}
    # an account an admin makes with the role alone is linked to nobody: it reaches nothing
    unlinked = {"username": "qz.v.none", "password": "a-good-password-1", "role": "volunteer"}
    assert expect(admin.post("/users", unlinked), 201)["volunteer_id"] is None
    nobody = platform.client(platform.token("qz.v.none", "a-good-password-1"))
    assert expect(nobody.get("/certificates"), 200)["items"] == []
    expect(nobody.get(f"/volunteers/{her['id']}"), 404)
    account = expect(
        staff.post(
            f"/volunteers/{her['id']}/account",
            {"username": "qz.v.chen", "password": "chen-password-qz"},
        ),
        201,
    )
    assert (account["role"], account["volunteer_id"]) == ("volunteer", her["id"])
    expect(
        staff.post(
            f"/volunteers/{her['id']}/account",
            {"username": "qz.v.chen2", "password": "chen-password-qz"},
        ),
        409,
        "VOLUNTEER_ACCOUNT_EXISTS",
    )
    me = platform.client(platform.token("qz.v.chen", "chen-password-qz"))
    assert expect(me.get("/users/me"), 200)["volunteer_id"] == her["id"]
    assert expect(me.get(f"/volunteers/{her['id']}"), 200)["phone"] == "138****8000"
    assert expect(me.get(f"/volunteers/{her['id']}/hours"), 200)["total_minutes"] == 150
    expect(me.get(f"/volunteers/{other['id']}"), 404)
    expect(me.get(f"/volunteers/{other['id']}/hours"), 404)
    mine = expect(me.get("/certificates"), 200)["items"]
    assert mine and {c["volunteer_id"] for c in mine} == {her["id"]}
    everyone = expect(staff.get("/certificates"), 200)["items"]
    theirs = next(c for c in everyone if c["volunteer_id"] == other["id"])
    expect(me.get(f"/certificates/{theirs['id']}"), 404, "CERTIFICATE_NOT_FOUND")
    expect(me.get(f"/certificates/{theirs['id']}/pdf"), 404)
    assert expect(me.get(f"/certificates/{mine[0]['id']}/pdf"), 200).content.startswith(b"%PDF")
    for refused in (
        me.get("/volunteers"),
        me.get("/teams"),
        me.post("/certificates", {"volunteer_id": her["id"], **PERIOD}),
        me.post(f"/certificates/{mine[0]['id']}/revoke", {"reason": "x"}),
        me.get("/service-hours"),
    ):
        expect(refused, 403, "ROLE_NOT_ALLOWED")
