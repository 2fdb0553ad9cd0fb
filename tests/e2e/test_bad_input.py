"""Bad input over HTTP: a clear 4xx with a code, and nothing written anywhere."""

import time

import jwt
import pytest
import sqlalchemy as sa

from kit.db import connect
from kit.tables import outbox
from registry.models import organizations, status_changes
from tests.support.platform import Client


@pytest.fixture(scope="module")
def tree(platform, admin):
    city = admin.create(
        "/organizations", {"name": "甲市妇联", "kind": "federation", "level": "city"}
    )
    district = admin.create(
        "/organizations",
        {"name": "甲区妇联", "kind": "federation", "level": "county", "parent_id": city["id"]},
    )
    other_city = admin.create(
        "/organizations", {"name": "乙市妇联", "kind": "federation", "level": "city"}
    )
    other_district = admin.create(
        "/organizations",
        {
            "name": "乙区妇联",
            "kind": "federation",
            "level": "county",
            "parent_id": other_city["id"],
        },
    )
    unit = admin.create(
        "/organizations",
        {
            "name": "某企业",
            "kind": "host_unit",
            "sector": "non_public_enterprise",
            "parent_id": district["id"],
        },
    )
    provider = admin.create(
        "/organizations",
        {"name": "甲社工事务所", "kind": "service_provider", "parent_id": city["id"]},
    )
    other_provider = admin.create(
        "/organizations",
        {"name": "乙社工事务所", "kind": "service_provider", "parent_id": other_city["id"]},
    )
    admin.create(
        "/users",
        {
            "username": "district.staff",
            "password": "district-pass-1",
            "role": "federation_staff",
            "organization_id": district["id"],
        },
    )
    admin.create(
        "/users",
        {
            "username": "provider.user",
            "password": "provider-pass-1",
            "role": "contractor",
            "organization_id": provider["id"],
        },
    )
    return {
        "city": city,
        "district": district,
        "other_city": other_city,
        "other_district": other_district,
        "unit": unit,
        "provider": provider,
        "other_provider": other_provider,
        "staff": platform.client(platform.token("district.staff", "district-pass-1")),
        "contractor": platform.client(platform.token("provider.user", "provider-pass-1")),
    }


def written(platform):
    with connect(platform.database_urls["registry"]) as db, db.begin(write=False) as connection:
        return tuple(
            connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (organizations, status_changes, outbox)
        )


def expect(response, status, code):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return error


