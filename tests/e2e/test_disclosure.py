"""Public disclosure (信息公开) over HTTP with every process running: a visitor without a token
reads the purchase announcements, the awards, the money paid, the OCDS releases and their
feed — and never a draft, a bidder before the award or a losing one, nor anything personal
(every public answer is scanned for phone and ID-number patterns, the accounts' user names
and ids, and the contact people the registry holds). Every page of the feed validates against
the OCDS 1.1.5 release-package schema; answers carry an ETag (304 on `If-None-Match`); the
rate limit per client address answers 429 with `Retry-After`.

The platform here trusts one proxy (`X-Forwarded-For` names the client), so each test
request can come from an address of its own and the rate limit is tested on one address.
"""

import json
import re
import uuid

import pytest

from projects.ocds import load_schema_validator
from tests.support.platform import Client, Platform, new_vhost, vhost_uri
from tests.support.waiting import eventually

RATE_LIMIT = 30
CITY_USCC = "91350100M000100Y43"
CONTACT_PERSON = "李娜娜"
CONTACT_PHONE = "13900001111"
TYPED_PHONE = "13712345678"
USERS = {
    "gy.staff": "federation_staff",
    "gy.approver": "finance_officer",
    "gy.payer": "finance_officer",
    "lantian.user": "contractor",
    "huimin.user": "contractor",
}
#: mainland mobile numbers and resident ID numbers, not inside a longer code or id
PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def platform(rabbit_manager, tmp_path_factory, infra):
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("platform")
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost),
        workdir=workdir,
        database_urls={},
        extra_env={
            "GATEWAY_TRUSTED_PROXIES": "1",
            "GATEWAY_PUBLIC_RATE_LIMIT": str(RATE_LIMIT),
        },
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code, response.text
    return response.json()


class Visitor:
    """Nobody signed in; each request from an address of its own unless one is given."""

    def __init__(self, platform: Platform, address: str | None = None) -> None:
        self.client = Client(platform.base_url, None)
        self.address = address
        #: every public answer's text, for the scans
        self.seen: list[str] = []

    def get(self, path: str, headers: dict | None = None, **params):
        address = self.address or f"visitor-{uuid.uuid4().hex}"
        response = self.client.get(
            path, params=params, headers={"X-Forwarded-For": address, **(headers or {})}
        )
        if response.status_code == 200:
            self.seen.append(response.text)
        return response

    def json(self, path: str, **params):
        return expect(self.get(path, **params), 200)


@pytest.fixture(scope="module")
def world(platform):
    admin = platform.admin()
    city = admin.create(
        "/organizations",
        {
            "name": "广阳市妇女联合会",
            "kind": "federation",
            "level": "city",
            "uscc": CITY_USCC,
            "contact": {"person": "王秀英", "phone": "13800002222"},
        },
    )
    users = {}
    for username, role in USERS.items():
        users[username] = {"role": role, "password": f"{username}-password"}
    for username, user in users.items():
        if user["role"] != "contractor":
            admin.create(
                "/users",
                {
                    "username": username,
                    "password": user["password"],
                    "role": user["role"],
                    "organization_id": city["id"],
                },
            )
    staff = platform.client(platform.token("gy.staff", users["gy.staff"]["password"]))
    providers = {}
    for key, name in (("lantian", "蓝天社会工作服务中心"), ("huimin", "惠民家庭服务社")):
        providers[key] = staff.create(
            "/organizations",
            {
                "name": name,
                "kind": "service_provider",
                "parent_id": city["id"],
                "contact": {"person": CONTACT_PERSON, "phone": CONTACT_PHONE},
            },
        )
        expect(staff.post(f"/organizations/{providers[key]['id']}/verify"), 200)
        admin.create(
            "/users",
            {
                "username": f"{key}.user",
                "password": users[f"{key}.user"]["password"],
                "role": "contractor",
                "organization_id": providers[key]["id"],
            },
        )
    clients = {
        name: platform.client(platform.token(name, user["password"]))
        for name, user in users.items()
    }
    source = eventually(
        lambda: expect(
            admin.post(
                "/funding-sources",
                {
                    "name": "2027年妇女儿童服务专项资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": city["id"],
                    "fiscal_year": 2027,
                    "amount": 5_000_000,
                },
            ),
            201,
        )
    )
    base = {
        "category": "family_education",
        "model": "commissioned",
        "funding_source_id": source["id"],
        "budget": 1_000_000,
        "starts_on": "2027-02-01",
        "ends_on": "2027-11-30",
        "target_beneficiaries": 200,
        "indicators": [{"name": "讲座场次", "target": 12, "unit": "场"}],
    }

    def draft(title, **more):
        return eventually(
            lambda: expect(staff.post("/projects", {**base, "title": title, **more}), 201)
        )

    made = {"city": city, "providers": providers, "admin": admin, "clients": clients}
    made["draft"] = draft("内部草稿·不公开")
    made["withdrawn_draft"] = draft("未发布即撤销")
    expect(
        staff.post(f"/projects/{made['withdrawn_draft']['id']}/cancel", {"reason": "内部调整"}), 200
    )
    made["open"] = draft(
        "家庭教育讲座（征集中）", description=f"咨询请联系项目专员，手机{TYPED_PHONE}"
    )
    expect(staff.post(f"/projects/{made['open']['id']}/publish"), 200)
    made["awarded"] = draft("单亲母亲家庭服务")
    expect(staff.post(f"/projects/{made['awarded']['id']}/publish"), 200)

    def apply(user, provider, project, amount):
        return eventually(
            lambda: expect(
                clients[user].post(
                    f"/projects/{project['id']}/applications",
                    {
                        "provider_id": provider["id"],
                        "amount": amount,
                        "proposal": "服务方案（内部）",
                    },
                ),
                201,
            )
        )

    apply("huimin.user", providers["huimin"], made["open"], 900_000)  # before any award
    winner = apply("lantian.user", providers["lantian"], made["awarded"], 800_000)
    apply("huimin.user", providers["huimin"], made["awarded"], 700_000)  # loses
    plan = [
        {
            "title": "需求调研",
            "deliverables": "调研报告",
            "due_on": "2027-04-30",
            "amount": 300_000,
        },
        {
            "title": "个案服务",
            "deliverables": "个案记录",
            "due_on": "2027-11-20",
            "amount": 500_000,
        },
    ]
    contract = expect(
        staff.post(
            f"/projects/{made['awarded']['id']}/award",
            {"application_id": winner["id"], "milestones": plan},
        ),
        201,
    )
    first = contract["milestones"][0]
    expect(
        clients["lantian.user"].post(
            f"/contracts/{contract['id']}/milestones/{first['id']}/reports",
            {"summary": "走访40户，联系人电话13611112222", "beneficiaries_served": 40},
        ),
        201,
    )
    expect(staff.post(f"/contracts/{contract['id']}/milestones/{first['id']}/accept"), 200)

    def pending():
        items = expect(
            clients["gy.approver"].get("/disbursements", params={"status": "pending"}), 200
        )["items"]
        assert items
        return items[0]

    disbursement = eventually(pending)
    expect(clients["gy.approver"].post(f"/disbursements/{disbursement['id']}/approve"), 200)
    eventually(
        lambda: expect(
            clients["gy.payer"].post(
                f"/disbursements/{disbursement['id']}/pay", {"payment_reference": "BOC-2027-0001"}
            ),
            200,
        )
    )
    made["contract"] = contract
    visitor = Visitor(platform)
    eventually(lambda: _paid(visitor.json(f"/public/projects/{made['awarded']['id']}"), 300_000))
    return made


