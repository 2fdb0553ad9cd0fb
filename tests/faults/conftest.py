"""The fault suite: real processes on PostgreSQL, one platform per test, faults injected for
real (the broker stopped, processes killed, the database restarted). Run by `make faults`
(JINGUO_FAULTS=1). The broker and the database it breaks are its own (tests/faults/infra.py):
a second RabbitMQ node and a throwaway PostgreSQL cluster, so nothing else on the machine is
disturbed."""

import contextlib
import time
from pathlib import Path

import pytest
import requests

from tests.faults.infra import DatabaseLink, FaultPostgres, FaultRabbit, Unavailable
from tests.faults.saga import TRANCHE, Cast, SagaFailed
from tests.support.infra import scratch_postgres_database
from tests.support.platform import Platform

RESULTS = Path(__file__).resolve().parents[2] / "var" / "faults.txt"


def _started(kind):
    try:
        server = kind()
        server.start()
    except Unavailable as exc:
        pytest.fail(f"the fault suite cannot start its own {kind.__name__}: {exc}")
    return server


@pytest.fixture(scope="session")
def fault_rabbit():
    rabbit = _started(FaultRabbit)
    yield rabbit
    rabbit.shutdown()


@pytest.fixture(scope="session")
def fault_postgres():
    postgres = _started(FaultPostgres)
    yield postgres
    postgres.shutdown()


@pytest.fixture
def platform(request, fault_rabbit, fault_postgres, tmp_path):
    """The platform on the suite's own broker and database. A test marked ``funding_link``
    gets funding's database through a ``DatabaseLink`` it can cut or slow
    (``platform.funding_link``); one marked ``env(NAME=value, ...)`` more settings."""
    admin_url = fault_postgres.admin_url
    marker = request.node.get_closest_marker("env")
    extra_env = {
        # a poison message is parked after 4 deliveries (the default is 20)
        "EVENT_DELIVERY_LIMIT": "4",
        **(marker.kwargs if marker else {}),
    }
    deadline = request.node.get_closest_marker("rpc_timeout")
    link = None
    with (
        scratch_postgres_database(admin_url, "jinguo_fault_registry") as registry,
        scratch_postgres_database(admin_url, "jinguo_fault_projects") as projects,
        scratch_postgres_database(admin_url, "jinguo_fault_funding") as funding,
    ):
        funding_direct = funding
        if request.node.get_closest_marker("funding_link"):
            link = DatabaseLink(fault_postgres.port).start()
            funding = link.url(funding)
        platform = Platform(
            amqp_uri=fault_rabbit.new_vhost(),
            workdir=tmp_path,
            database_urls={"registry": registry, "projects": projects, "funding": funding},
            rpc_timeout=float(deadline.args[0]) if deadline else 3.0,
            extra_env=extra_env,
        )
        platform.funding_link = link  # type: ignore[attr-defined]
        platform.funding_direct_url = funding_direct  # type: ignore[attr-defined]
        try:
            platform.start()
            yield platform
        finally:
            platform.stop()
            if link is not None:
                link.cut()
            # the broker may be the fault under test
            with contextlib.suppress(Exception):
                fault_rabbit.start_app()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "funding_link: funding reaches its database through a link the test can cut"
    )
    config.addinivalue_line("markers", "env(**settings): more environment for the platform")
    config.addinivalue_line("markers", "rpc_timeout(seconds): the gateway's deadline (3 s)")


class Watch:
    """Fails the sagas when a process of the platform died and stayed down for 20 s (a test
    that kills one restarts it within seconds); a crash is then a failure named at once, not
    a few hundred sagas timing out one by one."""

    def __init__(self, platform: Platform, grace: float = 20.0) -> None:
        self.platform = platform
        self.grace = grace
        self.dead_since: dict[str, float] = {}

    def __call__(self) -> None:
        now = time.monotonic()
        for name, process in self.platform.processes.items():
            if process.popen is not None and process.popen.poll() is not None:
                since = self.dead_since.setdefault(name, now)
                if now - since > self.grace:
                    raise SagaFailed(f"{name} exited and stayed down:\n{process.tail()}")
            else:
                self.dead_since.pop(name, None)


def expect(response, status):
    assert response.status_code == status, response.text
    return response.json()


def eventually(check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (AssertionError, requests.RequestException):
            pass
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {check.__doc__ or check}")


@pytest.fixture
def cast(platform):
    """A city, its staff, two finance officers, eight verified providers, a rich source."""
    admin = platform.admin()
    city = admin.create(
        "/organizations", {"name": "演练市妇联", "kind": "federation", "level": "city"}
    )
    users = {
        "staff": ("federation_staff", city["id"]),
        # finance officers belong to the city; officer_a approves, officer_b pays
        "officer_a": ("finance_officer", city["id"]),
        "officer_b": ("finance_officer", city["id"]),
    }
    contractors = []
    for n in range(8):
        provider = admin.create(
            "/organizations",
            {"name": f"演练社工{n}", "kind": "service_provider", "parent_id": city["id"]},
        )
        expect(admin.post(f"/organizations/{provider['id']}/verify"), 200)
        users[f"contractor{n}"] = ("contractor", provider["id"])
        contractors.append(provider["id"])
    clients = {}
    for name, (role, organization_id) in users.items():
        admin.create(
            "/users",
            {
                "username": f"fault.{name}",
                "password": f"{name}-password",
                "role": role,
                "organization_id": organization_id,
            },
        )
        clients[name] = platform.client(platform.token(f"fault.{name}", f"{name}-password"))
    source = {}

    def source_created():
        response = clients["officer_a"].post(
            "/funding-sources",
            {
                "name": "演练资金",
                "kind": "other",
                "owner_id": city["id"],
                "fiscal_year": 2027,
                "amount": 10_000 * TRANCHE,
            },
        )
        source.update(response.json() if response.status_code in (201, 202) else {})
        return response.status_code in (201, 202)

    eventually(source_created)
    if source.get("pending_adjustment"):  # at the threshold a second officer confirms it
        confirm = f"/source-adjustments/{source['pending_adjustment']['id']}/confirm"
        assert clients["officer_b"].post(confirm).status_code == 200
    # the registry's news reaches projects asynchronously: wait until it can draft for the city
    # and every provider may apply (a probe project takes the applications)
    probe = {}

    def city_known():
        response = clients["staff"].post(
            "/projects",
            {
                "title": "探测",
                "category": "other",
                "model": "commissioned",
                "funding_source_id": source["id"],
                "budget": 1,
                "starts_on": "2027-01-01",
                "ends_on": "2027-12-31",
            },
        )
        probe.update(response.json() if response.status_code == 201 else {})
        return response.status_code == 201

    eventually(city_known)
    expect(clients["staff"].post(f"/projects/{probe['id']}/publish"), 200)
    for n, provider in enumerate(contractors):

        def verified(n=n, provider=provider):
            response = clients[f"contractor{n}"].post(
                f"/projects/{probe['id']}/applications",
                {"provider_id": provider, "amount": 1, "proposal": "探测"},
            )
            code = response.json().get("error", {}).get("code")
            return response.status_code == 201 or code == "DUPLICATE_APPLICATION"

        eventually(verified)
    return Cast(
        alive=Watch(platform),
        staff=clients["staff"],
        officer_a=clients["officer_a"],
        officer_b=clients["officer_b"],
        contractors=[(pid, clients[f"contractor{n}"]) for n, pid in enumerate(contractors)],
        source_id=source["id"],
    )


def record(line: str) -> None:
    print(line)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
