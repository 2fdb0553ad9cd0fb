"""A purchased-service project from drafting to close, over HTTP with every process running.

Provider status reaches the projects service the real way: staff verify and suspend providers
in the registry, and the registry's events change what projects allows.
"""

import pytest
import requests

from projects.ocds import load_schema_validator
from tests.conftest import free_port
from tests.support.platform import Client
from tests.support.waiting import eventually

CITY_USCC = "91350100M000100Y43"


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code, response.text
    return response.json()


@pytest.fixture(scope="module")
def people(platform, admin):
    city = admin.create(
        "/organizations",
        {"name": "福州市妇女联合会", "kind": "federation", "level": "city", "uscc": CITY_USCC},
    )
    district = admin.create(
        "/organizations",
        {"name": "鼓楼区妇联", "kind": "federation", "level": "county", "parent_id": city["id"]},
    )
    admin.create(
        "/users",
        {
            "username": "fz.staff",
            "password": "fz-staff-pass",
            "role": "federation_staff",
            "organization_id": city["id"],
        },
    )
    staff = platform.client(platform.token("fz.staff", "fz-staff-pass"))
    sunshine = staff.create(
        "/organizations",
        {
            "name": "阳光社工事务所",
            "kind": "service_provider",
            "parent_id": city["id"],
            "uscc": "91440300708461136T",
        },
    )
    spring = staff.create(
        "/organizations",
        {"name": "春晖社工服务中心", "kind": "service_provider", "parent_id": city["id"]},
    )
    expect(staff.post(f"/organizations/{sunshine['id']}/verify"), 200)
    for name, org in (("sunshine.user", sunshine), ("spring.user", spring)):
        admin.create(
            "/users",
            {
                "username": name,
                "password": f"{name}-pass",
                "role": "contractor",
                "organization_id": org["id"],
            },
        )
    # the city's money: a project may draw only on its purchaser's source (or one above it)
    source = eventually(
        lambda: expect(
            admin.post(
                "/funding-sources",
                {
                    "name": "2027年春蕾计划专项资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": city["id"],
                    "fiscal_year": 2027,
                    "amount": 100_000_000,
                },
            ),
            202,
        )
    )
    # at the threshold the initial amount waits for a finance officer of the city to confirm
    admin.create(
        "/users",
        {
            "username": "fz.officer",
            "password": "fz-officer-pass",
            "role": "finance_officer",
            "organization_id": city["id"],
        },
    )
    officer = platform.client(platform.token("fz.officer", "fz-officer-pass"))
    expect(officer.post(f"/source-adjustments/{source['pending_adjustment']['id']}/confirm"), 200)
    PROJECT["funding_source_id"] = source["id"]
    return {
        "city": city,
        "district": district,
        "staff": staff,
        "sunshine": sunshine,
        "spring": spring,
        "sunshine_user": platform.client(platform.token("sunshine.user", "sunshine.user-pass")),
        "spring_user": platform.client(platform.token("spring.user", "spring.user-pass")),
    }


PROJECT = {
    "title": "春蕾计划·女童助学项目",
    "category": "spring_bud_girls_schooling",
    "model": "commissioned",
    "funding_source_id": None,  # the city's source, created by the people fixture
    "budget": 50_000_000,
    "starts_on": "2027-02-01",
    "ends_on": "2027-11-30",
    "target_beneficiaries": 120,
    "indicators": [
        {"name": "资助女童人数", "target": 120, "unit": "人"},
        {"name": "家访次数", "target": 240, "unit": "次"},
    ],
}


