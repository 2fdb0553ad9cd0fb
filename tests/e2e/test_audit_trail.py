"""The audit trail over HTTP (issue 17): each kind of act leaves exactly one record with who,
where from, what, the outcome and what changed; the auditor reads her federation's subtree
only; an admin reaches no audit route; nobody changes her own role."""

import uuid

import pytest

from tests.support.platform import Client

PASSWORD = "a long password 2026"


def _name(prefix):
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def world(platform, admin):
    """Two federations, each with an auditor and a staff member."""
    out = {}
    for key in ("a", "b"):
        federation = admin.create(
            "/organizations",
            {
                "name": f"审计测试妇联{key}{uuid.uuid4().hex[:6]}",
                "kind": "federation",
                "level": "city",
            },
        )
        users = {}
        for role in ("auditor", "federation_staff"):
            username = _name(f"{key}.{role}")
            created = admin.create(
                "/users",
                {
                    "username": username,
                    "password": PASSWORD,
                    "role": role,
                    "organization_id": federation["id"],
                },
            )
            users[role] = {**created, "client": platform.client(platform.token(username, PASSWORD))}
        out[key] = {"federation": federation, **users}
    return out


def _records(auditor: Client, **filters):
    answer = auditor.get("/audit/records", params={"limit": 200, **filters})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def _one(auditor, **filters):
    found = _records(auditor, **filters)
    assert len(found) == 1, found
    return found[0]


def _changes(record):
    return {c["field"]: (c["before"], c["after"]) for c in record["changes"]}


def test_a_login_leaves_one_record_with_who_and_where_from(platform, world):
    staff = world["a"]["federation_staff"]
    request_id = uuid.uuid4().hex
    answer = platform.client().post(
        "/auth/token",
        json={"username": staff["username"], "password": PASSWORD},
        headers={"X-Request-Id": request_id},
    )
    assert answer.status_code == 200
    found = _records(
        world["a"]["auditor"]["client"], action="login", username=staff["username"], outcome="ok"
    )
    (record,) = [r for r in found if r["request_id"] == request_id]
    assert record["log"] == "gateway"
    assert record["user_id"] == staff["id"] and record["role"] == "federation_staff"
    assert record["organization_id"] == world["a"]["federation"]["id"]
    assert record["client_address"] == "127.0.0.1" and record["request_id"] == request_id
    assert record["object_type"] == "user" and record["object_id"] == staff["id"]


def test_a_failed_login_records_the_username_tried_and_never_the_password(platform, world):
    staff = world["a"]["federation_staff"]
    wrong = "not the password 123"
    answer = platform.client().post(
        "/auth/token", json={"username": staff["username"], "password": wrong}
    )
    assert answer.status_code == 401
    record = _one(
        world["a"]["auditor"]["client"],
        action="login",
        username=staff["username"],
        outcome="failed",
    )
    assert _changes(record) == {"reason": (None, "wrong_password")}
    assert wrong not in str(record)
    # not once more as a refused request
    assert not _records(
        world["a"]["auditor"]["client"], action="request_refused", username=staff["username"]
    )


