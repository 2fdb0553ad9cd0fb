"""The gateway's account rules against its real database, SQLite and PostgreSQL: login
throttling counted in the database (a parallel burst of guesses included), token versions,
and the last active admin."""

import eventlet
import pytest

from gateway import accounts
from gateway.errors import TooManyAttempts, Unauthorized
from gateway.identity import LastActiveAdmin, UserChange
from gateway.models import INCLUDE_METADATA, metadata
from gateway.store import UserStore, session_state
from kit.clock import utcnow
from kit.db import connect
from kit.migrate import downgrade, drift, upgrade
from language.actor import Actor

ADMIN = Actor(user_id="boot", username="admin", role="admin")
PASSWORD = "a fine password 1"


@pytest.fixture
def db(database_url):
    upgrade("gateway", database_url)
    with connect(database_url, service_name="gateway") as resource:
        yield resource


def make_user(db, username, role="ops"):
    return accounts.create_user(
        db,
        {"username": username, "password": PASSWORD, "role": role},
        ADMIN,
        utcnow(),
        lambda _id: None,
    )


def outcome(db, username, password, address="192.0.2.1"):
    try:
        accounts.authenticate(db, username, password, address)
    except TooManyAttempts as exc:
        return 429, int(exc.headers["Retry-After"])
    except Unauthorized as exc:
        return 401, exc.code
    return 200, None


def test_five_failures_lock_a_username_known_or_not(db):
    make_user(db, "chen.li")
    for username in ("chen.li", "nobody.here"):
        for _ in range(5):
            assert outcome(db, username, "wrong guess") == (401, "INVALID_CREDENTIALS")
        status, retry_after = outcome(db, username, PASSWORD)
        assert status == 429 and 895 <= retry_after <= 900
    assert outcome(db, "chen.li", PASSWORD, address="192.0.2.99")[0] == 429  # any address


def test_a_parallel_burst_of_guesses_gets_five_checks_and_no_more(db):
    make_user(db, "wang.fang")
    pool = eventlet.GreenPool(12)
    results = list(
        pool.imap(lambda n: outcome(db, "wang.fang", f"guess {n}", f"192.0.2.{n}"), range(12))
    )
    assert sorted(status for status, _ in results) == [401] * 5 + [429] * 7


def test_a_success_clears_the_username_count_and_a_reset_lifts_the_lock(db):
    user = make_user(db, "li.na")
    for _ in range(4):
        outcome(db, "li.na", "wrong guess")
    assert outcome(db, "li.na", PASSWORD) == (200, None)
    for _ in range(5):
        outcome(db, "li.na", "wrong guess")
    assert outcome(db, "li.na", PASSWORD)[0] == 429

    accounts.reset_password(db, user.id, "the new one, 2026")
    assert outcome(db, "li.na", "the new one, 2026") == (200, None)


def test_twenty_failures_from_one_address_hold_it(db):
    make_user(db, "zhao.min")
    for n in range(20):
        assert outcome(db, f"sprayed.{n}", "123456", "198.51.100.7")[0] == 401
    assert outcome(db, "zhao.min", PASSWORD, "198.51.100.7")[0] == 429
    assert outcome(db, "zhao.min", PASSWORD, "198.51.100.8") == (200, None)


def test_changes_raise_the_token_version_and_the_last_admin_stays(db):
    first = make_user(db, "first.admin", role="admin")
    staff = make_user(db, "sun.li", role="ops")

    def version(user_id):
        with db.autocommit(write=False) as connection:
            return session_state(connection, user_id)

    assert version(staff.id).token_version == 0
    accounts.change_user(db, staff.id, UserChange(disabled=True), lambda _id: None)
    assert version(staff.id).disabled and version(staff.id).token_version == 1
    accounts.reset_password(db, staff.id, "another fine one")
    assert version(staff.id).token_version == 2

    with pytest.raises(LastActiveAdmin):
        accounts.change_user(db, first.id, UserChange(role="ops"), lambda _id: None)
    second = make_user(db, "second.admin", role="admin")
    accounts.change_user(db, first.id, UserChange(disabled=True), lambda _id: None)
    with pytest.raises(LastActiveAdmin):
        accounts.change_user(db, second.id, UserChange(disabled=True), lambda _id: None)
    with db(readonly=True) as uow:
        assert UserStore(uow.session).get(second.id).active_admin


def test_a_weak_admin_password_is_refused_at_start_saying_which_variable(db):
    with pytest.raises(RuntimeError, match=r"JINGUO_ADMIN_PASSWORD is refused.*common_password"):
        accounts.ensure_admin(db, "1234567890", utcnow())
    assert accounts.ensure_admin(db, "a fine admin password", utcnow())
    assert not accounts.ensure_admin(db, "short", utcnow())  # she exists: not read again


def test_the_gateway_migrations_match_its_models_and_roll_back(database_url):
    upgrade("gateway", database_url)
    assert drift(database_url, metadata, kit_tables=False, include=INCLUDE_METADATA) == []
    downgrade("gateway", database_url, "0001")
    upgrade("gateway", database_url)
    assert drift(database_url, metadata, kit_tables=False, include=INCLUDE_METADATA) == []
