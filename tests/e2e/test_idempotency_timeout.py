"""A retried POST with the same Idempotency-Key after the first attempt timed out applies once.

The registry is held up past the gateway's deadline for real: the test holds its SQLite
database's write lock, so the request the registry started before its deadline waits for the
lock and commits only after the gateway answered 503 SERVICE_TIMEOUT. The gateway keeps
waiting for that late answer and keeps it for the key: a retry while the outcome is unknown
is told so (409 IDEMPOTENCY_KEY_IN_USE, Retry-After), then gets the first outcome replayed —
one organization, never two.
"""

import signal
import sqlite3
import time

import pytest
import requests

from tests.support.platform import Platform, new_vhost, vhost_uri
from tests.support.waiting import wait_until

RPC_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def platform(rabbit_manager, tmp_path_factory, infra):
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("idempotency")
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost), workdir=workdir, database_urls={}
    )
    platform.rpc_timeout = RPC_TIMEOUT
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


@pytest.fixture(scope="module")
def admin(platform):
    return platform.admin()


def registry_write_lock(platform):
    """The registry's database, write-locked by this test until the connection ends."""
    path = platform.database_urls["registry"].removeprefix("sqlite:///")
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    connection.execute("BEGIN IMMEDIATE")
    return connection


def named(admin, name):
    found = admin.get("/organizations", params={"q": name, "limit": 500})
    assert found.status_code == 200, found.text
    return [item for item in found.json()["items"] if item["name"] == name]


def post(platform, token, body, key):
    return requests.post(
        f"{platform.base_url}/organizations",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        timeout=30,
    )


def test_a_retry_after_a_timeout_gets_the_first_outcome_and_applies_once(platform, admin):
    token = platform.token("admin", platform.admin_password)
    body = {"name": "超时重试服务中心", "kind": "service_provider"}
    lock = registry_write_lock(platform)
    try:
        first = post(platform, token, body, "retry-after-timeout")
        assert first.status_code == 503, first.text
        assert first.json()["error"]["code"] == "SERVICE_TIMEOUT"
        # the registry is still held: the outcome is unknown, the retry is told so
        meanwhile = post(platform, token, body, "retry-after-timeout")
        assert meanwhile.status_code == 409, meanwhile.text
        assert meanwhile.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
        assert meanwhile.headers["Retry-After"] == "1"
    finally:
        lock.rollback()
        lock.close()
    # the registry commits the request it started before its deadline; the retry gets that
    retried = wait_until(
        lambda: (r := post(platform, token, body, "retry-after-timeout")).status_code != 409 and r,
        timeout=30,
    )
    assert retried.status_code == 201, retried.text
    assert retried.headers.get("Idempotent-Replayed") == "true"
    created = named(admin, body["name"])
    assert [item["id"] for item in created] == [retried.json()["id"]]
    # and again, later: the same outcome, still one organization
    assert post(platform, token, body, "retry-after-timeout").json() == retried.json()
    assert len(named(admin, body["name"])) == 1


def test_a_request_the_service_never_ran_is_run_by_its_retry_once(platform, admin):
    """The service was stopped past the deadline: it refuses the expired request when it
    resumes (it never ran), so the key is released and the retry creates the organization."""
    token = platform.token("admin", platform.admin_password)
    body = {"name": "暂停后重试服务中心", "kind": "service_provider"}
    registry = platform.processes["registry"]
    registry.signal(signal.SIGSTOP)
    try:
        first = post(platform, token, body, "retry-after-stop")
        assert first.status_code == 503, first.text
        time.sleep(0.5)
    finally:
        registry.signal(signal.SIGCONT)
    retried = wait_until(
        lambda: (r := post(platform, token, body, "retry-after-stop")).status_code == 201 and r,
        timeout=30,
    )
    assert retried.json()["name"] == body["name"]
    assert len(named(admin, body["name"])) == 1
