"""The audit trail over HTTP (issue 17): each kind of act leaves exactly one record with who,
where from, what, the outcome and what changed; the auditor reads her federation's subtree
only; an admin reaches no audit route; nobody changes her own role."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.platform import Client
from tests.support.waiting import eventually

PASSWORD = "a long password 2026"


def _name(prefix):
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


#: the logs' heads anchored in each other within the tests' time (tests/e2e/conftest.py)
PLATFORM_ENV = {"AUDIT_ANCHOR_INTERVAL": "2"}


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


# --- each service's acts through the API: one record each --------------------------------

PHONE, ID_NUMBER = "13900139123", "110105198003120024"
#: an activity that began in the past and is still on (hours are logged for time served)
BEGAN = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
ENDS = BEGAN + timedelta(days=3)


def _ok(response, *statuses):
    assert response.status_code in (statuses or (200, 201)), response.text
    return response.json()


class Story:
    """Acts done through the gateway, each with its own request id, remembered by name: the
    log it should be recorded in, its action, object and who did it."""

    def __init__(self) -> None:
        self.acts: dict[str, dict] = {}

    def act(
        self, name, who, method, path, body, *, log, action, object_type, object_id=None, **more
    ):
        request_id = uuid.uuid4().hex
        answer = who["client"].request(
            method, path, json=body, headers={"X-Request-Id": request_id}
        )
        assert answer.status_code in (200, 201, 202), f"{name}: {answer.text}"
        out = answer.json() if "json" in answer.headers.get("Content-Type", "") else {}
        self.acts[name] = {
            "request_id": request_id,
            "user": who,
            "log": log,
            "action": action,
            "object_type": object_type,
            "object_id": object_id if object_id or not out else out["id"],
            **more,
        }
        return out


def _user(platform, admin, role, organization_id):
    username = _name(f"svc.{role}")
    created = admin.create(
        "/users",
        {
            "username": username,
            "password": PASSWORD,
            "role": role,
            "organization_id": organization_id,
        },
    )
    return {**created, "client": platform.client(platform.token(username, PASSWORD))}


def _registry_acts(story, world, platform, admin):
    federation = world["a"]["federation"]["id"]
    me = {**admin.get("/users/me").json(), "client": admin}
    provider = story.act(
        "register organization",
        me,
        "POST",
        "/organizations",
        {
            "name": f"审计社工{uuid.uuid4().hex[:6]}",
            "kind": "service_provider",
            "parent_id": federation,
        },
        log="registry",
        action="register_organization",
        object_type="organization",
    )
    story.act(
        "verify organization",
        me,
        "POST",
        f"/organizations/{provider['id']}/verify",
        None,
        log="registry",
        action="change_status",
        object_type="organization",
        object_id=provider["id"],
    )
    district = admin.create(
        "/organizations",
        {
            "name": f"审计区妇联{uuid.uuid4().hex[:6]}",
            "kind": "federation",
            "level": "county",
            "parent_id": federation,
        },
    )
    host = admin.create(
        "/organizations",
        {
            "name": f"审计企业{uuid.uuid4().hex[:6]}",
            "kind": "host_unit",
            "sector": "non_public_enterprise",
            "parent_id": district["id"],
        },
    )
    story.act(
        "rename organization",
        me,
        "PATCH",
        f"/organizations/{district['id']}",
        {"name": f"审计新区妇联{uuid.uuid4().hex[:6]}"},
        log="registry",
        action="update_organization",
        object_type="organization",
    )
    story.act(
        "move organization",
        me,
        "PATCH",
        f"/organizations/{host['id']}",
        {"parent_id": federation},
        log="registry",
        action="update_organization",
        object_type="organization",
    )
    return provider, host


def _money_acts(story, world, platform, admin, provider):
    federation = world["a"]["federation"]["id"]
    staff = world["a"]["federation_staff"]
    officer_a, officer_b = (_user(platform, admin, "finance_officer", federation) for _ in "ab")
    contractor = _user(platform, admin, "contractor", provider["id"])
    source = eventually(
        lambda: story.act(
            "create funding source",
            officer_a,
            "POST",
            "/funding-sources",
            {
                "name": "审计专项资金",
                "kind": "fiscal_special_fund",
                "owner_id": federation,
                "fiscal_year": 2027,
                "amount": 900_000,
            },
            log="funding",
            action="create_source",
            object_type="funding_source",
        )
    )
    project = eventually(
        lambda: _ok(
            staff["client"].post(
                "/projects",
                {
                    "title": "审计追踪项目",
                    "category": "family_education",
                    "model": "commissioned",
                    "funding_source_id": source["id"],
                    "budget": 600_000,
                    "starts_on": "2027-03-01",
                    "ends_on": "2027-12-31",
                    "target_beneficiaries": 50,
                },
            )
        )
    )
    story.act(
        "publish project",
        staff,
        "POST",
        f"/projects/{project['id']}/publish",
        None,
        log="projects",
        action="publish_project",
        object_type="project",
        object_id=project["id"],
    )
    application = eventually(
        lambda: _ok(
            contractor["client"].post(
                f"/projects/{project['id']}/applications",
                {"provider_id": provider["id"], "amount": 500_000, "proposal": "服务方案"},
            )
        )
    )
    contract = story.act(
        "award contract",
        staff,
        "POST",
        f"/projects/{project['id']}/award",
        {
            "application_id": application["id"],
            "milestones": [
                {"title": "第一阶段", "due_on": "2027-06-30", "amount": 200_000},
                {"title": "第二阶段", "due_on": "2027-11-30", "amount": 300_000},
            ],
        },
        log="projects",
        action="award_contract",
        object_type="contract",
    )
    first, second = (m["id"] for m in contract["milestones"])
    for milestone, verdict, body in (
        (first, "accept", None),
        (second, "reject", {"reason": "材料不全"}),
    ):
        path = f"/contracts/{contract['id']}/milestones/{milestone}"
        # the report is the object reported; a decision answers with (and is filed under)
        # the contract, the milestone's and the report's changes named by their ids
        story.act(
            f"report milestone {verdict}",
            contractor,
            "POST",
            f"{path}/reports",
            {"summary": "完成", "beneficiaries_served": 10},
            log="projects",
            action="report_milestone",
            object_type="milestone_report",
            milestone=milestone,
        )
        story.act(
            f"{verdict} milestone",
            staff,
            "POST",
            f"{path}/{verdict}",
            body,
            log="projects",
            action=f"{verdict}_milestone",
            object_type="contract",
            object_id=contract["id"],
            milestone=milestone,
        )

    def pending():
        queue = _ok(officer_a["client"].get("/disbursements", params={"status": "pending"}))
        (found,) = [d for d in queue["items"] if d["milestone_id"] == first]
        return found

    disbursement = eventually(pending)["id"]
    story.act(
        "approve disbursement",
        officer_a,
        "POST",
        f"/disbursements/{disbursement}/approve",
        None,
        log="funding",
        action="approve_disbursement",
        object_type="disbursement",
    )
    story.act(
        "pay disbursement",
        officer_b,
        "POST",
        f"/disbursements/{disbursement}/pay",
        {"payment_reference": f"AUD-{uuid.uuid4().hex[:8]}"},
        log="funding",
        action="pay_disbursement",
        object_type="disbursement",
    )


def _volunteer_acts(story, world, platform, admin, host):
    staff = world["a"]["federation_staff"]
    leader = _user(platform, admin, "team_leader", None)
    me = {**admin.get("/users/me").json(), "client": admin}
    team = eventually(
        lambda: _ok(
            staff["client"].post(
                "/teams",
                {
                    "name": f"审计志愿服务队{uuid.uuid4().hex[:6]}",
                    "theme": "legal_aid",
                    "host_id": host["id"],
                    "leader_user_id": leader["id"],
                },
            )
        )
    )
    volunteer = story.act(
        "register volunteer",
        staff,
        "POST",
        "/volunteers",
        {
            "name": "审计志愿者",
            "phone": PHONE,
            "id_number": ID_NUMBER,
            "consented_on": "2026-03-01",
            "team_id": team["id"],
        },
        log="volunteers",
        action="register_volunteer",
        object_type="volunteer",
    )
    story.act(
        "read personal data in clear",
        me,
        "GET",
        f"/volunteers/{volunteer['id']}?unmasked=true&reason=%E6%A0%B8%E5%AE%9E",
        None,
        log="volunteers",
        action="read_personal_data",
        object_type="volunteer",
        object_id=volunteer["id"],
    )
    activity = _ok(
        leader["client"].post(
            "/activities",
            {
                "title": "审计普法讲座",
                "team_id": team["id"],
                "starts_at": BEGAN.isoformat(),
                "ends_at": ENDS.isoformat(),
                "capacity": 3,
            },
        )
    )
    _ok(
        leader["client"].post(
            f"/activities/{activity['id']}/enrolments", {"volunteer_id": volunteer["id"]}
        )
    )
    hours = _ok(
        leader["client"].post(
            "/service-hours",
            {
                "volunteer_id": volunteer["id"],
                "activity_id": activity["id"],
                "started_at": BEGAN.isoformat(),
                "ended_at": (BEGAN + timedelta(hours=2)).isoformat(),
            },
        )
    )
    story.act(
        "verify hours",
        staff,
        "POST",
        f"/service-hours/{hours['id']}/verify",
        None,
        log="volunteers",
        action="verify_hours",
        object_type="service_hours",
        object_id=hours["id"],
    )


def _export_acts(story, world):
    """A report by volunteer is a file of their names: its export leaves one record (in the
    gateway's log, which streams it); a report by team leaves none."""
    staff = world["a"]["federation_staff"]
    story.act(
        "export personal data",
        staff,
        "GET",
        "/reports/hours.csv?group_by=volunteer",
        None,
        log="gateway",
        action="export_personal_data",
        object_type="hours_report",
        object_id=None,
    )
    by_team = staff["client"].get("/reports/hours.csv", params={"group_by": "team"})
    assert by_team.status_code == 200 and "审计志愿者," not in by_team.text
    story.not_recorded = [uuid.uuid4().hex]
    answer = staff["client"].get(
        "/reports/hours.xlsx",
        params={"group_by": "team"},
        headers={"X-Request-Id": story.not_recorded[0]},
    )
    assert answer.status_code == 200


@pytest.fixture(scope="module")
def story(platform, admin, world):
    """The services' acts, done once through the API by people of federation a."""
    told = Story()
    provider, host = _registry_acts(told, world, platform, admin)
    _money_acts(told, world, platform, admin, provider)
    _volunteer_acts(told, world, platform, admin, host)
    _export_acts(told, world)
    return told


#: what each act changed (field: (before, after)); None: not checked beyond being there
CHANGED = {
    "register organization": {"status": (None, "registered")},
    "verify organization": {"status": ("registered", "verified")},
    "rename organization": {"name": None},
    "move organization": {"parent_id": None},
    "create funding source": {"amount": (None, 900_000)},
    "publish project": {"status": ("draft", "published")},
    "award contract": {"amount": (None, 500_000)},
    "report milestone accept": {"milestone:{milestone}.status": ("pending", "reported")},
    "accept milestone": {"milestone:{milestone}.status": ("reported", "accepted")},
    "report milestone reject": {"milestone:{milestone}.status": ("pending", "reported")},
    "reject milestone": {"milestone:{milestone}.status": ("reported", "rejected")},
    "approve disbursement": {"status": ("pending", "approved")},
    "pay disbursement": {"status": ("approved", "paid")},
    # personal data masked: the name, the phone and ID number (their ciphers and hashes)
    "register volunteer": {
        "name": (None, "***"),
        "phone_cipher": (None, "***"),
        "phone_hash": (None, "***"),
        "id_number_cipher": (None, "***"),
    },
    "read personal data in clear": {"fields": (None, "phone,id_number"), "reason": (None, "核实")},
    "verify hours": {"status": ("pending", "verified")},
    "export personal data": {
        "file": (None, "jinguo-hours-by-volunteer.csv"),
        "group_by": (None, "volunteer"),
    },
}


@pytest.mark.parametrize("name", list(CHANGED))
def test_each_act_of_a_service_leaves_one_record_with_who_where_what(story, world, name):
    act = story.acts[name]
    found = _records(world["a"]["auditor"]["client"], log=act["log"], action=act["action"])
    mine = [r for r in found if r["request_id"] == act["request_id"]]
    assert len(mine) == 1, found
    assert mine[0]["object_id"] == act["object_id"]
    (record,) = mine
    user = act["user"]
    assert (record["user_id"], record["username"], record["role"]) == (
        user["id"],
        user["username"],
        user["role"],
    )
    assert record["organization_id"] == user.get("organization_id")
    assert record["client_address"] == "127.0.0.1"
    assert (record["object_type"], record["outcome"]) == (act["object_type"], "ok")
    changes = _changes(record)
    for field, expected in CHANGED[name].items():
        field = field.format(**act)
        assert field in changes, changes
        if expected is not None:
            assert changes[field] == expected, (field, changes[field])
    assert PHONE not in str(record) and ID_NUMBER not in str(record)
    assert "审计志愿者" not in str(record)  # the volunteer's name neither


def test_a_report_by_team_is_no_export_of_personal_data(story, world):
    exported = _records(world["a"]["auditor"]["client"], action="export_personal_data")
    assert story.not_recorded[0] not in {r["request_id"] for r in exported}
    assert len(exported) == 1


def test_the_gateway_log_is_anchored_in_the_projects_chain(world):
    """The gateway's keeper sends its head to projects; the anchor is platform-wide, read by
    the auditor of a federation at the top (in the services' logs as in the gateway's)."""
    auditor = world["a"]["auditor"]["client"]
    head = _records(auditor, log="gateway")[0]["seq"]

    def anchored():
        found = _records(auditor, log="projects", action="audit_anchor", object_id="gateway")
        assert found and _changes(found[0])["seq"][1] >= head, found
        return found[0]

    anchor = eventually(anchored, timeout=30)
    assert anchor["scope_path"] is None and anchor["username"] == "system"
    chains = {c["log"]: c for c in auditor.get("/audit/chains").json()["items"]}
    assert chains["projects"]["ok"] is True and chains["gateway"]["ok"] is True


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


def test_an_admin_cannot_make_herself_an_auditor(platform, world, admin):
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


def test_an_auditor_below_the_top_reads_no_platform_wide_record(platform, admin, world):
    """One rule in every log: only the auditor of a federation at the top reads records
    without a line (an anonymous refusal in the gateway's, the anchors in the services')."""
    district = admin.create(
        "/organizations",
        {
            "name": f"审计下级妇联{uuid.uuid4().hex[:6]}",
            "kind": "federation",
            "level": "county",
            "parent_id": world["a"]["federation"]["id"],
        },
    )
    below = _user(platform, admin, "auditor", district["id"])["client"]
    assert platform.client().get("/projects").status_code == 401
    top = world["a"]["auditor"]["client"]
    assert _records(top, log="gateway", action="request_refused", outcome="denied")
    assert eventually(lambda: _records(top, log="projects", action="audit_anchor"))

    def nothing_platform_wide():
        for log in ("gateway", "registry", "projects", "funding", "volunteers"):
            found = _records(below, log=log)
            assert all(r["scope_path"] for r in found), (log, found)
        return True

    assert eventually(nothing_platform_wide)
    assert not _records(below, log="projects", action="audit_anchor")