def _paid(page, amount):
    assert page["amount_paid"] == amount, page
    return page


def everything_public(visitor: Visitor, world) -> list[str]:
    """Every public answer: both lists (each page), each published project, its OCDS package,
    and every page of the feed."""
    ids = [world[k]["id"] for k in ("draft", "withdrawn_draft", "open", "awarded")]
    texts = []
    for path in ("/public/projects", "/public/awards"):
        cursor = None
        while True:
            params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            response = visitor.get(path, **params)
            texts.append(expect(response, 200) and response.text)
            cursor = response.json()["next_cursor"]
            if not cursor:
                break
    for pid in ids:
        for path in (f"/public/projects/{pid}", f"/public/projects/{pid}/ocds"):
            response = visitor.get(path)
            assert response.status_code in (200, 404), response.text
            if response.status_code == 200:  # a 404 names only the id it was asked
                texts.append(response.text)
    texts += [json.dumps(package, ensure_ascii=False) for package in feed(visitor)]
    return texts


def feed(visitor: Visitor, limit: int = 1) -> list[dict]:
    """Every page of the OCDS feed, following ``links.next``."""
    packages = []
    response = visitor.get("/public/ocds/releases", limit=limit)
    while True:
        package = expect(response, 200)
        packages.append(package)
        following = package.get("links", {}).get("next")
        if not following:
            return packages
        assert following.startswith(visitor.client.base_url + "/public/ocds/releases?")
        response = visitor.get(following.removeprefix(visitor.client.base_url))


def test_every_public_route_answers_without_a_token(platform, world):
    visitor = Visitor(platform)
    pid = world["awarded"]["id"]
    for path in (
        "/public/projects",
        "/public/awards",
        f"/public/projects/{pid}",
        f"/public/projects/{pid}/ocds",
        "/public/ocds/releases",
    ):
        response = visitor.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["Cache-Control"].startswith("public, max-age=")
        assert response.headers["ETag"].startswith('"')