def test_a_project_from_draft_to_close(platform, people):
    staff, sunshine_user, spring_user = (
        people["staff"],
        people["sunshine_user"],
        people["spring_user"],
    )
    sunshine, spring = people["sunshine"]["id"], people["spring"]["id"]

    # the registry's news reaches projects a moment later: drafting waits for the city
    project = eventually(lambda: expect(staff.post("/projects", PROJECT), 201))
    assert project["purchaser_id"] == people["city"]["id"] and project["status"] == "draft"
    pid = project["id"]
    assert (
        expect(staff.patch(f"/projects/{pid}", {"target_beneficiaries": 150}), 200)[
            "target_beneficiaries"
        ]
        == 150
    )
    expect(sunshine_user.get(f"/projects/{pid}"), 404, "PROJECT_NOT_FOUND")  # drafts are not public
    expect(staff.post(f"/projects/{pid}/publish"), 200)
    error = expect(staff.patch(f"/projects/{pid}", {"budget": 1}), 409, "INVALID_TRANSITION")
    assert error["error"]["details"]["current_status"] == "published"

    # an unverified provider cannot apply; verified in the registry, it can
    application = {"provider_id": spring, "amount": 45_000_000, "proposal": "入户走访与助学金发放"}
    error = expect(
        spring_user.post(f"/projects/{pid}/applications", application), 409, "PROVIDER_NOT_ELIGIBLE"
    )
    assert error["error"]["details"]["provider_status"] == "registered"
    expect(staff.post(f"/organizations/{spring}/verify"), 200)
    eventually(lambda: expect(spring_user.post(f"/projects/{pid}/applications", application), 201))
    chosen = expect(
        sunshine_user.post(
            f"/projects/{pid}/applications",
            {"provider_id": sunshine, "amount": 48_000_000, "proposal": "助学+心理陪伴"},
        ),
        201,
    )
    expect(
        sunshine_user.post(
            f"/projects/{pid}/applications",
            {"provider_id": sunshine, "amount": 1, "proposal": "再来"},
        ),
        409,
        "DUPLICATE_APPLICATION",
    )
    expect(
        sunshine_user.post(
            f"/projects/{pid}/applications",
            {"provider_id": spring, "amount": 1, "proposal": "冒名"},
        ),
        403,
        "OUT_OF_SCOPE",
    )
    assert len(expect(staff.get(f"/projects/{pid}/applications"), 200)["items"]) == 2
    assert [
        a["provider_id"]
        for a in expect(sunshine_user.get(f"/projects/{pid}/applications"), 200)["items"]
    ] == [sunshine]

    # the award: tranches must add up, dates inside the period
    plan = [
        {
            "title": "摸底建档",
            "deliverables": "150名女童档案",
            "due_on": "2027-03-31",
            "amount": 8_000_000,
        },
        {
            "title": "助学金发放",
            "deliverables": "发放记录",
            "due_on": "2027-09-10",
            "amount": 30_000_000,
        },
        {
            "title": "回访总结",
            "deliverables": "结项报告",
            "due_on": "2027-11-20",
            "amount": 10_000_000,
        },
    ]
    award = {"application_id": chosen["id"], "milestones": plan[:2]}
    error = expect(staff.post(f"/projects/{pid}/award", award), 422, "VALIDATION_FAILED")
    assert error["error"]["details"]["rule"] == "tranches_add_up"
    contract = expect(staff.post(f"/projects/{pid}/award", {**award, "milestones": plan}), 201)
    cid, milestones = contract["id"], contract["milestones"]
    assert contract["contractor_id"] == sunshine and contract["amount"] == 48_000_000
    expect(
        staff.post(f"/projects/{pid}/award", {**award, "milestones": plan}),
        409,
        "INVALID_TRANSITION",
    )

    # only the contractor sees and reports on its contract
    expect(spring_user.get(f"/contracts/{cid}"), 404, "CONTRACT_NOT_FOUND")
    expect(
        spring_user.post(
            f"/contracts/{cid}/milestones/{milestones[0]['id']}/reports",
            {"summary": "冒名", "beneficiaries_served": 1},
        ),
        404,
        "CONTRACT_NOT_FOUND",
    )
    assert expect(spring_user.get("/contracts"), 200)["items"] == []
    report = {
        "summary": "完成150名女童建档",
        "beneficiaries_served": 150,
        "evidence": [
            {"name": "档案.zip", "type": "archive", "url": "https://files.example.org/a.zip"}
        ],
        "indicator_values": {"家访次数": 150},
    }
    expect(
        sunshine_user.post(f"/contracts/{cid}/milestones/{milestones[0]['id']}/reports", report),
        201,
    )
    expect(
        staff.post(f"/contracts/{cid}/milestones/{milestones[0]['id']}/reject"),
        422,
        "VALIDATION_FAILED",
    )
    shown = expect(staff.post(f"/contracts/{cid}/milestones/{milestones[0]['id']}/accept"), 200)
    assert shown["milestones"][0]["status"] == "accepted"
    expect(
        sunshine_user.post(f"/contracts/{cid}/milestones/{milestones[0]['id']}/reports", report),
        409,
        "INVALID_TRANSITION",
    )

    # the registry suspends the contractor: its contract takes no reports until reinstated
    expect(staff.post(f"/organizations/{sunshine}/suspend", {"reason": "投诉调查中"}), 200)

    def contract_status(status):
        assert expect(staff.get(f"/contracts/{cid}"), 200)["status"] == status

    eventually(lambda: contract_status("suspended"))
    second = {
        "summary": "发放助学金",
        "beneficiaries_served": 0,
        "indicator_values": {"家访次数": 90},
    }
    error = expect(
        sunshine_user.post(f"/contracts/{cid}/milestones/{milestones[1]['id']}/reports", second),
        409,
        "INVALID_TRANSITION",
    )
    assert error["error"]["details"]["current_status"] == "suspended"
    expect(staff.post(f"/organizations/{sunshine}/reinstate", {"reason": "调查结束"}), 200)
    eventually(
        lambda: expect(
            sunshine_user.post(
                f"/contracts/{cid}/milestones/{milestones[1]['id']}/reports", second
            ),
            201,
        )
    )
    expect(staff.post(f"/contracts/{cid}/milestones/{milestones[1]['id']}/accept"), 200)
    expect(
        sunshine_user.post(
            f"/contracts/{cid}/milestones/{milestones[2]['id']}/reports",
            {"summary": "回访", "beneficiaries_served": 0},
        ),
        201,
    )
    done = expect(staff.post(f"/contracts/{cid}/milestones/{milestones[2]['id']}/accept"), 200)
    assert done["status"] == "completed"

    # evaluation, close, and what it delivered
    evaluation = {
        "scores": [
            {"indicator": "资助女童人数", "score": 95, "weight": 70},
            {"indicator": "家访次数", "score": 80, "weight": 30},
        ],
        "evaluator": "福建省社会工作评估中心",
        "evaluated_on": "2027-11-28",
    }
    expect(staff.post(f"/projects/{pid}/close"), 409, "INVALID_TRANSITION")
    evaluated = expect(staff.post(f"/projects/{pid}/evaluation", evaluation), 201)
    assert evaluated["evaluation"]["overall"] == 90.5
    expect(staff.post(f"/projects/{pid}/close"), 200)
    delivery = expect(staff.get(f"/projects/{pid}/delivery"), 200)
    assert delivery["beneficiaries"] == {"target": 150, "served": 150}
    visits = next(i for i in delivery["indicators"] if i["name"] == "家访次数")
    assert (visits["target"], visits["actual"], visits["score"]) == (240, 240, 80)
    assert delivery["milestones"]["accepted"] == 3 and delivery["money"]["contracted"] == 48_000_000

    # the contracting process as OCDS, valid against the 1.1.5 schema
    package = expect(sunshine_user.get(f"/projects/{pid}/ocds"), 200)
    errors = sorted(load_schema_validator().iter_errors(package), key=str)
    assert not errors, [e.message for e in errors[:5]]
    release = package["releases"][0]
    assert release["ocid"].endswith(pid)
    buyer = next(p for p in release["parties"] if p["id"] == people["city"]["id"])
    assert "buyer" in buyer["roles"] and buyer["identifier"]["id"] == CITY_USCC
    supplier = next(p for p in release["parties"] if p["id"] == sunshine)
    assert {"supplier", "tenderer", "payee"} <= set(supplier["roles"])
    assert release["awards"][0]["value"] == {"amount": 480000.0, "currency": "CNY"}
    assert [m["status"] for m in release["contracts"][0]["milestones"]] == ["met", "met", "met"]


