"""What the benchmarks of whole project flows through the gateway share.

* the platform: real ``nameko run`` processes on a fresh vhost, with SQLite or PostgreSQL
  databases (``BENCH_BACKENDS``), and a CPU meter over its processes;
* its people: a city federation, a staff user, P service providers registered and verified in
  the registry with a contractor user each, and K finance officers; set-up waits (with a
  warm-up project that every provider applies to) until projects has heard of every
  verification;
* a flow: six write calls through the gateway, draft → publish → apply → award (one
  milestone, the whole amount) → report → accept, each timed by a ``FlowRun``, run by C green
  threads with a ``requests.Session`` each (closed loop); flow i is carried out by provider
  i mod P.

Environment:
    BENCH_BACKENDS       comma-separated subset of "sqlite,postgresql" (default both)
    BENCH_IDEMPOTENCY    1 to send an Idempotency-Key with every POST that takes one (default 0)
"""

from __future__ import annotations

import collections
import os
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import eventlet

from tests.bench.common import CpuMeter, Stopwatch, latency_figures, note
from tests.support.infra import scratch_postgres_database
from tests.support.platform import Client, Platform, new_vhost, vhost_uri
from tests.support.waiting import eventually

BACKENDS = [b for b in (os.environ.get("BENCH_BACKENDS") or "sqlite,postgresql").split(",") if b]

#: the write calls of one flow, in order, and the status each must answer
CALLS = {"draft": 201, "publish": 200, "apply": 201, "award": 201, "report": 201, "accept": 200}
IDEMPOTENT_CALLS = {"draft", "apply", "award", "report"}


def idempotency_wanted() -> bool:
    """``BENCH_IDEMPOTENCY=1``: send an Idempotency-Key with every POST that takes one."""
    return os.environ.get("BENCH_IDEMPOTENCY") == "1"


# --- the platform -----------------------------------------------------------------------------


def new_platform(
    stack: ExitStack,
    request: Any,
    rabbit_manager: Any,
    infra: Any,
    workdir: Path,
    backend: str,
    databases: Iterable[str],
) -> tuple[Platform, str]:
    """A platform (not started yet) and its fresh vhost; ``databases`` get a scratch PostgreSQL
    database each under ``postgresql``. ``stack`` drops the databases and the vhost and stops
    the platform."""
    if backend == "sqlite":
        urls: dict[str, str] = {}  # the platform puts SQLite files in its work dir
    elif backend == "postgresql":
        admin_url = request.getfixturevalue("postgres_admin_url")
        urls = {
            name: stack.enter_context(scratch_postgres_database(admin_url, f"jinguo_bench_{name}"))
            for name in databases
        }
    else:
        raise ValueError(f"unknown backend {backend!r} in BENCH_BACKENDS")
    vhost = new_vhost(rabbit_manager)
    stack.callback(rabbit_manager.delete_vhost, vhost)
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost),
        workdir=workdir,
        database_urls=urls,
        rpc_timeout=10.0,  # the production default; the e2e tests use 3 s
    )
    stack.callback(platform.stop)
    return platform, vhost


def platform_cpu_meter(
    platform: Platform,
    processes: Iterable[str],
    rabbitmq: Callable[[], list[int]],
    postgres: Callable[[], list[int]],
) -> CpuMeter:
    """CPU of the platform's ``processes`` (in that order), then the broker and PostgreSQL."""

    def pid(name: str) -> Callable[[], list[int]]:
        return lambda: [platform.processes[name].popen.pid]

    return CpuMeter(
        {**{name: pid(name) for name in processes}, "rabbitmq": rabbitmq, "postgres": postgres}
    )


def in_green_threads(concurrency: int, worker: Callable[[int], None]) -> float:
    """``worker(0)`` … ``worker(concurrency - 1)`` in green threads; the seconds they took."""
    clock = Stopwatch()
    pool = eventlet.GreenPool(concurrency)
    for number in range(concurrency):
        pool.spawn(worker, number)
    pool.waitall()
    return clock.elapsed


