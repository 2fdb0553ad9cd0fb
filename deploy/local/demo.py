"""`make demo`: a living Jinguo, loaded through the HTTP API of a running platform (`make run`).

Everything goes through the API as a person would do it, so every rule holds: Ulanhot's women's
federation (乌兰浩特市妇联: 10 streets, 2 towns, 46 communities, 68 villages, 1,348 non-public
enterprises of which 1,281 have a women's organization, 6 social organizations of which 3 do —
coverage reads 95% and 50%), service providers with valid USCCs, funding sources, projects in
every state (draft, published, awarded with milestones reported, accepted, approved and paid,
evaluated, closed, cancelled), volunteer teams, volunteers, activities and verified hours, and
one login for each role, printed at the end and written to var/demo-logins.txt (mode 0600).

It refuses to load twice (the city is there already). ``--small`` loads a reduced hierarchy
with the same coverage rates (the end-to-end test uses it); ``--hierarchy-only`` loads only the
city's organizations and its staff login (the full-scale coverage tests use it). The full set
takes about two minutes (138 s measured on a busy two-core machine, 2,600 registrations of
which 1,468 host units at ~14 a second); a request the gateway gave up on (503
SERVICE_TIMEOUT) is sent again with its Idempotency-Key, so it never applies twice.
"""

from __future__ import annotations

import argparse
import itertools
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from registry.uscc import ALPHABET, check_character

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var"
CITY_NAME = "乌兰浩特市妇女联合会"
#: Ulanhot's administrative division code (内蒙古自治区兴安盟乌兰浩特市)
DIVISION = "152201"
STREETS = (
    "和平街道", "都林街道", "五一街道", "爱国街道", "胜利街道",
    "兴安街道", "城郊街道", "朝阳街道", "铁西街道", "青山街道",
)  # fmt: skip
TOWNS = ("乌兰哈达镇", "葛根庙镇")
ACTIVITIES = ("垃圾分类宣传", "关爱独居老人", "家庭教育讲座")
YEAR = date.today().year
#: answers after which a request is sent again (with its Idempotency-Key), for this long
RETRY_CODES = ("SERVICE_TIMEOUT", "SERVICE_UNAVAILABLE", "IDEMPOTENCY_KEY_IN_USE")
RETRY_SECONDS = 120.0


@dataclass(frozen=True)
class Scale:
    enterprises: int
    enterprises_covered: int
    social: int
    social_covered: int
    communities: int
    villages: int


FULL = Scale(1348, 1281, 6, 3, 46, 68)
#: the same rates (95 % and 50 %) on a hierarchy small enough for a test
SMALL = Scale(20, 19, 6, 3, 4, 6)


class ApiError(Exception):
    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        self.code = error.get("code")
        self.details = error.get("details") or {}
        super().__init__(
            f"{response.request.method} {response.request.path_url} → {self.status} "
            f"{self.code}: {error.get('message') or response.text[:200]}"
        )


class Api:
    """One person's session with the gateway."""

    #: requests sent again after a timeout (all sessions)
    retried = 0

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def login(self, username: str, password: str) -> Api:
        answer = self.session.post(
            f"{self.base}/auth/token", json={"username": username, "password": password}
        )
        if answer.status_code != 200:
            raise ApiError(answer)
        return Api(self.base, answer.json()["access_token"])

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """The answer's JSON. A POST carries an Idempotency-Key, as the console's submits do,
        so that one the gateway gave up on (503 SERVICE_TIMEOUT: a busy machine) is sent
        again with the same key: the gateway replays the first outcome, never applies it
        twice (routes without the key's guarantee are state changes a repeat is refused)."""
        headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else None
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                answer = self.session.request(
                    method,
                    f"{self.base}{path}",
                    json=body,
                    params=params or None,
                    headers=headers,
                    timeout=60,
                )
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise
                Api.retried += 1
                time.sleep(1)
                continue
            if answer.status_code < 400:
                return answer.json() if answer.content else None
            error = ApiError(answer)
            if error.code not in RETRY_CODES or time.monotonic() > deadline:
                raise error
            Api.retried += 1
            time.sleep(float(answer.headers.get("Retry-After") or 0.5))

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body)


