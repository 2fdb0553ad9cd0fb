"""Driving full money sagas over HTTP, the way a careful client would, and counting the result.

A saga: draft → publish → apply → award → report → accept (projects), then the disbursement
funding opens → approve → pay (funding), until projects shows the milestone paid. Every call is
retried on a 5xx or a dropped connection (with the same Idempotency-Key where it creates), and a
409 is resolved by looking at what is actually there — so a fault may slow a saga, never fork it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import eventlet
import requests

from tests.support.platform import Client

TRANCHE = 100_000  # fen


class SagaFailed(AssertionError):
    pass


@dataclass
class Cast:
    staff: Client
    officer_a: Client
    officer_b: Client
    contractors: list[tuple[str, Client]]  # (provider id, its contractor's client)
    source_id: str
    #: raises when a process of the platform died and stayed down (no saga can then finish)
    alive: Callable[[], None] = lambda: None


@dataclass
class Saga:
    number: int
    provider_id: str
    contractor: Client
    project_id: str | None = None
    contract_id: str | None = None
    milestone_id: str | None = None
    disbursement_id: str | None = None
    done: bool = False
    retries: int = 0
    unavailable: int = 0  # 503 answers seen (a fault was noticed, and named)
    slowest: float = 0.0  # the longest any one HTTP call took to be answered (s)
    alive: Callable[[], None] = lambda: None
    log: list[str] = field(default_factory=list)


def call(
    saga: Saga,
    client: Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    ok: tuple[int, ...] = (200, 201),
    deadline: float,
) -> requests.Response:
    """One call, retried through faults until it answers something other than a 5xx."""
    headers = {"Idempotency-Key": key} if key else {}
    while True:
        started = time.monotonic()
        try:
            response = client.request(method, path, json=body, headers=headers, timeout=15)
        except requests.RequestException as exc:
            saga.slowest = max(saga.slowest, time.monotonic() - started)
            saga.log.append(f"{method} {path}: {type(exc).__name__}")
        else:
            saga.slowest = max(saga.slowest, time.monotonic() - started)
            if response.status_code == 503:
                saga.unavailable += 1
            if response.status_code < 500 and not (
                response.status_code == 409
                and response.json().get("error", {}).get("code") == "IDEMPOTENCY_KEY_IN_USE"
            ):
                return response
            saga.log.append(f"{method} {path}: {response.status_code}")
        if time.monotonic() > deadline:
            raise SagaFailed(f"saga {saga.number}: {method} {path} kept failing: {saga.log[-3:]}")
        saga.alive()
        saga.retries += 1
        eventlet.sleep(0.5)


def wait_for(saga: Saga, what: str, check: Any, deadline: float) -> Any:
    while True:
        try:
            found = check()
        except requests.RequestException:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise SagaFailed(f"saga {saga.number}: {what} never happened")
        saga.alive()
        eventlet.sleep(0.2)


def run_saga(saga: Saga, cast: Cast, timeout: float = 240.0) -> Saga:
    deadline = time.monotonic() + timeout
    tag = uuid.uuid4().hex[:8]
    staff, contractor = cast.staff, saga.contractor

    project = call(
        saga,
        staff,
        "POST",
        "/projects",
        {
            "title": f"故障演练项目{saga.number}",
            "category": "legal_aid",
            "model": "commissioned",
            "funding_source_id": cast.source_id,
            "budget": TRANCHE,
            "starts_on": "2027-01-01",
            "ends_on": "2027-12-31",
        },
        key=f"draft-{tag}",
        deadline=deadline,
    )
    assert project.status_code == 201, project.text
    saga.project_id = project.json()["id"]
    pid = saga.project_id

    response = call(saga, staff, "POST", f"/projects/{pid}/publish", deadline=deadline)
    assert response.status_code in (200, 409), response.text

    response = call(
        saga,
        contractor,
        "POST",
        f"/projects/{pid}/applications",
        {"provider_id": saga.provider_id, "amount": TRANCHE, "proposal": "方案"},
        key=f"apply-{tag}",
        deadline=deadline,
    )
    if response.status_code == 201:
        application_id = response.json()["id"]
    else:
        assert response.json()["error"]["code"] == "DUPLICATE_APPLICATION", response.text
        application_id = response.json()["error"]["details"]["application_id"]

    response = call(
        saga,
        staff,
        "POST",
        f"/projects/{pid}/award",
        {
            "application_id": application_id,
            "milestones": [{"title": "交付", "due_on": "2027-06-30", "amount": TRANCHE}],
        },
        key=f"award-{tag}",
        deadline=deadline,
    )
    if response.status_code == 201:
        contract = response.json()
    else:
        assert response.status_code == 409, response.text  # awarded by an earlier attempt
        contract_id = call(saga, staff, "GET", f"/projects/{pid}", deadline=deadline).json()[
            "contract_id"
        ]
        contract = call(saga, staff, "GET", f"/contracts/{contract_id}", deadline=deadline).json()
    saga.contract_id, saga.milestone_id = contract["id"], contract["milestones"][0]["id"]
    milestone = f"/contracts/{saga.contract_id}/milestones/{saga.milestone_id}"

    response = call(
        saga,
        contractor,
        "POST",
        milestone + "/reports",
        {"summary": "完成", "beneficiaries_served": 10},
        key=f"report-{tag}",
        deadline=deadline,
    )
    assert response.status_code in (201, 409), response.text
    response = call(saga, staff, "POST", milestone + "/accept", deadline=deadline)
    assert response.status_code in (200, 409), response.text

    def opened() -> str | None:
        response = cast.officer_a.get(
            "/disbursements", params={"contract_id": saga.contract_id}, timeout=15
        )
        if response.status_code != 200:
            return None
        items = response.json()["items"]
        return items[0]["id"] if items else None

    saga.disbursement_id = wait_for(saga, "the disbursement", opened, deadline)
    did = saga.disbursement_id
    response = call(
        saga, cast.officer_a, "POST", f"/disbursements/{did}/approve", deadline=deadline
    )
    assert response.status_code in (200, 409), response.text
    response = call(
        saga,
        cast.officer_b,
        "POST",
        f"/disbursements/{did}/pay",
        {"payment_reference": f"FAULT-{tag}"},
        key=f"pay-{tag}",
        deadline=deadline,
    )
    assert response.status_code in (200, 409), response.text

    def paid_in_projects() -> bool:
        response = contractor.get(f"/contracts/{saga.contract_id}", timeout=15)
        return (
            response.status_code == 200
            and response.json()["milestones"][0]["payment_status"] == "paid"
        )

    wait_for(saga, "projects showing the milestone paid", paid_in_projects, deadline)
    saga.done = True
    return saga


def run_sagas(cast: Cast, count: int, concurrency: int = 8, start: int = 0) -> list[Saga]:
    sagas = [
        Saga(
            number=start + n,
            provider_id=cast.contractors[n % len(cast.contractors)][0],
            contractor=cast.contractors[n % len(cast.contractors)][1],
            alive=cast.alive,
        )
        for n in range(count)
    ]
    pool = eventlet.GreenPool(concurrency)
    failures: list[BaseException] = []

    def guarded(saga: Saga) -> None:
        try:
            run_saga(saga, cast)
        except BaseException as exc:  # noqa: BLE001 - counted, reported together
            failures.append(exc)

    for saga in sagas:
        pool.spawn_n(guarded, saga)
    pool.waitall()
    if failures:
        raise SagaFailed(f"{len(failures)} saga(s) did not complete; first: {failures[0]}")
    return sagas
