"""Identity use cases: log in (throttled), create and change users, bootstrap the admin."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError

from gateway import audit, identity, throttle
from gateway.audit import Origin
from gateway.auth import hash_password, password_matches
from gateway.errors import Forbidden, NotFound, TooManyAttempts, Unauthorized
from gateway.identity import User, UserChange, UsernameTaken, VolunteerAccountExists
from gateway.store import ThrottleStore, UserStore
from kit import audit as trail
from kit.audit import AuditEntry
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


def authenticate(
    resource: DatabaseResource, username: str, password: str, address: str | Origin
) -> User:
    """Log in, throttled: 429 while the username or the client ``address`` is locked (the
    same whether or not the username exists), 401 for a wrong username or password. Each
    attempt leaves one audit record (``login``: ok, failed, or denied when throttled or
    disabled), a lock one more (``login_locked``)."""
    attempt = Attempt("login", username, Origin.of(address), record_success=True)
    user = _checked_password(resource, attempt, password, field=None)
    if user.disabled:
        LOGIN_ATTEMPTS.labels("disabled").inc()
        raise _audited(Unauthorized("this account is disabled", code="ACCOUNT_DISABLED"))
    LOGIN_ATTEMPTS.labels("ok").inc()
    return user


@dataclass(frozen=True)
class Attempt:
    """A password check as the audit records it: the act (``login``, ``password_change``),
    the username tried and where from; a success is recorded by the act itself unless
    ``record_success``."""

    action: str
    username: str
    origin: Origin
    record_success: bool = False


def _audited(exc: Exception) -> Exception:
    """An error whose refusal the act already recorded (not once more as a 401)."""
    exc.audited = True  # type: ignore[attr-defined]
    return exc


def _checked_password(
    resource: DatabaseResource, attempt: Attempt, password: str, field: str | None
) -> User:
    """The user whose password this is, with the attempt counted against her username and
    the client address; a failure answers 401 (``field`` None) or 422 naming ``field``."""
    keys = {
        throttle.USERNAME_RULE: throttle.key_of(throttle.USERNAME_RULE, attempt.username),
        throttle.ADDRESS_RULE: throttle.key_of(
            throttle.ADDRESS_RULE, attempt.origin.client_address
        ),
    }
    with resource(readonly=True) as uow:
        user = UserStore(uow.session).by_username(attempt.username)
    try:
        _admit(resource, keys)
    except TooManyAttempts as exc:
        entry = _attempt_entry(attempt, user, "denied", "throttled")
        audit.write_alone(resource, _attempt_actor(attempt, user), [entry])
        raise _audited(exc) from None
    if not password_matches(user.password_hash if user else None, password) or user is None:
        _record(resource, keys, failed=True, attempt=attempt, user=user)
        LOGIN_ATTEMPTS.labels("failed").inc()
        if field is not None:
            raise InvalidInput("this is not your password", field=field, rule="incorrect")
        raise _audited(Unauthorized("wrong username or password", code="INVALID_CREDENTIALS"))
    _record(resource, keys, failed=False, attempt=attempt, user=user)
    return user


def _attempt_actor(attempt: Attempt, user: User | None) -> dict[str, Any]:
    """Who tried: the user of that name if there is one, else only the name tried."""
    return audit.who(user.as_actor() if user else None, attempt.origin, username=attempt.username)


def _attempt_entry(
    attempt: Attempt, user: User | None, outcome: str, reason: str | None
) -> AuditEntry:
    changes = ({"field": "reason", "before": None, "after": reason},) if reason else ()
    return AuditEntry(
        action=attempt.action,
        object_type="user",
        object_id=user.id if user else None,
        outcome=outcome,
        changes=changes,
        scope_path=user.scope_path if user else None,
    )


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


def _record(
    resource: DatabaseResource,
    keys: dict[throttle.Rule, str],
    *,
    failed: bool,
    attempt: Attempt,
    user: User | None,
) -> None:
    """The outcome of an attempt ``_admit`` counted, with its audit record: lock on the
    failure that reaches a limit; a success clears the username's counter and takes the
    attempt off the address's."""
    now = utcnow()
    who = _attempt_actor(attempt, user)
    with resource.begin() as connection:
        store = ThrottleStore(connection)
        counters = store.get(sorted(keys.values()))
        _record_attempt(connection, who, attempt, user, failed, now)
        for rule, key in keys.items():
            counter = counters.get(key)
            if counter is None:  # cleared meanwhile (a success, a password reset, purged)
                continue
            if failed:
                counter, locked = throttle.failed(rule, counter, now)
                if locked:
                    _locked(connection, who, rule, counter, attempt, user, now)
                store.put(counter, counter.expires_at(rule), new=False)
            elif rule is throttle.USERNAME_RULE:
                store.delete(key)
            else:
                remaining = throttle.succeeded(counter)
                if remaining is None:
                    store.delete(key)
                else:
                    store.put(remaining, remaining.expires_at(rule), new=False)