def eventually(action: Callable[[], Any], seconds: float = 30.0) -> Any:
    """Retry while another service has not heard of what was just done (its events are on
    their way): a 404, 409 or 422 that goes away."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except (ApiError, AssertionError) as exc:
            if isinstance(exc, ApiError) and exc.status not in (404, 409, 422):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def uscc(authority: str, category: str, serial: int) -> str:
    """A valid USCC (GB 32100-2015) of Ulanhot: authority, category, division, organization
    code, check character."""
    code = ""
    for _ in range(9):
        serial, digit = divmod(serial, len(ALPHABET))
        code = ALPHABET[digit] + code
    first17 = f"{authority}{category}{DIVISION}{code}"
    return first17 + check_character(first17)


def password() -> str:
    return "Demo-" + secrets.token_urlsafe(12)


class Loader:
    def __init__(self, base: str, admin_password: str, scale: Scale, workers: int) -> None:
        self.base = base
        self.admin = Api(base).login("admin", admin_password)
        self.scale = scale
        self.workers = workers
        self.logins: list[tuple[str, str, str]] = []
        self.people: dict[str, Api] = {}
        self.serial = itertools.count(1)

    def say(self, text: str) -> None:
        print(f"  {text}", flush=True)

    # --- organizations and people --------------------------------------------------------------

    def organization(self, who: Api, body: dict[str, Any]) -> dict[str, Any]:
        return who.post("/organizations", body)

    def user(self, key: str, username: str, role: str, organization_id: str | None) -> Api:
        secret = password()
        body = {
            "username": username,
            "password": secret,
            "role": role,
            "organization_id": organization_id,
        }
        self.admin.post("/users", body)
        self.logins.append((role, username, secret))
        self.people[key] = Api(self.base).login(username, secret)
        return self.people[key]

    def refuse_if_loaded(self) -> None:
        found = self.admin.get("/organizations", kind="federation", q=CITY_NAME)["items"]
        if any(item["name"] == CITY_NAME for item in found):
            sys.exit(
                f"make demo: {CITY_NAME} is already loaded (its logins are in "
                "var/demo-logins.txt). To load it again, stop `make run`, move var/ aside and "
                "start again."
            )

    def hierarchy(self) -> None:
        self.city = self.organization(
            self.admin,
            {
                "name": CITY_NAME,
                "kind": "federation",
                "level": "county",
                "region_code": DIVISION,
                "uscc": uscc("1", "3", next(self.serial)),
            },
        )
        staff = self.user("staff", "wlht.staff", "federation_staff", self.city["id"])
        self.streets = [
            self.organization(
                staff,
                {
                    "name": f"{name}妇联",
                    "kind": "federation",
                    "level": "township",
                    "parent_id": self.city["id"],
                },
            )
            for name in STREETS
        ]
        self.towns = [
            self.organization(
                staff,
                {
                    "name": f"{name}妇联",
                    "kind": "federation",
                    "level": "township",
                    "parent_id": self.city["id"],
                },
            )
            for name in TOWNS
        ]
        s = self.scale
        streets, towns = itertools.cycle(self.streets), itertools.cycle(self.towns)
        plan: list[tuple[str, str, bool, dict[str, Any]]] = []
        plan += [
            ("non_public_enterprise", f"乌兰浩特市第{i + 1:04d}非公企业", i < s.enterprises_covered,
             next(streets))
            for i in range(s.enterprises)
        ]  # fmt: skip
        plan += [
            ("social_organization", f"乌兰浩特市第{i + 1}社会组织", i < s.social_covered,
             next(streets))
            for i in range(s.social)
        ]  # fmt: skip
        plan += [
            ("community", f"{street['name'][:-2]}第{i + 1:02d}社区", True, street)
            for i, street in zip(range(s.communities), streets, strict=False)
        ]
        plan += [
            ("village", f"{town['name'][:-2]}第{i + 1:02d}嘎查村", True, town)
            for i, town in zip(range(s.villages), towns, strict=False)
        ]
        started = time.monotonic()

        def register(job: tuple[str, str, bool, dict[str, Any]]) -> dict[str, Any]:
            sector, name, covered, parent = job
            unit = self.organization(
                staff,
                {"name": name, "kind": "host_unit", "sector": sector, "parent_id": parent["id"]},
            )
            if covered:
                self.organization(
                    staff,
                    {
                        "name": f"{name}妇委会",
                        "kind": "womens_organization",
                        "parent_id": unit["id"],
                    },
                )
            return unit

        self.units = []
        with ThreadPoolExecutor(self.workers) as pool:
            for unit in pool.map(register, plan):
                self.units.append(unit)
                if len(self.units) % 200 == 0:
                    self.say(f"{len(self.units)} of {len(plan)} host units …")
        took = time.monotonic() - started
        self.say(
            f"{len(self.units)} host units and their women's organizations in {took:.0f} s "
            f"({len(self.units) / max(took, 0.001):.0f} units/s)"
        )

    def providers(self) -> None:
        staff = self.people["staff"]
        names = (
            "乌兰浩特市阳光社会工作服务中心",
            "兴安盟巾帼家政培训学校",
            "乌兰浩特市春蕾公益服务社",
        )
        self.providers_ = []
        for name in names:
            provider = self.organization(
                staff,
                {
                    "name": name,
                    "kind": "service_provider",
                    "parent_id": self.city["id"],
                    "uscc": uscc("5", "2", next(self.serial)),
                },
            )
            eventually(lambda p=provider: staff.post(f"/organizations/{p['id']}/verify"))
            self.providers_.append(provider)
        self.user("contractor", "wlht.contractor", "contractor", self.providers_[0]["id"])
        self.user("contractor2", "wlht.contractor2", "contractor", self.providers_[1]["id"])
        self.user("finance", "wlht.finance", "finance_officer", self.city["id"])
        self.user("finance2", "wlht.finance2", "finance_officer", self.city["id"])
        self.user("finance3", "wlht.finance3", "finance_officer", self.city["id"])
        self.user("ops", "wlht.ops", "ops", None)
        self.user("leader", "wlht.leader", "team_leader", self.city["id"])

    # --- money and projects ----------------------------------------------------------------------

    def funding(self) -> None:
        self.source = self.funding_source(
            f"{YEAR}年乌兰浩特市妇女儿童发展专项资金", "fiscal_special_fund", 500_000_000
        )
        self.funding_source(f"{YEAR}年春蕾计划社会捐赠", "donation", 80_000_000)

    def funding_source(self, name: str, kind: str, amount: int) -> dict[str, Any]:
        """A source of the city; an amount at or above the two-officer threshold enters the
        journal once the second finance officer confirms it (who asked never confirms)."""
        source = eventually(
            lambda: self.people["finance"].post(
                "/funding-sources",
                {
                    "name": name,
                    "kind": kind,
                    "owner_id": self.city["id"],
                    "fiscal_year": YEAR,
                    "amount": amount,
                },
            )
        )
        pending = source.get("pending_adjustment")
        if pending:
            self.people["finance2"].post(f"/source-adjustments/{pending['id']}/confirm")
        return source

    def draft(self, title: str, category: str, budget: int, **more: Any) -> dict[str, Any]:
        staff = self.people["staff"]
        body = {
            "title": title,
            "description": f"{title}：面向乌兰浩特市城乡妇女儿童的政府购买服务项目。",
            "category": category,
            "model": "commissioned",
            "funding_source_id": self.source["id"],
            "budget": budget,
            "starts_on": f"{YEAR}-01-01",
            "ends_on": f"{YEAR}-12-31",
            "target_beneficiaries": 500,
            "indicators": [
                {"name": "服务人次", "target": 500, "unit": "人次"},
                {"name": "满意度", "target": 90, "unit": "%"},
            ],
            **more,
        }
        return eventually(lambda: staff.post("/projects", body))

    def awarded(
        self, title: str, category: str, tranches: list[int], who: str = "contractor"
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        staff, contractor = self.people["staff"], self.people[who]
        provider = self.providers_[0 if who == "contractor" else 1]
        project = self.draft(title, category, sum(tranches) + 1_000_000)
        staff.post(f"/projects/{project['id']}/publish")
        application = eventually(
            lambda: contractor.post(
                f"/projects/{project['id']}/applications",
                {
                    "provider_id": provider["id"],
                    "amount": sum(tranches),
                    "proposal": f"{provider['name']}承接{title}的服务方案",
                },
            )
        )
        milestones = [
            {
                "title": f"第{i + 1}期服务",
                "due_on": f"{YEAR}-{2 * (i + 1):02d}-28",
                "amount": amount,
            }
            for i, amount in enumerate(tranches)
        ]
        contract = staff.post(
            f"/projects/{project['id']}/award",
            {"application_id": application["id"], "milestones": milestones},
        )
        return project, contract

    def report(self, contract: dict[str, Any], index: int, who: str = "contractor") -> None:
        milestone = contract["milestones"][index]
        self.people[who].post(
            f"/contracts/{contract['id']}/milestones/{milestone['id']}/reports",
            {
                "summary": f"{milestone['title']}已完成：开展活动{6 + index}场。",
                "beneficiaries_served": 120 + 10 * index,
                "indicator_values": {"服务人次": 120 + 10 * index, "满意度": 95},
            },
        )

    def accept(self, contract: dict[str, Any], index: int) -> None:
        milestone = contract["milestones"][index]
        self.people["staff"].post(
            f"/contracts/{contract['id']}/milestones/{milestone['id']}/accept"
        )

    def disbursement(self, milestone_id: str) -> dict[str, Any]:
        finance = self.people["finance"]

        def found() -> dict[str, Any]:
            items = finance.get("/disbursements", status="pending", limit=500)["items"]
            mine = [d for d in items if d["milestone_id"] == milestone_id]
            assert mine, "not yet in the queue"
            return mine[0]

        return eventually(found)

    def approve(self, contract: dict[str, Any], index: int) -> dict[str, Any]:
        # approved by a finance officer, never by the staff who awarded and accepted it; a
        # contract at or above the two-approver threshold needs a second one on every tranche
        d = self.disbursement(contract["milestones"][index]["id"])
        approved = self.people["finance"].post(f"/disbursements/{d['id']}/approve")
        if approved["status"] == "pending":
            self.people["finance3"].post(f"/disbursements/{d['id']}/approve")
        return d

    def pay(self, contract: dict[str, Any], index: int, reference: str) -> None:
        d = self.approve(contract, index)
        # paid by the other finance officer: who approved does not pay
        self.people["finance2"].post(
            f"/disbursements/{d['id']}/pay", {"payment_reference": reference}
        )

    def projects(self) -> None:
        staff = self.people["staff"]
        self.project_ids: dict[str, str] = {}
        self.project_ids["draft"] = self.draft(
            "城乡妇女“两癌”筛查服务（草稿）", "womens_health_screening", 30_000_000
        )["id"]
        published = self.draft(
            "单亲困难母亲家庭关爱服务", "single_mother_family_services", 20_000_000
        )
        staff.post(f"/projects/{published['id']}/publish")
        self.project_ids["published"] = published["id"]
        cancelled = self.draft(
            "巾帼创业技能培训（已取消）", "entrepreneurship_training", 10_000_000
        )
        staff.post(f"/projects/{cancelled['id']}/cancel", {"reason": "与盟级项目重复，合并实施"})
        self.project_ids["cancelled"] = cancelled["id"]

        # providers apply to the published one, side by side
        for who, provider in (("contractor", 0), ("contractor2", 1)):
            eventually(
                lambda w=who, p=provider: self.people[w].post(
                    f"/projects/{published['id']}/applications",
                    {
                        "provider_id": self.providers_[p]["id"],
                        "amount": 18_000_000 - 1_000_000 * p,
                        "proposal": f"{self.providers_[p]['name']}的服务方案：入户走访、个案辅导。",
                    },
                )
            )

        # an awarded project whose milestones are in every state of the money saga
        project, contract = self.awarded(
            "家庭教育指导服务进社区", "family_education", [3_000_000] * 6
        )
        self.project_ids["awarded"] = project["id"]
        eventually(lambda: self._committed(contract["id"]))
        for index in range(5):
            self.report(contract, index)
        for index in range(3):
            self.accept(contract, index)  # 0: paid, 1: approved, 2: accepted (to approve)
        self.pay(contract, 0, f"WLHT-{YEAR}-0001")
        self.approve(contract, 1)
        rejected = contract["milestones"][3]
        staff.post(
            f"/contracts/{contract['id']}/milestones/{rejected['id']}/reject",
            {"reason": "签到表缺少服务对象签名，请补充后重新提交"},
        )
        # 4: reported, waiting for a decision; 5: pending
        self.contract_ids = {"awarded": contract["id"]}

        # a project delivered, paid, evaluated and closed; another evaluated
        for state, title, category in (
            ("closed", "春蕾女童助学帮扶", "spring_bud_girls_schooling"),
            ("evaluated", "婚姻家庭纠纷调解服务", "family_dispute_mediation"),
        ):
            done, contract = self.awarded(title, category, [4_000_000, 6_000_000], "contractor2")
            eventually(lambda c=contract: self._committed(c["id"]))
            for index in range(2):
                self.report(contract, index, "contractor2")
                self.accept(contract, index)
                self.pay(contract, index, f"WLHT-{YEAR}-{state}-{index + 1}")
            staff.post(
                f"/projects/{done['id']}/evaluation",
                {
                    "scores": [
                        {"indicator": "服务人次", "score": 92, "weight": 0.6},
                        {"indicator": "满意度", "score": 96, "weight": 0.4},
                    ],
                    "evaluator": "兴安盟社会工作评估中心",
                    "evaluated_on": date.today().isoformat(),
                },
            )
            if state == "closed":
                staff.post(f"/projects/{done['id']}/close")
            self.project_ids[state] = done["id"]

    def _committed(self, contract_id: str) -> None:
        shown = self.people["staff"].get(f"/contracts/{contract_id}")
        assert shown["commitment_status"] == "committed", shown["commitment_status"]

    # --- volunteers ----------------------------------------------------------------------------

    def volunteers(self) -> None:
        staff, leader = self.people["staff"], self.people["leader"]
        leader_id = leader.get("/users/me")["id"]
        communities = [u for u in self.units if u["sector"] == "community"][:3]
        themes = ("low_carbon_living", "caring_for_the_vulnerable", "family_education")
        now = datetime.now(UTC).replace(microsecond=0)
        phones = itertools.count(13800000001)
        names = [
            "王秀英",
            "李桂兰",
            "张淑珍",
            "刘玉梅",
            "陈海燕",
            "杨丽娟",
            "赵敏",
            "黄晓红",
            "周雪梅",
        ]
        self.hours = 0
        for t, (community, theme) in enumerate(zip(communities, themes, strict=True)):
            team = eventually(
                lambda c=community, th=theme: staff.post(
                    "/teams",
                    {
                        "name": f"{c['name']}巾帼志愿服务队",
                        "theme": th,
                        "host_id": c["id"],
                        "leader_user_id": leader_id,
                    },
                )
            )
            members = [
                staff.post(
                    "/volunteers",
                    {
                        "name": names[(3 * t + i) % len(names)],
                        "phone": str(next(phones)),
                        "skills": ["宣讲", "陪伴"],
                        "consented_on": (now.date() - timedelta(days=30)).isoformat(),
                        "team_id": team["id"],
                    },
                )
                for i in range(3)
            ]
            activity = leader.post(
                "/activities",
                {
                    "title": f"{community['name']}{ACTIVITIES[t]}",
                    "team_id": team["id"],
                    "project_id": self.project_ids["awarded"] if t == 2 else None,
                    "starts_at": (now - timedelta(hours=3)).isoformat(),
                    "ends_at": (now + timedelta(hours=1)).isoformat(),
                    "place": f"{community['name']}党群服务中心",
                    "capacity": 20,
                },
            )
            for member in members:
                leader.post(
                    f"/activities/{activity['id']}/enrolments", {"volunteer_id": member["id"]}
                )
                entry = leader.post(
                    "/service-hours",
                    {
                        "volunteer_id": member["id"],
                        "activity_id": activity["id"],
                        "started_at": (now - timedelta(hours=3)).isoformat(),
                        "ended_at": (now - timedelta(hours=1)).isoformat(),
                    },
                )
                staff.post(f"/service-hours/{entry['id']}/verify")
                self.hours += 2

    # --- the end ---------------------------------------------------------------------------------

    def write_logins(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for role, username, secret in self.logins:
                out.write(f"{role}\t{username}\t{secret}\n")
        os.chmod(path, 0o600)
        return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("JINGUO_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--small", action="store_true", help="a reduced hierarchy, same rates")
    parser.add_argument(
        "--hierarchy-only",
        action="store_true",
        help="only the city's organizations and its staff login (what coverage counts)",
    )
    parser.add_argument("--workers", type=int, default=8, help="parallel requests")
    parser.add_argument("--logins", type=Path, default=VAR / "demo-logins.txt")
    args = parser.parse_args(argv)
    admin_password = os.environ.get("JINGUO_ADMIN_PASSWORD") or ""
    if not admin_password:
        path = VAR / "admin-password"
        if not path.exists():
            sys.exit(
                "make demo: start the platform first (`make run`); var/admin-password is missing"
            )
        admin_password = path.read_text().strip()
    base = args.url.rstrip("/") + "/api/v1"
    try:
        requests.get(f"{base}/health", timeout=5)
    except requests.RequestException:
        sys.exit(f"make demo: no gateway answers at {args.url}; start it with `make run`")
    started = time.monotonic()
    loader = Loader(base, admin_password, SMALL if args.small else FULL, args.workers)
    loader.refuse_if_loaded()
    print("Loading the demo data set of 乌兰浩特市妇联 through the API:", flush=True)
    loader.hierarchy()
    if not args.hierarchy_only:
        loader.providers()
        loader.say("service providers verified, one user of each role created")
        loader.funding()
        loader.projects()
        loader.say("funding sources, and projects in every state (milestones reported … paid)")
        loader.volunteers()
        loader.say(f"volunteer teams, volunteers, activities, {loader.hours} verified hours")
    coverage = loader.admin.get(f"/organizations/{loader.city['id']}/coverage")
    rates = {line["sector"]: line for line in coverage["sectors"]}
    npe, social = rates["non_public_enterprise"], rates["social_organization"]
    path = loader.write_logins(args.logins)
    if Api.retried:
        loader.say(f"{Api.retried} requests sent again after a timeout (the machine is busy)")
    print(
        f"\nDone in {time.monotonic() - started:.0f} s. Coverage (组建率) of {CITY_NAME}: "
        f"non-public enterprises {npe['covered']}/{npe['host_units']} = {npe['rate']}%, "
        f"social organizations {social['covered']}/{social['host_units']} = {social['rate']}%."
    )
    print(f"\nLogins (also in {path}, mode 0600):")
    print(f"  {'admin':16} {'admin':18} (password in var/admin-password)")
    for role, username, secret in loader.logins:
        print(f"  {role:16} {username:18} {secret}")
    print(f"\n  city {loader.city['id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
