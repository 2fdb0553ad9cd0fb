"""Accounts and sessions over HTTP, with two gateway processes on one database: a locked
account (the same answer for a username that does not exist), a client address held after
too many failures, a disabled user's token refused at once, a changed password or role ending
the old tokens, the password policy, and the last active admin."""

import functools
import re
import uuid

import pytest
import requests

from tests.support.platform import Client, Platform, free_port, new_vhost, vhost_uri
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def platform(rabbit_manager, tmp_path_factory, infra):
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("platform")
    # one proxy in front: each test names its own client address in X-Forwarded-For, so the
    # address held by one test is not the address of the next
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost),
        workdir=workdir,
        database_urls={},
        extra_env={"GATEWAY_TRUSTED_PROXIES": "1"},
    )
    # seven processes starting on a shared machine may take longer than the usual 40 s
    platform.wait_healthy = functools.partial(Platform.wait_healthy, platform, timeout=120)
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


@pytest.fixture(scope="module")
def second_gateway(platform):
    """Another gateway process on the same database and broker, as behind a load balancer."""
    port = free_port()
    platform.service(
        "gateway2",
        "gateway/config.yaml",
        "gateway.service:GatewayService",
        GATEWAY_HTTP_ADDRESS=f"127.0.0.1:{port}",
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    eventually(lambda: _healthy(base), timeout=40)
    return base


def _healthy(base):
    try:
        assert requests.get(f"{base}/health", timeout=5).status_code == 200
    except requests.RequestException as exc:
        raise AssertionError(exc) from None


@pytest.fixture(scope="module")
def admin(platform):
    return platform.admin()


def log_in(base, username, password, address):
    return requests.post(
        f"{base}/auth/token",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
        timeout=10,
    )


def address():
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"


def new_user(admin, role="ops", organization_id=None, password="a fine password 1"):
    username = f"u.{uuid.uuid4().hex[:10]}"
    created = admin.create(
        "/users",
        {
            "username": username,
            "password": password,
            "role": role,
            "organization_id": organization_id,
        },
    )
    return created, password


def token_of(base, username, password):
    response = log_in(base, username, password, address())
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def me(base, token):
    return requests.get(
        f"{base}/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_five_failures_lock_the_username_on_every_gateway_the_same_as_an_unknown_one(
    platform, admin, second_gateway
):
    user, password = new_user(admin)
    base = platform.base_url
    answers = {}
    for username in (user["username"], f"nobody.{uuid.uuid4().hex[:8]}"):
        for n in range(5):
            gateway = base if n % 2 else second_gateway  # both count in the one database
            failed = log_in(gateway, username, "not the password", address())
            assert failed.status_code == 401, failed.text
            assert failed.json()["error"]["code"] == "INVALID_CREDENTIALS"
        # the right password no longer helps, on either process
        for gateway in (base, second_gateway):
            locked = log_in(gateway, username, password, address())
            assert locked.status_code == 429, locked.text
            assert 890 <= int(locked.headers["Retry-After"]) <= 900
        answers[username] = locked.json()["error"]
    known, unknown = answers.values()
    assert known["code"] == unknown["code"] == "TOO_MANY_ATTEMPTS"
    strip = re.compile(r"\d+")
    assert strip.sub("N", known["message"]) == strip.sub("N", unknown["message"])
    assert set(known["details"]) == set(unknown["details"]) == {"retry_after"}

    # the fifth failure of each username was counted by the second process
    metrics = requests.get(second_gateway.replace("/api/v1", "/metrics"), timeout=10).text
    assert re.search(r'jinguo_login_lockouts_total\{scope="username"\} [1-9]', metrics)
    assert re.search(r'jinguo_login_attempts_total\{outcome="refused"\} [1-9]', metrics)

    # an admin's reset lifts the lock
    reset = admin.post(f"/users/{user['id']}/password", {"new_password": "a new password 2"})
    assert reset.status_code == 200, reset.text
    assert log_in(base, user["username"], "a new password 2", address()).status_code == 200


def test_a_success_resets_the_count(platform, admin):
    user, password = new_user(admin)
    for _ in range(4):
        assert log_in(platform.base_url, user["username"], "wrong!", address()).status_code == 401
    assert log_in(platform.base_url, user["username"], password, address()).status_code == 200
    for _ in range(4):
        assert log_in(platform.base_url, user["username"], "wrong!", address()).status_code == 401
    assert log_in(platform.base_url, user["username"], password, address()).status_code == 200


def test_a_client_address_that_fails_twenty_times_in_a_minute_is_held(platform, admin):
    user, password = new_user(admin)
    sprayer = address()
    for n in range(20):  # a different username each time: no username is locked
        failed = log_in(platform.base_url, f"spray.{n}.{uuid.uuid4().hex[:6]}", "123456", sprayer)
        assert failed.status_code == 401, (n, failed.text)
    held = log_in(platform.base_url, user["username"], password, sprayer)
    assert held.status_code == 429 and 50 <= int(held.headers["Retry-After"]) <= 60
    # the same user from elsewhere is fine
    assert log_in(platform.base_url, user["username"], password, address()).status_code == 200


def test_a_disabled_users_token_is_refused_at_once_on_every_gateway(
    platform, admin, second_gateway
):
    user, password = new_user(admin)
    token = token_of(platform.base_url, user["username"], password)
    for base in (platform.base_url, second_gateway):
        assert me(base, token).status_code == 200  # each process now holds her session

    disabled = admin.patch(f"/users/{user['id']}", {"disabled": True})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True

    refused = me(platform.base_url, token)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "ACCOUNT_DISABLED"

    def refused_there_too():
        assert me(second_gateway, token).status_code == 401

    eventually(refused_there_too, timeout=2)  # the change notice, not the cache's TTL (10 s)
    login = log_in(platform.base_url, user["username"], password, address())
    assert login.status_code == 401 and login.json()["error"]["code"] == "ACCOUNT_DISABLED"

    assert admin.patch(f"/users/{user['id']}", {"disabled": False}).status_code == 200
    again = me(platform.base_url, token)
    assert again.status_code == 401 and again.json()["error"]["code"] == "TOKEN_REVOKED"
    assert me(platform.base_url, token_of(platform.base_url, user["username"], password)).ok


def test_changing_ones_password_ends_the_old_tokens(platform, admin):
    user, password = new_user(admin, role="team_leader")
    token = token_of(platform.base_url, user["username"], password)
    other_session = token_of(platform.base_url, user["username"], password)
    client = Client(platform.base_url, token)

    wrong = client.post(
        "/users/me/password", {"old_password": "a guess at it", "new_password": "x" * 12}
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"] == {"field": "old_password", "rule": "incorrect"}
    for new, rule in (("short one", "min_length"), ("password123", "common_password")):
        bad = client.post("/users/me/password", {"old_password": password, "new_password": new})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"] == {"field": "new_password", "rule": rule}

    changed = client.post(
        "/users/me/password", {"old_password": password, "new_password": "mulan-2026-秋天"}
    )
    assert changed.status_code == 200, changed.text
    for old in (token, other_session):
        refused = me(platform.base_url, old)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "TOKEN_REVOKED"
    assert me(platform.base_url, changed.json()["access_token"]).status_code == 200
    assert log_in(platform.base_url, user["username"], password, address()).status_code == 401
    assert token_of(platform.base_url, user["username"], "mulan-2026-秋天")


def test_a_role_change_ends_the_old_tokens(platform, admin):
    user, password = new_user(admin, role="ops")
    token = token_of(platform.base_url, user["username"], password)
    assert me(platform.base_url, token).json()["role"] == "ops"

    changed = admin.patch(f"/users/{user['id']}", {"role": "team_leader"})
    assert changed.status_code == 200 and changed.json()["role"] == "team_leader"

    refused = me(platform.base_url, token)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "TOKEN_REVOKED"
    fresh = token_of(platform.base_url, user["username"], password)
    assert me(platform.base_url, fresh).json()["role"] == "team_leader"

    # a role that needs an organization is told so
    staff = admin.patch(f"/users/{user['id']}", {"role": "federation_staff"})
    assert staff.status_code == 422
    assert staff.json()["error"]["details"]["rule"] == "required_for_role"


def test_the_password_policy_holds_when_a_user_is_created(admin):
    for password, rule in (("short", "min_length"), ("qwertyuiop", "common_password")):
        response = admin.post(
            "/users", {"username": f"p.{uuid.uuid4().hex[:8]}", "password": password, "role": "ops"}
        )
        assert response.status_code == 422
        assert response.json()["error"]["details"] == {"field": "password", "rule": rule}


def test_the_last_active_admin_is_neither_disabled_nor_demoted(platform):
    admin = platform.admin()  # her token ends below
    me_admin = admin.get("/users/me").json()
    for change in ({"disabled": True}, {"role": "ops"}):
        refused = admin.patch(f"/users/{me_admin['id']}", change)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "LAST_ACTIVE_ADMIN"
    assert admin.get("/users/me").status_code == 200  # nothing changed, her token holds

    # with a second admin she may step down
    deputy, password = new_user(admin, role="admin")
    stepped = admin.patch(f"/users/{me_admin['id']}", {"role": "ops"})
    assert stepped.status_code == 200
    deputy_client = Client(
        platform.base_url, token_of(platform.base_url, deputy["username"], password)
    )
    back = deputy_client.patch(f"/users/{me_admin['id']}", {"role": "admin"})
    assert back.status_code == 200
    ended = admin.get("/users/me")  # admin again, but on a new token
    assert ended.status_code == 401 and ended.json()["error"]["code"] == "TOKEN_REVOKED"


def test_only_an_admin_changes_users(platform):
    admin = platform.admin()
    user, password = new_user(admin, role="ops")
    client = Client(platform.base_url, token_of(platform.base_url, user["username"], password))
    for response in (
        client.patch(f"/users/{user['id']}", {"role": "admin"}),
        client.post(f"/users/{user['id']}/password", {"new_password": "mine now, all of it"}),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "ROLE_NOT_ALLOWED"
    missing = admin.patch(f"/users/{uuid.uuid4()}", {"disabled": True})
    assert missing.status_code == 404