def _record_attempt(
    connection: Any,
    who: dict[str, Any],
    attempt: Attempt,
    user: User | None,
    failed: bool,
    now: datetime,
) -> None:
    if failed:
        entry = _attempt_entry(attempt, user, "failed", "wrong_password")
    elif not attempt.record_success:
        return
    elif user is not None and user.disabled:
        entry = _attempt_entry(attempt, user, "denied", "account_disabled")
    else:
        entry = _attempt_entry(attempt, user, "ok", None)
    audit.write(connection, who, entry, now)


def _locked(
    connection: Any,
    who: dict[str, Any],
    rule: throttle.Rule,
    counter: throttle.Counter,
    attempt: Attempt,
    user: User | None,
    now: datetime,
) -> None:
    """A lock: the metric, a warning, and its own audit record (the username, or the client
    address, and for how long)."""
    LOGIN_LOCKS.labels(rule.scope).inc()
    log.warning(
        "login locked for %s s after %d failures: %s",
        int(rule.lock.total_seconds()),
        counter.attempts,
        counter.key,
    )
    by_username = rule is throttle.USERNAME_RULE
    seconds = int(rule.lock.total_seconds())
    entry = AuditEntry(
        action="login_locked",
        object_type="username" if by_username else "client_address",
        object_id=attempt.username if by_username else attempt.origin.client_address,
        changes=({"field": "locked_seconds", "before": None, "after": seconds},),
        scope_path=user.scope_path if user and by_username else None,
    )
    audit.write(connection, who, entry, now)


@dataclass(frozen=True)
class OrganizationFacts:
    """What the registry says of a user's organization: its kind (for the role rules) and its
    materialised path (whose auditors read her records)."""

    kind: str | None
    scope_path: str | None = None


def facts_of(value: OrganizationFacts | str | None) -> OrganizationFacts:
    return value if isinstance(value, OrganizationFacts) else OrganizationFacts(value)


OrganizationLookup = Callable[[str], "OrganizationFacts | str | None"]

#: a user's fields an admin's change records, before and after
USER_FIELDS = ("role", "organization_id", "disabled", "token_version")


def create_user(
    resource: DatabaseResource,
    data: dict,
    actor: Actor,
    at: datetime,
    organization_kind: OrganizationLookup,
) -> User:
    """A new user; ``organization_kind(id)`` asks the registry what the organization is. The
    record ``user_created`` (username, role, organization) is written with her."""
    username, password, role = data["username"], data["password"], data["role"]
    organization_id = data.get("organization_id")
    identity.check_username(username)
    identity.check_password(username, password)
    facts = (
        facts_of(organization_kind(organization_id)) if organization_id else OrganizationFacts(None)
    )
    identity.check_role_organization(role, organization_id, facts.kind)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        organization_id=organization_id,
        created_by=actor.user_id,
        created_at=at,
        volunteer_id=data.get("volunteer_id"),
        scope_path=facts.scope_path,
    )
    try:
        with resource() as uow:
            store = UserStore(uow.session)
            if store.by_username(username) is not None:
                raise UsernameTaken(username)
            if user.volunteer_id and store.by_volunteer(user.volunteer_id) is not None:
                raise VolunteerAccountExists(user.volunteer_id)
            store.add(user)
            entry = AuditEntry(
                action="user_created",
                object_type="user",
                object_id=user.id,
                changes=(
                    trail.change("username", None, username),
                    *trail.record_changes(USER_FIELDS[:3], None, user),
                ),
                scope_path=user.scope_path,
            )
            audit.write(uow.session, audit.who_acts(actor), entry, at)
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
    resource: DatabaseResource,
    actor: Actor,
    old_password: str,
    new_password: str,
    address: str | Origin,
) -> User:
    """The signed-in user's new password; the old one is checked (and counted like a login,
    so a stolen token cannot guess it). Ends her other sessions; returns her for a new token.
    Recorded as ``password_changed`` (a wrong old password: ``password_change`` failed)."""
    origin = Origin.of(address)
    attempt = Attempt("password_change", actor.username, origin)
    user = _checked_password(resource, attempt, old_password, field="old_password")
    if user.id != actor.user_id:  # the username was given to someone else since
        raise NotFound("your user no longer exists", code="USER_NOT_FOUND")
    identity.check_password(user.username, new_password, field="new_password")
    if new_password == old_password:
        raise InvalidInput(
            "the new password is the old one", field="new_password", rule="unchanged"
        )
    return _set_password(
        resource, user.id, new_password, by=audit.who(actor, origin), action="password_changed"
    )


