"""Accounts and sessions: the password policy, login throttling, the signing secret, the last
active admin, token revocation, and what `make run` generates."""

import importlib.util
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway import identity, throttle
from gateway.auth import (
    EXAMPLE_SECRETS,
    Sessions,
    Tokens,
    WeakSecret,
    check_secret,
    check_session,
)
from gateway.errors import TooManyAttempts, Unauthorized
from gateway.http import error_response
from gateway.identity import LastActiveAdmin, User, UserChange
from gateway.readcache import ReadCache
from gateway.routes.identity import client_address
from gateway.store import SessionState
from kit.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

# --- passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, rule",
    [
        ("9-chars-x", "min_length"),
        ("1234567890", "common_password"),
        ("qwertyuiop", "common_password"),
        ("Password123", "common_password"),  # compared case-insensitively
        ("1q2w3e4r5t", "common_password"),
    ],
)
def test_a_short_or_common_password_is_refused_naming_the_rule(password, rule):
    with pytest.raises(InvalidInput) as failure:
        identity.check_password("chen.li", password)

    assert failure.value.details == {"field": "password", "rule": rule}


def test_the_rule_names_the_field_the_password_came_in():
    with pytest.raises(InvalidInput) as failure:
        identity.check_password("chen.li", "short", field="new_password")

    assert failure.value.details == {"field": "new_password", "rule": "min_length"}


def test_a_long_uncommon_password_is_good():
    identity.check_password("chen.li", "春蕾计划-2024-秋")
    identity.check_password("chen.li", "ten chars!")


def test_the_common_password_list_is_the_shipped_one():
    assert len(identity.common_passwords()) > 25_000
    assert "password" in identity.common_passwords()


# --- login throttling ---------------------------------------------------------------------

RULE = throttle.USERNAME_RULE
KEY = throttle.key_of(RULE, "chen.li")


def attempt(counter, now, *, fails=True):
    """One login attempt through the rules, as accounts does: admit, then the outcome."""
    decision = throttle.admit(RULE, KEY, counter, now)
    if not decision.admitted:
        return counter, decision.retry_after
    counter = decision.counter
    if fails:
        counter, _ = throttle.failed(RULE, counter, now)
        return counter, None
    return None, None  # a username's counter is cleared on success


def test_five_failures_within_fifteen_minutes_lock_the_username_for_fifteen_minutes():
    counter = None
    for minute in range(5):
        counter, refused = attempt(counter, T0 + timedelta(minutes=minute * 3))
        assert refused is None
    locked_at = T0 + timedelta(minutes=12)
    assert counter.locked_until == locked_at + timedelta(minutes=15)

    _, retry_after = attempt(counter, locked_at + timedelta(seconds=1))
    assert retry_after == 15 * 60 - 1
    _, retry_after = attempt(counter, locked_at + timedelta(minutes=14, seconds=59))
    assert retry_after == 1
    counter, refused = attempt(counter, locked_at + timedelta(minutes=15))
    assert refused is None and counter.attempts == 1 and counter.locked_until is None


def test_failures_spread_wider_than_the_window_lock_nothing():
    counter = None
    for minute in (0, 5, 10, 14, 16, 20):  # the window restarts after the fourth
        counter, refused = attempt(counter, T0 + timedelta(minutes=minute))
        assert refused is None
    assert counter.locked_until is None


def test_a_success_clears_the_count():
    counter = None
    for minute in range(4):
        counter, _ = attempt(counter, T0 + timedelta(minutes=minute))
    counter, _ = attempt(counter, T0 + timedelta(minutes=5), fails=False)
    assert counter is None
    for minute in range(4):
        counter, refused = attempt(counter, T0 + timedelta(minutes=6 + minute))
    assert refused is None and counter.locked_until is None


def test_attempts_still_being_checked_take_the_limit():
    """Parallel guesses: the sixth is refused while the first five are being verified."""
    counter = None
    for _ in range(5):
        decision = throttle.admit(RULE, KEY, counter, T0)
        assert decision.admitted
        counter = decision.counter
    sixth = throttle.admit(RULE, KEY, counter, T0 + timedelta(seconds=1))
    assert not sixth.admitted and sixth.retry_after == 15 * 60 - 1


def test_an_address_success_takes_back_only_its_own_attempt():
    rule = throttle.ADDRESS_RULE
    counter = throttle.Counter("address:10.0.0.1", 3, T0)
    assert throttle.succeeded(counter).attempts == 2
    assert throttle.succeeded(throttle.Counter("address:10.0.0.1", 1, T0)) is None
    assert rule.limit == 20 and rule.window == timedelta(minutes=1)