def expect(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the people ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowBodies:
    """What one benchmark's flows send: the draft (without its title), the amount applied
    for, the one milestone awarded, and its report."""

    project: dict[str, Any]
    amount: int
    milestone: dict[str, Any]
    report: dict[str, Any]


#: stands for the city's source until ``set_up_people`` has created it
PLACEHOLDER_SOURCE = "f0000000-0000-4000-8000-00000000f001"
#: the projects benchmarks' flow: a Spring Bud schooling project, one milestone
AMOUNT = 48_000_000
PROJECT = {
    "category": "spring_bud_girls_schooling",
    "model": "commissioned",
    "funding_source_id": PLACEHOLDER_SOURCE,
    "budget": 50_000_000,
    "starts_on": "2027-02-01",
    "ends_on": "2027-11-30",
    "target_beneficiaries": 120,
    "indicators": [
        {"name": "资助女童人数", "target": 120, "unit": "人"},
        {"name": "家访次数", "target": 240, "unit": "次"},
    ],
}
MILESTONE = {
    "title": "助学金发放",
    "deliverables": "发放记录与回访报告",
    "due_on": "2027-09-10",
    "amount": AMOUNT,
}
REPORT = {
    "summary": "完成120名女童助学金发放",
    "beneficiaries_served": 120,
    "evidence": [
        {"name": "发放记录.zip", "type": "archive", "url": "https://files.example.org/a.zip"}
    ],
    "indicator_values": {"资助女童人数": 120, "家访次数": 240},
}
SPRING_BUD = FlowBodies(PROJECT, AMOUNT, MILESTONE, REPORT)


@dataclass
class Provider:
    id: str
    headers: dict[str, str]  # the contractor's bearer token


@dataclass
class People:
    city_id: str
    staff: dict[str, str]  # the staff user's bearer token (accepts every milestone)
    providers: list[Provider]
    officers: list[dict[str, str]] = field(default_factory=list)  # finance officers' tokens


def set_up_people(
    platform: Platform, bodies: FlowBodies, providers: int, officers: int = 0
) -> People:
    """City, staff, finance officers, verified providers with a contractor each; wait until
    projects knows every provider's verification (a warm-up project drafted from ``bodies``,
    which every provider applies to)."""
    admin = platform.admin()
    city = admin.create(
        "/organizations",
        {"name": "某市妇女联合会", "kind": "federation", "level": "city", "region_code": "330100"},
    )

    def user(username: str, role: str, organization_id: str | None) -> dict[str, str]:
        password = f"{username}-pass"
        admin.create(
            "/users",
            {
                "username": username,
                "password": password,
                "role": role,
                "organization_id": organization_id,
            },
        )
        return bearer(platform.token(username, password))

    people = People(
        city_id=city["id"],
        staff=user("city.staff", "federation_staff", city["id"]),
        providers=[],
        # finance officers belong to the city (they reach only its money)
        officers=[user(f"finance.{i:02d}", "finance_officer", city["id"]) for i in range(officers)],
    )
    staff = platform.client()
    staff.session.headers.update(people.staff)
    for index in range(providers):
        provider = staff.create(
            "/organizations",
            {
                "name": f"社工服务中心-{index:03d}",
                "kind": "service_provider",
                "parent_id": city["id"],
            },
        )
        expect(staff.post(f"/organizations/{provider['id']}/verify"), 200)
        headers = user(f"contractor.{index:03d}", "contractor", provider["id"])
        people.providers.append(Provider(provider["id"], headers))

    # a project draws only on its purchaser's money: the city's source (for bodies that do
    # not name a real one of their own, as SPRING_BUD), once funding knows the city
    source = eventually(
        lambda: expect(
            admin.post(
                "/funding-sources",
                {
                    "name": "基准测试资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": city["id"],
                    "fiscal_year": 2027,
                    "amount": 0,
                },
            ),
            201,
        )
    )
    if bodies.project.get("funding_source_id") in (None, PLACEHOLDER_SOURCE):
        bodies.project["funding_source_id"] = source["id"]
    # registry facts reach projects asynchronously: the city first, then every verification
    warm_up = {**bodies.project, "funding_source_id": source["id"], "title": "预热项目"}
    project = eventually(lambda: expect(staff.post("/projects", warm_up), 201))
    expect(staff.post(f"/projects/{project['id']}/publish"), 200)
    contractor = platform.client()
    for provider in people.providers:
        application = {"provider_id": provider.id, "amount": bodies.amount, "proposal": "预热"}
        eventually(
            lambda provider=provider, application=application: expect(
                contractor.post(
                    f"/projects/{project['id']}/applications",
                    application,
                    headers=provider.headers,
                ),
                201,
            )
        )
    return people


# --- the flows ----------------------------------------------------------------------------------


@dataclass
class Flow:
    project_id: str
    contract_id: str
    milestone_id: str
    accepted: float = 0.0  # time.time() when the accept call returned


@dataclass
class FlowRun:
    idempotency: bool = field(default_factory=idempotency_wanted)
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    completed: list[Flow] = field(default_factory=list)
    seconds: float = 0.0

    def call(
        self, client: Client, name: str, path: str, headers: dict[str, str], body: Any = None
    ) -> dict[str, Any] | None:
        """POST, timed; the body of the expected answer, or None (and a failure noted)."""
        if self.idempotency and name in IDEMPOTENT_CALLS:
            headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        response = client.post(path, body, headers=headers)
        self.latencies[name].append(time.perf_counter() - started)
        self.statuses[(name, response.status_code)] += 1
        if response.status_code != CALLS[name]:
            self.fail(f"{name} {path}: {response.status_code} {response.text[:300]}")
            return None
        return response.json()

    def fail(self, text: str) -> None:
        if len(self.failures) < 5:
            self.failures.append(text)

    def per_call(self) -> dict[str, dict[str, float]]:
        """p50/p99/max of every call type, in flow order."""
        return {name: latency_figures(self.latencies[name]) for name in CALLS}


def note_per_call(label: str, per_call: dict[str, dict[str, float]]) -> None:
    calls = ", ".join(
        f"{name} {figures['p50_ms']:.0f}/{figures['p99_ms']:.0f}"
        for name, figures in per_call.items()
    )
    note(f"{label}: p50/p99 ms per call: {calls}")


def one_flow(
    client: Client,
    people: People,
    bodies: FlowBodies,
    index: int,
    run: FlowRun,
    watch: Callable[[str], None] | None = None,
) -> Flow | None:
    """One whole flow; ``watch(milestone_id)`` is called once the award has answered, before
    the report and the acceptance."""
    staff = people.staff
    provider = people.providers[index % len(people.providers)]
    draft = {**bodies.project, "title": f"春蕾-{index}"}
    project = run.call(client, "draft", "/projects", staff, draft)
    if project is None:
        return None
    project_id = project["id"]
    if run.call(client, "publish", f"/projects/{project_id}/publish", staff) is None:
        return None
    application = run.call(
        client,
        "apply",
        f"/projects/{project_id}/applications",
        provider.headers,
        {"provider_id": provider.id, "amount": bodies.amount, "proposal": "入户走访与助学金发放"},
    )
    if application is None:
        return None
    contract = run.call(
        client,
        "award",
        f"/projects/{project_id}/award",
        staff,
        {"application_id": application["id"], "milestones": [bodies.milestone]},
    )
    if contract is None:
        return None
    if watch is not None:
        watch(contract["milestones"][0]["id"])
    milestone = f"/contracts/{contract['id']}/milestones/{contract['milestones'][0]['id']}"
    if run.call(client, "report", milestone + "/reports", provider.headers, bodies.report) is None:
        return None
    decided = run.call(client, "accept", milestone + "/accept", staff)
    accepted = time.time()
    if decided is None:
        return None
    if decided["status"] != "completed" or decided["milestones"][0]["status"] != "accepted":
        run.fail(f"accept {milestone}: the contract is {decided['status']}")
        return None
    return Flow(project_id, contract["id"], contract["milestones"][0]["id"], accepted)


def closed_loop(
    platform: Platform,
    people: People,
    bodies: FlowBodies,
    first: int,
    flows: int,
    concurrency: int,
) -> FlowRun:
    """Flows ``first`` … ``first + flows - 1`` from ``concurrency`` green threads (closed
    loop), each with its own session."""
    run = FlowRun()
    jobs = iter(range(first, first + flows))

    def worker(_: int) -> None:
        client = platform.client()  # its own requests.Session (keep-alive socket)
        for index in jobs:
            flow = one_flow(client, people, bodies, index, run)
            if flow is not None:
                run.completed.append(flow)

    run.seconds = in_green_threads(concurrency, worker)
    return run