def reset_password(
    resource: DatabaseResource, user_id: str, new_password: str, actor: Actor | None = None
) -> User:
    """An admin sets a user's password: her sessions end and her username's lock is lifted
    (recorded as ``password_reset``)."""
    user = _user(resource, user_id)
    identity.check_password(user.username, new_password, field="new_password")
    return _set_password(
        resource,
        user_id,
        new_password,
        unlock=True,
        by=audit.who_acts(actor),
        action="password_reset",
    )


def _set_password(
    resource: DatabaseResource,
    user_id: str,
    password: str,
    *,
    by: dict[str, Any],
    action: str,
    unlock: bool = False,
) -> User:
    password_hash = hash_password(password)
    with resource() as uow:
        store = UserStore(uow.session)
        user = store.get(user_id, for_update=True)
        if user is None:
            raise NotFound(f"no user {user_id}", code="USER_NOT_FOUND")
        before = user.token_version
        user.password_hash = password_hash
        user.end_sessions()
        store.update(user)
        if unlock:
            ThrottleStore(uow.session.connection()).delete(
                throttle.key_of(throttle.USERNAME_RULE, user.username)
            )
        entry = AuditEntry(
            action=action,
            object_type="user",
            object_id=user.id,
            # the password itself never: only that it changed, and that her sessions ended
            changes=(
                trail.change("password", "set", "set"),
                trail.change("token_version", before, user.token_version),
            ),
            scope_path=user.scope_path,
        )
        audit.write(uow.session, by, entry, utcnow())
        uow.commit()
    return user


def change_user(
    resource: DatabaseResource,
    user_id: str,
    change: UserChange,
    organization_kind: OrganizationLookup,
    actor: Actor | None = None,
) -> tuple[User, bool]:
    """An admin's change of role, organization or access; (the user, whether her sessions
    ended). The last active admin is neither disabled nor demoted (409); nobody makes herself
    an auditor (403 ``OWN_ACCOUNT``: the audit administrator is another person than the system
    administrator, 三员分立; an admin may still step down to another role while another admin
    remains). Recorded as ``user_changed`` with each field's before and after."""
    if actor is not None and actor.user_id == user_id and change.role == "auditor":
        raise Forbidden(
            "nobody makes herself an auditor; another admin gives the role to another person",
            code="OWN_ACCOUNT",
        )
    current = _user(resource, user_id)
    role = change.role or current.role
    organization_id = (
        change.organization_id if change.organization_given else current.organization_id
    )
    scope_path = current.scope_path
    if change.role is not None or change.organization_given:
        facts = facts_of(organization_kind(organization_id)) if organization_id else None
        identity.check_role_organization(role, organization_id, facts.kind if facts else None)
        if change.organization_given:
            scope_path = facts.scope_path if facts else None
    with resource() as uow:
        store = UserStore(uow.session)
        user = store.get(user_id, for_update=True)
        if user is None:
            raise NotFound(f"no user {user_id}", code="USER_NOT_FOUND")
        others = store.other_active_admins(user.id) if user.active_admin else 0
        before = {name: getattr(user, name) for name in USER_FIELDS}
        changed = identity.change_user(user, change, others)
        if changed:
            user.scope_path = scope_path
            store.update(user)
            entry = AuditEntry(
                action="user_changed",
                object_type="user",
                object_id=user.id,
                changes=trail.record_changes(USER_FIELDS, before, user),
                # whose auditors see it: her organization's now (before, if she has none now)
                scope_path=user.scope_path or current.scope_path,
            )
            audit.write(uow.session, audit.who_acts(actor), entry, utcnow())
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