def test_a_counter_expires_after_its_window_and_its_lock():
    counter = throttle.Counter(KEY, 5, T0, locked_until=T0 + timedelta(minutes=20))
    assert counter.expires_at(RULE) == T0 + timedelta(minutes=20)
    assert throttle.Counter(KEY, 1, T0).expires_at(RULE) == T0 + timedelta(minutes=15)


def test_a_throttled_answer_is_429_with_retry_after():
    response = error_response(TooManyAttempts(42))

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "42"
    assert b"TOO_MANY_ATTEMPTS" in response.get_data()


def request_from(remote, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    environ = EnvironBuilder(path="/", headers=headers).get_environ()
    environ["REMOTE_ADDR"] = remote
    return Request(environ)


def test_the_client_address_is_the_peer_unless_proxies_are_trusted():
    spoofed = request_from("203.0.113.9", "1.2.3.4")
    assert client_address(spoofed, 0) == "203.0.113.9"
    behind_one = request_from("10.0.0.2", "1.2.3.4, 198.51.100.7")
    assert client_address(behind_one, 1) == "198.51.100.7"  # what our proxy saw, not the claim
    assert client_address(request_from("10.0.0.2"), 1) == "10.0.0.2"


# --- the signing secret -------------------------------------------------------------------


def test_a_generated_secret_is_accepted_everywhere():
    secret = secrets.token_hex(32)
    assert check_secret(secret, dev_mode=False) == secret
    assert check_secret(secrets.token_urlsafe(32), dev_mode=False)


def test_without_a_secret_dev_mode_signs_with_a_random_one_and_production_refuses():
    assert check_secret(None, dev_mode=True) is None
    assert check_secret("", dev_mode=True) is None
    with pytest.raises(WeakSecret, match="JINGUO_JWT_SECRET is not set: set JINGUO_JWT_SECRET"):
        check_secret(None, dev_mode=False)


@pytest.mark.parametrize("dev_mode", [True, False])
@pytest.mark.parametrize("secret", sorted(EXAMPLE_SECRETS))
def test_an_example_secret_is_refused_in_every_mode(secret, dev_mode):
    with pytest.raises(WeakSecret, match="example value"):
        check_secret(secret, dev_mode=dev_mode)


@pytest.mark.parametrize(
    "secret, why",
    [
        ("0123456789abcdef0123456789abcde", "fewer than 32"),  # 31 characters
        ("s" * 64, "too easy to guess"),
        ("abcd" * 16, "too easy to guess"),
        ("0123456789" * 4, "too easy to guess"),
    ],
)
def test_a_short_or_low_entropy_secret_is_refused_outside_dev_mode(secret, why):
    with pytest.raises(WeakSecret, match=why) as failure:
        check_secret(secret, dev_mode=False)
    assert "openssl rand -hex 32" in str(failure.value)


def literal_examples():
    """Every JINGUO_JWT_SECRET value written literally in the README and deploy/."""
    found = set()
    files = [ROOT / "README.md", *sorted((ROOT / "deploy").rglob("*"))]
    for path in files:
        if not path.is_file() or path.suffix not in {".md", ".yml", ".yaml", ".py", ".env", ""}:
            continue
        for match in re.finditer(
            r"JINGUO_JWT_SECRET['\"]?\s*[:=]\s*['\"]?([^\s'\"`,)]+)", path.read_text()
        ):
            value = match.group(1)
            if not value.startswith(("$", "{", "<")) and value not in ("None", "given"):
                found.add(value)
    return found


def test_every_example_secret_written_in_the_repository_is_refused():
    examples = literal_examples()
    assert "change-me-to-64-random-hex-characters" in examples  # the scan finds them
    for value in examples:
        with pytest.raises(WeakSecret):
            check_secret(value, dev_mode=False)


# --- the last active admin ----------------------------------------------------------------


def user(role="admin", disabled=False, organization_id=None):
    return User(
        username="chen.li",
        password_hash="$argon2id$...",
        role=role,
        organization_id=organization_id,
        created_by=None,
        created_at=T0,
        disabled=disabled,
    )


@pytest.mark.parametrize(
    "change",
    [UserChange(disabled=True), UserChange(role="ops"), UserChange(role="ops", disabled=True)],
)
def test_the_last_active_admin_is_neither_disabled_nor_demoted(change):
    admin = user()
    with pytest.raises(LastActiveAdmin) as failure:
        identity.change_user(admin, change, other_active_admins=0)

    assert failure.value.kind == "conflict" and failure.value.code == "LAST_ACTIVE_ADMIN"
    assert admin.role == "admin" and not admin.disabled and admin.token_version == 0


def test_an_admin_is_disabled_while_another_is_active():
    admin = user()
    assert identity.change_user(admin, UserChange(disabled=True), other_active_admins=1)
    assert admin.disabled and admin.token_version == 1


def test_a_disabled_admin_is_no_last_admin_to_keep():
    admin = user(disabled=True)
    assert identity.change_user(admin, UserChange(role="ops"), other_active_admins=0)


def test_any_change_ends_the_sessions_and_no_change_keeps_them():
    staff = user(role="federation_staff", organization_id="o-1")
    assert not identity.change_user(staff, UserChange(role="federation_staff"), 0)
    assert staff.token_version == 0
    assert identity.change_user(
        staff, UserChange(organization_id="o-2", organization_given=True), 0
    )
    assert staff.organization_id == "o-2" and staff.token_version == 1
    assert identity.change_user(
        staff, UserChange(role="ops", organization_id=None, organization_given=True), 0
    )
    assert staff.role == "ops" and staff.organization_id is None and staff.token_version == 2


# --- token revocation ---------------------------------------------------------------------


def codes(claims, state):
    with pytest.raises(Unauthorized) as failure:
        check_session(claims, state)
    return failure.value.code


def test_a_token_of_an_older_version_a_disabled_or_a_deleted_user_is_refused():
    check_session({"ver": 3}, SessionState(3, False))
    assert codes({"ver": 2}, SessionState(3, False)) == "TOKEN_REVOKED"
    assert codes({}, SessionState(0, False)) == "TOKEN_REVOKED"  # no version: before revocation
    assert codes({"ver": 3}, SessionState(3, True)) == "ACCOUNT_DISABLED"
    assert codes({"ver": 3}, None) == "TOKEN_REVOKED"


class FakeUsers:
    def __init__(self):
        self.states = {}
        self.reads = 0
        self.announced = []

    def state(self, user_id):
        self.reads += 1
        return self.states.get(user_id)


@pytest.fixture
def sessions():
    users = FakeUsers()
    tokens = Tokens(secrets.token_hex(32), ttl_seconds=3600)
    sessions = Sessions(tokens, users.state, ReadCache("sessions", ttl=60), users.announced.append)
    return sessions, users


def test_the_session_state_is_read_once_then_served_from_memory(sessions):
    sessions, users = sessions
    staff = user(role="ops")
    users.states[staff.id] = SessionState(0, False)
    header = f"Bearer {sessions.issue(staff)}"

    for _ in range(3):
        assert sessions.authenticate(header).user_id == staff.id
    assert users.reads == 1


def test_ending_sessions_refuses_the_old_token_at_once_and_tells_the_other_gateways(sessions):
    sessions, users = sessions
    staff = user(role="ops")
    users.states[staff.id] = SessionState(0, False)
    old = f"Bearer {sessions.issue(staff)}"
    sessions.authenticate(old)  # cached

    staff.end_sessions()
    users.states[staff.id] = SessionState(staff.token_version, False)
    sessions.ended(staff.id)

    with pytest.raises(Unauthorized) as failure:
        sessions.authenticate(old)
    assert failure.value.code == "TOKEN_REVOKED"
    assert users.announced == [staff.id]
    assert sessions.authenticate(f"Bearer {sessions.issue(staff)}").user_id == staff.id


def test_a_read_that_began_before_the_change_is_not_kept(sessions):
    sessions, users = sessions
    staff = user(role="ops")
    stale = SessionState(0, False)

    def racing_read(user_id):
        sessions.ended(user_id)  # the change commits while this read is on its way
        users.states[user_id] = SessionState(1, False)
        return stale

    sessions._states = racing_read
    assert sessions.state(staff.id) == stale
    sessions._states = users.state
    assert sessions.state(staff.id) == SessionState(1, False)


# --- make run -----------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("jinguo_run", ROOT / "deploy/local/run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    monkeypatch.setattr(run, "VAR", tmp_path / "var")
    monkeypatch.delenv("JINGUO_JWT_SECRET", raising=False)
    return run


def test_make_run_generates_the_signing_secret_once_keeps_it_private_and_reuses_it(run, tmp_path):
    secret = run.jwt_secret()

    assert check_secret(secret, dev_mode=False) == secret
    path = tmp_path / "var" / "jinguo-jwt-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert run.jwt_secret() == secret  # tokens stay good across restarts
    assert [p.name for p in (tmp_path / "var").iterdir()] == ["jinguo-jwt-secret"]


def test_make_run_takes_a_given_secret(run, monkeypatch):
    given = secrets.token_hex(32)
    monkeypatch.setenv("JINGUO_JWT_SECRET", given)
    assert run.jwt_secret() == given


def test_user_ids_are_uuids():
    uuid.UUID(user().id)