def test_contractors_list_only_what_is_theirs_or_public(platform, people):
    staff, sunshine_user = people["staff"], people["sunshine_user"]
    draft = eventually(
        lambda: expect(staff.post("/projects", {**PROJECT, "title": "内部草稿"}), 201)
    )
    visible = {
        p["id"] for p in expect(sunshine_user.get("/projects", params={"limit": 500}), 200)["items"]
    }
    assert draft["id"] not in visible
    staff_view = {
        p["id"] for p in expect(staff.get("/projects", params={"limit": 500}), 200)["items"]
    }
    assert draft["id"] in staff_view
    found = expect(staff.get("/projects", params={"q": "春蕾計劃"}), 200)[
        "items"
    ]  # traditional query
    assert found and all("春蕾计划" in p["title"] for p in found)


@pytest.fixture(scope="module")
def second_gateway(platform):
    """Another gateway process on its own port, as a scaled-out deployment runs them."""
    port = free_port()
    platform.service(
        "gateway-2",
        "gateway/config.yaml",
        "gateway.service:GatewayService",
        GATEWAY_HTTP_ADDRESS=f"127.0.0.1:{port}",
    )
    base_url = f"http://127.0.0.1:{port}/api/v1"

    def up():
        try:
            assert requests.get(f"{base_url}/health", timeout=5).status_code == 200
        except requests.RequestException as exc:
            raise AssertionError(str(exc)) from None

    eventually(up, timeout=40)
    return base_url


