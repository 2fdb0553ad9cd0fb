"""Identity use cases: log in (throttled), create and change users, bootstrap the admin."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError

from gateway import identity, throttle
from gateway.auth import hash_password, password_matches
from gateway.errors import NotFound, TooManyAttempts, Unauthorized
from gateway.identity import User, UserChange, UsernameTaken, VolunteerAccountExists
from gateway.store import ThrottleStore, UserStore
from kit.clock import utcnow
from kit.db import DatabaseResource
from kit.errors import InvalidInput
from language.actor import Actor

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"

LOGIN_ATTEMPTS = Counter(
    "jinguo_login_attempts_total",
    "Password checks by outcome: ok, failed (wrong username or password), disabled, or "
    "refused (throttled: the username locked or its address over the limit; not checked)",
    ["outcome"],
)
LOGIN_LOCKS = Counter(
    "jinguo_login_lockouts_total",
    "Usernames locked and client addresses held after repeated failed logins",
    ["scope"],
)


def authenticate(resource: DatabaseResource, username: str, password: str, address: str) -> User:
    """Log in, throttled: 429 while the username or the client ``address`` is locked (the
    same whether or not the username exists), 401 for a wrong username or password."""
    user = _checked_password(resource, username, password, address, field=None)
    if user.disabled:
        LOGIN_ATTEMPTS.labels("disabled").inc()
        raise Unauthorized("this account is disabled", code="ACCOUNT_DISABLED")
    LOGIN_ATTEMPTS.labels("ok").inc()
    return user


def _checked_password(
    resource: DatabaseResource, username: str, password: str, address: str, field: str | None
) -> User:
    """The user whose password this is, with the attempt counted against her username and
    the client address; a failure answers 401 (``field`` None) or 422 naming ``field``."""
    keys = {
        throttle.USERNAME_RULE: throttle.key_of(throttle.USERNAME_RULE, username),
        throttle.ADDRESS_RULE: throttle.key_of(throttle.ADDRESS_RULE, address),
    }
    _admit(resource, keys)
    with resource(readonly=True) as uow:
        user = UserStore(uow.session).by_username(username)
    if not password_matches(user.password_hash if user else None, password) or user is None:
        _record(resource, keys, failed=True)
        LOGIN_ATTEMPTS.labels("failed").inc()
        if field is not None:
            raise InvalidInput("this is not your password", field=field, rule="incorrect")
        raise Unauthorized("wrong username or password", code="INVALID_CREDENTIALS")
    _record(resource, keys, failed=False)
    return user


def _admit(resource: DatabaseResource, keys: dict[throttle.Rule, str]) -> None:
    """Count the attempt on every key, or refuse it without counting (429)."""
    for attempt in (1, 2):
        now = utcnow()
        try:
            with resource.begin() as connection:
                store = ThrottleStore(connection)
                counters = store.get(sorted(keys.values()))
                decisions = {
                    rule: throttle.admit(rule, key, counters.get(key), now)
                    for rule, key in keys.items()
                }
                refused = [d.retry_after for d in decisions.values() if not d.admitted]
                if refused:
                    LOGIN_ATTEMPTS.labels("refused").inc()
                    raise TooManyAttempts(max(r for r in refused if r is not None))
                for rule, decision in decisions.items():
                    assert decision.counter is not None
                    new = decision.counter.key not in counters
                    store.put(decision.counter, decision.counter.expires_at(rule), new=new)
                store.purge(now)
            return
        except IntegrityError:
            # another gateway process counted the first attempt on a key at the same moment
            if attempt == 2:
                raise


def _record(resource: DatabaseResource, keys: dict[throttle.Rule, str], *, failed: bool) -> None:
    """The outcome of an attempt ``_admit`` counted: lock on the failure that reaches a limit;
    a success clears the username's counter and takes the attempt off the address's."""
    now = utcnow()
    with resource.begin() as connection:
        store = ThrottleStore(connection)
        counters = store.get(sorted(keys.values()))
        for rule, key in keys.items():
            counter = counters.get(key)
            if counter is None:  # cleared meanwhile (a success, a password reset, purged)
                continue
            if failed:
                counter, locked = throttle.failed(rule, counter, now)
                if locked:
                    LOGIN_LOCKS.labels(rule.scope).inc()
                    log.warning(
                        "login locked for %s s after %d failures: %s",
                        int(rule.lock.total_seconds()),
                        counter.attempts,
                        key,
                    )
                store.put(counter, counter.expires_at(rule), new=False)
            elif rule is throttle.USERNAME_RULE:
                store.delete(key)
            else:
                remaining = throttle.succeeded(counter)
                if remaining is None:
                    store.delete(key)
                else:
                    store.put(remaining, remaining.expires_at(rule), new=False)


def create_user(
    resource: DatabaseResource,
    data: dict,
    actor: Actor,
    at: datetime,
    organization_kind: Callable[[str], str | None],
) -> User:
    """A new user; ``organization_kind(id)`` asks the registry what the organization is."""
    username, password, role = data["username"], data["password"], data["role"]
    organization_id = data.get("organization_id")
    identity.check_username(username)
    identity.check_password(username, password)
    kind = organization_kind(organization_id) if organization_id else None
    identity.check_role_organization(role, organization_id, kind)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        organization_id=organization_id,
        created_by=actor.user_id,
        created_at=at,
        volunteer_id=data.get("volunteer_id"),
    )
    try:
        with resource() as uow:
            store = UserStore(uow.session)
            if store.by_username(username) is not None:
                raise UsernameTaken(username)
            if user.volunteer_id and store.by_volunteer(user.volunteer_id) is not None:
                raise VolunteerAccountExists(user.volunteer_id)
            store.add(user)
            uow.commit()
    except IntegrityError:
        raise UsernameTaken(username) from None
    return user


def create_volunteer_account(
    resource: DatabaseResource,
    volunteer_id: str,
    data: dict,
    actor: Actor,
    at: datetime,
    link: Callable[[str], object],
) -> User:
    """A ``volunteer`` account for her record: the user first (the username and the one
    account per volunteer are checked here), then the volunteers service links her record to
    it (and refuses a volunteer the actor may not see, 404); if the link fails the user is
    removed again."""
    user = create_user(
        resource,
        {**data, "role": "volunteer", "organization_id": None, "volunteer_id": volunteer_id},
        actor,
        at,
        lambda organization_id: None,
    )
    try:
        link(user.id)
    except BaseException:
        with resource() as uow:
            UserStore(uow.session).delete(user.id)
            uow.commit()
        raise
    return user


def ensure_admin(resource: DatabaseResource, password: str | None, at: datetime) -> bool:
    """Create the ``admin`` user from JINGUO_ADMIN_PASSWORD if it does not exist yet (the
    password policy applies; once she exists the variable is not read again)."""
    if not password:
        return False
    with resource() as uow:
        store = UserStore(uow.session)
        if store.by_username(ADMIN_USERNAME) is not None:
            return False
        try:
            identity.check_password(ADMIN_USERNAME, password)
        except InvalidInput as exc:
            raise RuntimeError(
                f"JINGUO_ADMIN_PASSWORD is refused: {exc.message} "
                f"(rule {exc.details.get('rule')}); set a better one"
            ) from None
        store.add(
            User(
                username=ADMIN_USERNAME,
                password_hash=hash_password(password),
                role="admin",
                organization_id=None,
                created_by=None,
                created_at=at,
            )
        )
        uow.commit()
    log.info("created the admin user from JINGUO_ADMIN_PASSWORD")
    return True


def change_own_password(
    resource: DatabaseResource, actor: Actor, old_password: str, new_password: str, address: str
) -> User:
    """The signed-in user's new password; the old one is checked (and counted like a login,
    so a stolen token cannot guess it). Ends her other sessions; returns her for a new token."""
    user = _checked_password(resource, actor.username, old_password, address, field="old_password")
    if user.id != actor.user_id:  # the username was given to someone else since
        raise NotFound("your user no longer exists", code="USER_NOT_FOUND")
    identity.check_password(user.username, new_password, field="new_password")
    if new_password == old_password:
        raise InvalidInput(
            "the new password is the old one", field="new_password", rule="unchanged"
        )
    return _set_password(resource, user.id, new_password)


def reset_password(resource: DatabaseResource, user_id: str, new_password: str) -> User:
    """An admin sets a user's password: her sessions end and her username's lock is lifted."""
    user = _user(resource, user_id)
    identity.check_password(user.username, new_password, field="new_password")
    return _set_password(resource, user_id, new_password, unlock=True)


def _set_password(
    resource: DatabaseResource, user_id: str, password: str, *, unlock: bool = False
) -> User:
    password_hash = hash_password(password)
    with resource() as uow:
        store = UserStore(uow.session)
        user = store.get(user_id, for_update=True)
        if user is None:
            raise NotFound(f"no user {user_id}", code="USER_NOT_FOUND")
        user.password_hash = password_hash
        user.end_sessions()
        store.update(user)
        if unlock:
            ThrottleStore(uow.session.connection()).delete(
                throttle.key_of(throttle.USERNAME_RULE, user.username)
            )
        uow.commit()
    return user


def change_user(
    resource: DatabaseResource,
    user_id: str,
    change: UserChange,
    organization_kind: Callable[[str], str | None],
) -> tuple[User, bool]:
    """An admin's change of role, organization or access; (the user, whether her sessions
    ended). The last active admin is neither disabled nor demoted (409)."""
    current = _user(resource, user_id)
    role = change.role or current.role
    organization_id = (
        change.organization_id if change.organization_given else current.organization_id
    )
    if change.role is not None or change.organization_given:
        kind = organization_kind(organization_id) if organization_id else None
        identity.check_role_organization(role, organization_id, kind)
    with resource() as uow:
        store = UserStore(uow.session)
        user = store.get(user_id, for_update=True)
        if user is None:
            raise NotFound(f"no user {user_id}", code="USER_NOT_FOUND")
        others = store.other_active_admins(user.id) if user.active_admin else 0
        changed = identity.change_user(user, change, others)
        if changed:
            store.update(user)
            uow.commit()
    return user, changed


def get_user(resource: DatabaseResource, user_id: str) -> User:
    return _user(resource, user_id)


def _user(resource: DatabaseResource, user_id: str) -> User:
    with resource(readonly=True) as uow:
        user = UserStore(uow.session).get(user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", code="USER_NOT_FOUND")
    return user


def ensure_team_leader(resource: DatabaseResource, user_id: str) -> User:
    """The account a team is handed to: it exists, is enabled and is a ``team_leader`` (an
    admin's or a contractor's account cannot be made a team's leader). A 422 on
    ``leader_user_id`` otherwise, the same for an unknown account as for a wrong one."""
    with resource(readonly=True) as uow:
        user = UserStore(uow.session).get(str(user_id))
    if user is None or user.disabled or user.role != "team_leader":
        raise InvalidInput(
            "the team's leader is an enabled team_leader account",
            field="leader_user_id",
            rule="team_leader",
        )
    return user