def test_five_failures_lock_the_username_in_one_record(platform, world, admin):
    username = _name("a.locked")
    admin.create(
        "/users",
        {
            "username": username,
            "password": PASSWORD,
            "role": "federation_staff",
            "organization_id": world["a"]["federation"]["id"],
        },
    )
    for _ in range(5):
        platform.client().post(
            "/auth/token", json={"username": username, "password": "wrong password 1"}
        )
    auditor = world["a"]["auditor"]["client"]
    lock = _one(auditor, action="login_locked", object_id=username)
    assert lock["object_type"] == "username" and lock["outcome"] == "ok"
    assert len(_records(auditor, action="login", username=username, outcome="failed")) == 5
    refused = platform.client().post(
        "/auth/token", json={"username": username, "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert (
        _one(auditor, action="login", username=username, outcome="denied")["changes"][0]["after"]
        == "throttled"
    )


def test_a_password_change_is_recorded_without_the_password(platform, world):
    username = world["b"]["federation_staff"]["username"]
    client = world["b"]["federation_staff"]["client"]
    new = "another long password 77"
    answer = client.post("/users/me/password", json={"old_password": PASSWORD, "new_password": new})
    assert answer.status_code == 200, answer.text
    record = _one(world["b"]["auditor"]["client"], action="password_changed", username=username)
    assert _changes(record)["password"] == ("***", "***")
    assert new not in str(record) and PASSWORD not in str(record)
    world["b"]["federation_staff"]["client"] = platform.client(answer.json()["access_token"])


def test_a_role_change_records_before_and_after_and_the_ended_sessions(platform, world, admin):
    username = _name("a.promoted")
    user = admin.create(
        "/users",
        {
            "username": username,
            "password": PASSWORD,
            "role": "federation_staff",
            "organization_id": world["a"]["federation"]["id"],
        },
    )
    auditor = world["a"]["auditor"]["client"]
    created = _one(auditor, action="user_created", object_id=user["id"])
    assert _changes(created)["role"] == (None, "federation_staff")
    answer = admin.patch(f"/users/{user['id']}", json={"role": "finance_officer"})
    assert answer.status_code == 200, answer.text
    record = _one(auditor, action="user_changed", object_id=user["id"])
    assert record["username"] == "admin" and record["role"] == "admin"
    changes = _changes(record)
    assert changes["role"] == ("federation_staff", "finance_officer")
    assert changes["token_version"][1] == changes["token_version"][0] + 1


def test_an_admin_cannot_change_her_own_role_and_the_refusal_is_recorded(platform, world, admin):
    me = admin.get("/users/me").json()
    answer = admin.patch(f"/users/{me['id']}", json={"role": "auditor"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "OWN_ACCOUNT"
    assert admin.get("/users/me").json()["role"] == "admin"


def test_a_401_and_a_403_each_leave_one_record(platform, world):
    staff = world["a"]["federation_staff"]
    request_id = uuid.uuid4().hex
    forbidden = staff["client"].get("/audit/records", headers={"X-Request-Id": request_id})
    assert forbidden.status_code == 403
    auditor = world["a"]["auditor"]["client"]
    found = [
        r
        for r in _records(auditor, action="request_refused", username=staff["username"])
        if r["request_id"] == request_id
    ]
    assert len(found) == 1
    record = found[0]
    assert record["outcome"] == "denied" and record["object_id"] == "GET /api/v1/audit/records"
    assert _changes(record) == {"status": (None, 403), "reason": (None, "ROLE_NOT_ALLOWED")}
    anonymous_id = uuid.uuid4().hex
    assert (
        platform.client().get("/projects", headers={"X-Request-Id": anonymous_id}).status_code
        == 401
    )
    # nobody signed in: platform-wide, read by the auditor of a federation at the top
    found = [
        r for r in _records(auditor, action="request_refused") if r["request_id"] == anonymous_id
    ]
    assert len(found) == 1 and found[0]["user_id"] is None
    assert _changes(found[0])["reason"] == (None, "AUTHENTICATION_REQUIRED")


def test_the_auditor_sees_her_subtree_only(platform, world):
    b_staff = world["b"]["federation_staff"]["username"]
    assert _records(world["b"]["auditor"]["client"], username=b_staff)
    assert not _records(world["a"]["auditor"]["client"], username=b_staff)


def test_an_admin_gets_403_on_every_audit_route(admin):
    for path in (
        "/audit/records",
        "/audit/records.csv",
        "/audit/chains",
        "/audit/records/gateway/1",
    ):
        answer = admin.get(path)
        assert answer.status_code == 403, path
        assert answer.json()["error"]["code"] == "ROLE_NOT_ALLOWED"


def test_the_chains_verify_and_a_record_reads_back_alone(world):
    auditor = world["a"]["auditor"]["client"]
    chains = auditor.get("/audit/chains").json()["items"]
    gateway = next(c for c in chains if c["log"] == "gateway")
    assert gateway["ok"] is True and gateway["records"] > 0
    record = _records(auditor, log="gateway")[0]
    one = auditor.get(f"/audit/records/gateway/{record['seq']}")
    assert one.status_code == 200 and one.json()["record_id"] == record["record_id"]


def test_the_csv_has_chinese_headers_and_its_export_is_recorded(world):
    auditor = world["a"]["auditor"]["client"]
    answer = auditor.get("/audit/records.csv", params={"log": "gateway", "action": "login"})
    assert answer.status_code == 200
    text = answer.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("时间（UTC）,日志,序号,用户名")
    assert "login" in text
    assert _records(auditor, action="audit_exported", username=world["a"]["auditor"]["username"])