def cache_hits(base_url):
    text = requests.get(base_url.replace("/api/v1", "/metrics"), timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("jinguo_gateway_cache_lookups_total{") and 'result="hit"' in line
    )


def test_a_gateway_serves_published_projects_from_memory_and_hears_every_change(
    platform, people, second_gateway
):
    """Gateway 2 caches a published project; a change made through gateway 1 reaches it by
    the projects service's change notice (the cache's time to live is an hour here)."""
    staff = people["staff"]
    other = Client(second_gateway, staff.session.headers["Authorization"].split()[1])
    project = expect(staff.post("/projects", {**PROJECT, "title": "缓存-一"}), 201)
    pid = project["id"]
    expect(staff.post(f"/projects/{pid}/publish"), 200)

    first = expect(other.get(f"/projects/{pid}"), 200)

    def served_from_memory():
        hits = cache_hits(second_gateway)
        assert expect(other.get(f"/projects/{pid}"), 200) == first
        assert cache_hits(second_gateway) == hits + 1

    eventually(served_from_memory, timeout=10)

    expect(staff.post(f"/projects/{pid}/cancel", {"reason": "资金调整"}), 200)

    def cancelled_on_the_other_gateway():
        shown = expect(other.get(f"/projects/{pid}"), 200)
        assert (shown["status"], shown["cancel_reason"]) == ("cancelled", "资金调整")
        assert shown["version"] > first["version"]

    eventually(cancelled_on_the_other_gateway, timeout=10)


def test_a_write_through_a_gateway_is_read_back_at_once_through_it(platform, people):
    staff = people["staff"]
    project = expect(staff.post("/projects", {**PROJECT, "title": "缓存-二"}), 201)
    pid = project["id"]
    expect(staff.post(f"/projects/{pid}/publish"), 200)
    assert expect(staff.get(f"/projects/{pid}"), 200)["status"] == "published"  # now cached
    expect(staff.post(f"/projects/{pid}/cancel", {"reason": "需求变化"}), 200)
    # no waiting: the gateway dropped its copy when the write came back
    assert expect(staff.get(f"/projects/{pid}"), 200)["status"] == "cancelled"