def test_each_bad_registration_is_refused_with_its_rule_and_nothing_is_written(
    platform, admin, tree
):
    before = written(platform)
    city, district, unit = tree["city"]["id"], tree["district"]["id"], tree["unit"]["id"]
    cases = [
        # (body, status, code, field or rule to find in details)
        (
            {"name": "x", "kind": "service_provider", "uscc": "91350100M000100Y44"},
            422,
            "INVALID_USCC",
            "check_character",
        ),
        (
            {"name": "x", "kind": "service_provider", "uscc": "9135O100M000100Y43"},
            422,
            "INVALID_USCC",
            "charset",
        ),
        (
            {"name": "x", "kind": "service_provider", "uscc": "913501"},
            422,
            "INVALID_USCC",
            "length",
        ),
        (
            {"name": "x", "kind": "federation", "level": "city", "parent_id": city},
            422,
            "INVALID_PARENT",
            "federation_one_level_up",
        ),
        (
            {"name": "x", "kind": "host_unit", "sector": "village", "parent_id": unit},
            422,
            "INVALID_PARENT",
            "host_unit_under_federation",
        ),
        (
            {"name": "x", "kind": "womens_organization", "parent_id": tree["provider"]["id"]},
            422,
            "INVALID_PARENT",
            "womens_organization_under_host_or_federation",
        ),
        (
            {
                "name": "x",
                "kind": "host_unit",
                "sector": "village",
                "parent_id": "6f1e0c2a-7a55-4e43-9b3e-2f6d6f0c9a01",
            },
            422,
            "INVALID_PARENT",
            "exists",
        ),
        ({"name": "x", "kind": "cooperative"}, 422, "VALIDATION_FAILED", "kind"),
        ({"name": "x", "kind": "federation", "level": "galaxy"}, 422, "VALIDATION_FAILED", "level"),
        (
            {"name": "x", "kind": "host_unit", "sector": "mining", "parent_id": district},
            422,
            "VALIDATION_FAILED",
            "sector",
        ),
        ({"kind": "federation", "level": "city"}, 422, "VALIDATION_FAILED", "name"),
        ({"name": "   ", "kind": "federation", "level": "city"}, 422, "VALIDATION_FAILED", "name"),
        (
            {"name": "x", "kind": "federation", "level": "city", "founded": 1949},
            422,
            "VALIDATION_FAILED",
            "founded",
        ),
        (
            {"name": "x", "kind": "host_unit", "parent_id": district},
            422,
            "VALIDATION_FAILED",
            "sector",
        ),
        ({"name": "x", "kind": "federation"}, 422, "VALIDATION_FAILED", "level"),
        (
            {"name": "x", "kind": "service_provider", "region_code": "33A100"},
            422,
            "VALIDATION_FAILED",
            "region_code",
        ),
    ]
    for body, status, code, where in cases:
        error = expect(admin.post("/organizations", body), status, code)
        assert where in str(error["details"]), (body, error)
    # the same with a malformed body, a wrong content type, a huge body
    expect(
        admin.post(
            "/organizations", data=b'{"name": "x",', headers={"Content-Type": "application/json"}
        ),
        400,
        "MALFORMED_JSON",
    )
    expect(
        admin.post(
            "/organizations",
            data=b"name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    expect(
        admin.post("/organizations", data=b"[1, 2]", headers={"Content-Type": "application/json"}),
        422,
        "VALIDATION_FAILED",
    )
    huge = {"name": "x", "kind": "service_provider", "contact": {"address": "很" * 600_000}}
    expect(admin.post("/organizations", huge), 413, "PAYLOAD_TOO_LARGE")
    assert written(platform) == before


def test_state_machine_violations_are_409_naming_the_current_state(platform, admin, tree):
    provider = tree["provider"]["id"]
    before = written(platform)
    error = expect(admin.post(f"/organizations/{provider}/reinstate"), 409, "INVALID_TRANSITION")
    assert error["details"]["current_status"] == "registered"
    assert "registered" in error["message"]
    expect(admin.post(f"/organizations/{provider}/suspend", {}), 409, "INVALID_TRANSITION")
    assert written(platform) == before

    assert admin.post(f"/organizations/{provider}/verify").status_code == 200
    error = expect(admin.post(f"/organizations/{provider}/suspend", {}), 422, "VALIDATION_FAILED")
    assert error["details"]["field"] == "reason"
    assert (
        admin.post(f"/organizations/{provider}/deregister", {"reason": "机构注销"}).json()["status"]
        == "deregistered"
    )
    error = expect(admin.post(f"/organizations/{provider}/reinstate"), 409, "INVALID_TRANSITION")
    assert error["details"]["current_status"] == "deregistered"
    expect(admin.patch(f"/organizations/{provider}", {"name": "新名字"}), 409, "INVALID_TRANSITION")
    first = admin.get(f"/organizations/{provider}/history", params={"limit": "2"}).json()
    rest = admin.get(
        f"/organizations/{provider}/history", params={"limit": "2", "cursor": first["next_cursor"]}
    ).json()
    actions = [c["action"] for c in first["items"] + rest["items"]]
    assert actions == ["register", "verify", "deregister"] and rest["next_cursor"] is None
    expect(
        admin.get(f"/organizations/{provider}/history", params={"limit": "x"}),
        422,
        "VALIDATION_FAILED",
    )
    # a federation with children cannot be deregistered
    error = expect(
        admin.post(f"/organizations/{tree['district']['id']}/deregister", {"reason": "合并"}),
        409,
        "HAS_ACTIVE_CHILDREN",
    )
    assert error["details"]["active_children"] == 1


def test_tokens_that_must_not_work(platform, tree):
    url = "/organizations"
    claims = {
        "iss": "jinguo",
        "sub": "a0000000-0000-4000-8000-000000000001",
        "name": "admin",
        "role": "admin",
        "iat": int(time.time()) - 7200,
        "exp": int(time.time()) - 3600,
    }
    expired = jwt.encode(claims, platform.jwt_secret, algorithm="HS256")
    forged = jwt.encode(
        {**claims, "exp": int(time.time()) + 3600}, "not-the-secret-" * 4, algorithm="HS256"
    )
    unsigned = jwt.encode({**claims, "exp": int(time.time()) + 3600}, None, algorithm="none")
    cases = [
        (None, "AUTHENTICATION_REQUIRED"),
        ("Basic YWRtaW46YWRtaW4=", "AUTHENTICATION_REQUIRED"),
        (f"Bearer {expired}", "TOKEN_EXPIRED"),
        (f"Bearer {forged}", "INVALID_TOKEN"),
        (f"Bearer {unsigned}", "INVALID_TOKEN"),
        ("Bearer not.a.token", "INVALID_TOKEN"),
    ]
    for header, code in cases:
        client = Client(platform.base_url, None)
        if header:
            client.session.headers["Authorization"] = header
        response = client.get(url)
        expect(response, 401, code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = Client(platform.base_url, None).post(
        "/auth/token", {"username": "admin", "password": "wrong-password"}
    )
    expect(wrong, 401, "INVALID_CREDENTIALS")
    nobody = Client(platform.base_url, None).post(
        "/auth/token", {"username": "nobody", "password": "whatever-1"}
    )
    expect(nobody, 401, "INVALID_CREDENTIALS")


def test_federation_staff_stay_in_their_subtree_and_contractors_on_their_own(platform, tree):
    staff, contractor = tree["staff"], tree["contractor"]
    before = written(platform)
    other = tree["other_district"]["id"]
    expect(staff.get(f"/organizations/{other}"), 403, "OUT_OF_SCOPE")
    expect(staff.get(f"/organizations/{other}/coverage"), 403, "OUT_OF_SCOPE")
    expect(
        staff.post(
            "/organizations",
            {"name": "越界", "kind": "host_unit", "sector": "village", "parent_id": other},
        ),
        403,
        "OUT_OF_SCOPE",
    )
    expect(staff.post(f"/organizations/{tree['other_provider']['id']}/verify"), 403, "OUT_OF_SCOPE")
    expect(
        staff.patch(f"/organizations/{tree['unit']['id']}", {"parent_id": other}),
        403,
        "OUT_OF_SCOPE",
    )
    expect(
        staff.post("/organizations", {"name": "顶级", "kind": "federation", "level": "city"}),
        403,
        "OUT_OF_SCOPE",
    )
    seen = {o["id"] for o in staff.get("/organizations", params={"limit": 500}).json()["items"]}
    assert seen == {tree["district"]["id"], tree["unit"]["id"]}

    assert contractor.get(f"/organizations/{tree['provider']['id']}").status_code == 200
    expect(
        contractor.get(f"/organizations/{tree['other_provider']['id']}"),
        404,
        "ORGANIZATION_NOT_FOUND",
    )
    expect(
        contractor.post("/organizations", {"name": "x", "kind": "service_provider"}),
        403,
        "ROLE_NOT_ALLOWED",
    )
    expect(
        contractor.post(
            "/users", {"username": "mallory", "password": "whatever-1", "role": "admin"}
        ),
        403,
        "ROLE_NOT_ALLOWED",
    )
    assert [o["id"] for o in contractor.get("/organizations").json()["items"]] == [
        tree["provider"]["id"]
    ]
    assert written(platform) == before


def test_users_get_roles_that_fit_their_organization(platform, admin, tree):
    cases = [
        (
            {"username": "user.x1", "password": "password-1", "role": "federation_staff"},
            "organization_id",
        ),
        (
            {
                "username": "user.x2",
                "password": "password-1",
                "role": "federation_staff",
                "organization_id": tree["provider"]["id"],
            },
            "organization_id",
        ),
        (
            {
                "username": "user.x3",
                "password": "password-1",
                "role": "contractor",
                "organization_id": tree["district"]["id"],
            },
            "organization_id",
        ),
        (
            {
                "username": "user.x4",
                "password": "password-1",
                "role": "finance_officer",
                "organization_id": tree["provider"]["id"],
            },
            "organization_id",
        ),
        (  # finance officers belong to a federation
            {"username": "user.x8", "password": "password-1", "role": "finance_officer"},
            "organization_id",
        ),
        ({"username": "user.x5", "password": "short", "role": "ops"}, "password"),
        ({"username": "user.x6", "password": "password-1", "role": "overlord"}, "role"),
        ({"username": "a b", "password": "password-1", "role": "ops"}, "username"),
        (
            {
                "username": "user.x7",
                "password": "password-1",
                "role": "contractor",
                "organization_id": "6f1e0c2a-7a55-4e43-9b3e-2f6d6f0c9a01",
            },
            "organization_id",
        ),
    ]
    for body, field in cases:
        error = expect(admin.post("/users", body), 422, "VALIDATION_FAILED")
        assert field in str(error["details"]), (body, error)
    admin.create(
        "/users",
        {
            "username": "finance.one",
            "password": "finance-pass-1",
            "role": "finance_officer",
            "organization_id": tree["district"]["id"],
        },
    )
    expect(
        admin.post(
            "/users", {"username": "finance.one", "password": "another-pass-1", "role": "ops"}
        ),
        409,
        "USERNAME_TAKEN",
    )
    listed = [u["username"] for u in admin.get("/users", params={"limit": 500}).json()["items"]]
    assert "finance.one" in listed and listed == sorted(listed)


def test_idempotency_key_returns_the_first_response_once(platform, admin):
    before = written(platform)
    body = {"name": "幂等社工", "kind": "service_provider"}
    headers = {"Idempotency-Key": "create-provider-42"}
    first = admin.post("/organizations", body, headers=headers)
    again = admin.post("/organizations", body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    expect(
        admin.post("/organizations", {**body, "name": "别的"}, headers=headers),
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert written(platform)[0] == before[0] + 1


def test_unknown_routes_and_methods_answer_in_the_error_body(platform, admin):
    expect(admin.get("/no/such/thing"), 404, "NOT_FOUND")
    response = admin.request("DELETE", "/organizations")
    expect(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]
    expect(admin.get("/organizations", params={"kind": "alien"}), 422, "VALIDATION_FAILED")
    expect(admin.get("/organizations", params={"limit": "9999"}), 422, "VALIDATION_FAILED")
    expect(admin.get("/organizations", params={"cursor": "garbage!"}), 422, "VALIDATION_FAILED")
    expect(admin.get("/organizations", params={"colour": "red"}), 422, "VALIDATION_FAILED")
    expect(
        admin.get("/organizations/6f1e0c2a-7a55-4e43-9b3e-2f6d6f0c9a01"),
        404,
        "ORGANIZATION_NOT_FOUND",
    )


def test_a_chunked_body_is_read_and_a_chunked_flood_is_413(platform, admin, tree):
    provider = admin.create("/organizations", {"name": "分块传输社工", "kind": "service_provider"})

    def chunks(*parts):
        yield from parts

    verified = admin.post(
        f"/organizations/{provider['id']}/verify",
        data=chunks(b"{}"),
        headers={"Content-Type": "application/json"},
    )
    assert verified.status_code == 200
    reason = '{"reason": "材料不全"}'.encode()
    suspended = admin.post(
        f"/organizations/{provider['id']}/suspend",
        data=chunks(reason[:5], reason[5:]),
        headers={"Content-Type": "application/json"},
    )
    assert suspended.status_code == 200, suspended.text
    history = admin.get(f"/organizations/{provider['id']}/history").json()["items"]
    assert history[-1]["reason"] == "材料不全"
    flood = chunks(*([b'{"reason": "'] + [b"x" * 65536] * 20 + [b'"}']))
    response = admin.post(
        f"/organizations/{provider['id']}/reinstate",
        data=flood,
        headers={"Content-Type": "application/json"},
    )
    expect(response, 413, "PAYLOAD_TOO_LARGE")
    assert admin.get(f"/organizations/{provider['id']}").json()["status"] == "suspended"