def test_no_draft_and_no_bidder_but_the_winner_after_the_award(platform, world):
    visitor = Visitor(platform)
    listed = {item["id"] for item in visitor.json("/public/projects", limit=100)["items"]}
    assert listed == {world["open"]["id"], world["awarded"]["id"]}
    for key in ("draft", "withdrawn_draft"):
        expect(visitor.get(f"/public/projects/{world[key]['id']}"), 404, "PROJECT_NOT_FOUND")
        expect(visitor.get(f"/public/projects/{world[key]['id']}/ocds"), 404, "PROJECT_NOT_FOUND")
    error = expect(visitor.get("/public/projects", status="draft"), 422, "VALIDATION_FAILED")
    assert "status" in error["error"]["details"]["fields"]  # a draft is no public status

    open_page = visitor.json(f"/public/projects/{world['open']['id']}")
    assert open_page["award"] is None and open_page["purchaser_name"] == "广阳市妇女联合会"
    release = visitor.json(f"/public/projects/{world['open']['id']}/ocds")["releases"][0]
    assert "tenderers" not in release["tender"] and "numberOfTenderers" not in release["tender"]

    page = visitor.json(f"/public/projects/{world['awarded']['id']}")
    award = page["award"]
    lantian, huimin = world["providers"]["lantian"], world["providers"]["huimin"]
    assert (award["contractor_id"], award["contractor_name"]) == (lantian["id"], lantian["name"])
    assert (award["amount"], award["amount_paid"], page["amount_paid"]) == (
        800_000,
        300_000,
        300_000,
    )
    assert [(t["amount"], t["paid_amount"]) for t in page["tranches"]] == [
        (300_000, 300_000),
        (500_000, 0),
    ]
    awards = visitor.json("/public/awards")["items"]
    assert [(a["project_id"], a["contractor_name"]) for a in awards] == [
        (world["awarded"]["id"], lantian["name"])
    ]
    release = visitor.json(f"/public/projects/{world['awarded']['id']}/ocds")["releases"][0]
    assert {party["id"] for party in release["parties"]} == {world["city"]["id"], lantian["id"]}

    texts = everything_public(visitor, world)
    for text in texts:
        assert huimin["id"] not in text and huimin["name"] not in text  # pre-award and losing
        for key in ("draft", "withdrawn_draft"):
            assert world[key]["id"] not in text and world[key]["title"] not in text


def test_nothing_personal_in_any_public_answer(platform, world):
    visitor = Visitor(platform)
    texts = everything_public(visitor, world)
    users = expect(world["admin"].get("/users", params={"limit": 100}), 200)["items"]
    names = [u["username"] for u in users] + [u["id"] for u in users]
    assert set(USERS) <= set(names)
    for text in texts:
        assert not PHONE.findall(text), PHONE.findall(text)
        assert not ID_NUMBER.findall(text), ID_NUMBER.findall(text)
        for name in [*names, CONTACT_PERSON, "王秀英", "服务方案（内部）", "内部调整", "走访40户"]:
            assert name not in text, name
    # a phone typed into the description is published masked
    page = visitor.json(f"/public/projects/{world['open']['id']}")
    assert "137****5678" in page["description"]


def test_every_page_of_the_feed_validates_against_ocds_1_1_5(platform, world):
    visitor = Visitor(platform)
    validator = load_schema_validator()
    packages = feed(visitor, limit=1)
    assert len(packages) == 2
    ocids = []
    for package in packages:
        errors = sorted(validator.iter_errors(package), key=str)
        assert not errors, [e.message for e in errors[:5]]
        ocids += [release["ocid"] for release in package["releases"]]
    assert [ocid[-36:] for ocid in ocids] == [world["open"]["id"], world["awarded"]["id"]]
    for pid in (world["open"]["id"], world["awarded"]["id"]):
        package = visitor.json(f"/public/projects/{pid}/ocds")
        assert not list(validator.iter_errors(package))
    whole = visitor.json("/public/ocds/releases")
    assert "links" not in whole and len(whole["releases"]) == 2
    assert not list(validator.iter_errors(whole))


def test_an_unchanged_answer_is_a_304_and_a_change_a_new_etag(platform, world):
    visitor = Visitor(platform)
    for path in ("/public/projects", f"/public/projects/{world['awarded']['id']}/ocds"):
        first = visitor.get(path)
        etag = first.headers["ETag"]
        again = visitor.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["ETag"] == etag
        assert visitor.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    before = visitor.get("/public/ocds/releases").headers["ETag"]
    staff = world["clients"]["gy.staff"]
    report = expect(staff.get(f"/projects/{world['awarded']['id']}"), 200)
    assert report["status"] == "awarded"
    project = eventually(
        lambda: expect(
            staff.post(
                "/projects",
                {
                    "title": "巾帼家政培训",
                    "category": "domestic_service_childcare_training",
                    "model": "commissioned",
                    "funding_source_id": report["funding_source_id"],
                    "budget": 200_000,
                    "starts_on": "2027-03-01",
                    "ends_on": "2027-10-31",
                },
            ),
            201,
        )
    )
    assert visitor.get("/public/ocds/releases").headers["ETag"] == before  # a draft changes nothing
    expect(staff.post(f"/projects/{project['id']}/publish"), 200)
    assert visitor.get("/public/ocds/releases").headers["ETag"] != before


def test_too_many_requests_from_one_address_are_refused_for_a_while(platform, world):
    busy = Visitor(platform, address="203.0.113.77")
    answers = [busy.get("/public/awards").status_code for _ in range(RATE_LIMIT)]
    assert answers == [200] * RATE_LIMIT
    refused = busy.get("/public/awards")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert Visitor(platform, address="203.0.113.78").get("/public/awards").status_code == 200