def test_drafts_are_never_served_from_a_cache_to_someone_who_may_not_see_them(platform, people):
    staff, contractor = people["staff"], people["sunshine_user"]
    draft = expect(staff.post("/projects", {**PROJECT, "title": "缓存-草稿"}), 201)
    for _ in range(2):
        assert expect(staff.get(f"/projects/{draft['id']}"), 200)["status"] == "draft"
    expect(contractor.get(f"/projects/{draft['id']}"), 404, "PROJECT_NOT_FOUND")
    published = expect(staff.post(f"/projects/{draft['id']}/publish"), 200)
    # once published it is everybody's to read, from the cache too
    assert expect(contractor.get(f"/projects/{draft['id']}"), 200) == published


def test_an_unchanged_project_is_not_sent_again(platform, people):
    """Conditional reads: the ETag is the project's version; If-None-Match with it is a 304
    until the project changes (drafts, uncached, and published ones, cached, alike)."""
    staff = people["staff"]
    draft = expect(staff.post("/projects", {**PROJECT, "title": "条件读取"}), 201)
    pid = draft["id"]
    for _ in range(2):  # a draft, then the same project published
        first = staff.get(f"/projects/{pid}")
        etag = first.headers["ETag"]
        assert first.status_code == 200 and etag == f'"{first.json()["version"]}"'
        again = staff.get(f"/projects/{pid}", headers={"If-None-Match": etag})
        assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
        # the one answer a client may keep, revalidating it with the ETag before each use
        assert first.headers["Cache-Control"] == again.headers["Cache-Control"]
        assert first.headers["Cache-Control"] == "private, no-cache"
        other = staff.get(f"/projects/{pid}", headers={"If-None-Match": '"0"'})
        assert other.status_code == 200 and other.json() == first.json()
        if first.json()["status"] == "draft":
            expect(staff.post(f"/projects/{pid}/publish"), 200)
            changed = staff.get(f"/projects/{pid}", headers={"If-None-Match": etag})
            assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_lists_say_their_total_and_sort_over_every_page(platform, people):
    staff = people["staff"]
    budgets = [4_000_000, 1_000_000, 3_000_000, 1_000_000, 2_000_000]
    for n, budget in enumerate(budgets):
        eventually(
            lambda n=n, budget=budget: expect(
                staff.post("/projects", {**PROJECT, "title": f"总数排序{n}", "budget": budget}),
                201,
            )
        )

    def walk(sort):
        seen, totals, cursor = [], set(), None
        while True:
            params = {"q": "总数排序", "limit": 2, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = expect(staff.get("/projects", params=params), 200)
            seen += page["items"]
            totals.add(page["total"])
            cursor = page["next_cursor"]
            if cursor is None:
                return seen, totals

    dearest, totals = walk("-budget")
    assert [p["budget"] for p in dearest] == sorted(budgets, reverse=True) and totals == {5}
    by_title, totals = walk("title")
    assert [p["title"] for p in by_title] == [f"总数排序{n}" for n in range(5)]
    first = expect(staff.get("/projects", params={"q": "总数排序", "limit": 2}), 200)
    assert first["total"] == 5 and len(first["items"]) == 2
    # another role counts only what it may see: a contractor sees no drafts
    contractor_view = expect(
        people["sunshine_user"].get("/projects", params={"q": "总数排序"}), 200
    )
    assert contractor_view == {"items": [], "next_cursor": None, "total": 0}
    # each list of the other services answers its total and takes its own sort orders
    for path, sort in (
        ("/organizations", "-created_at"),
        ("/funding-sources", "-amount"),
        ("/disbursements", "-amount"),
        ("/contracts", "amount"),
    ):
        page = expect(staff.get(path, params={"sort": sort, "limit": 1}), 200)
        assert isinstance(page["total"], int) and len(page["items"]) <= 1, path
    for path in ("/projects", "/organizations", "/funding-sources", "/volunteers", "/activities"):
        error = expect(staff.get(path, params={"sort": "password"}), 422, "VALIDATION_FAILED")
        assert error["error"]["details"] == {"field": "sort", "rule": "one_of"}, path
