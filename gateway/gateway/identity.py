"""Users and what their roles allow — the gateway's own small domain. Plain Python.

A user has one role. Federation staff and finance officers belong to a federation and act
inside its subtree; contractors belong to a service provider and act only on it. Volunteer
team leaders may name the organization they work for (of any kind) or none: what they lead is
recorded on the team. Other roles have no organization. Passwords are never stored, only
their argon2 hashes.

A password has at least ``MIN_PASSWORD_LENGTH`` characters and is not one of the 30,000
passwords people use most (the list zxcvbn ships, compared case-insensitively). An admin
changes a user's role, organization or whether she may log in, and resets her password; each
such change raises the user's ``token_version``, which ends every token issued before it. The
last active admin cannot be disabled or demoted.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from kit.errors import Conflict, InvalidInput
from language.actor import ROLES, Actor

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

#: a role whose users may belong to an organization of any kind, or to none
ANY_ORGANIZATION = "any"
#: the kind of organization a role must belong to (None: the role has no organization)
ORGANIZATION_KIND_BY_ROLE: dict[str, str | None] = {
    "admin": None,
    "federation_staff": "federation",
    "contractor": "service_provider",
    "finance_officer": "federation",
    "ops": None,
    "team_leader": ANY_ORGANIZATION,
    "volunteer": None,
    "auditor": "federation",
}
assert set(ORGANIZATION_KIND_BY_ROLE) == set(ROLES)


class UsernameTaken(Conflict):
    code = "USERNAME_TAKEN"

    def __init__(self, username: str) -> None:
        super().__init__(f"the username {username!r} is taken", field="username")


class VolunteerAccountExists(Conflict):
    code = "VOLUNTEER_ACCOUNT_EXISTS"

    def __init__(self, volunteer_id: str) -> None:
        super().__init__("the volunteer has an account already", volunteer_id=volunteer_id)


class LastActiveAdmin(Conflict):
    code = "LAST_ACTIVE_ADMIN"

    def __init__(self, username: str) -> None:
        super().__init__(
            f"{username} is the last active admin; make another user admin first",
            username=username,
        )


@dataclass
class User:
    username: str
    password_hash: str
    role: str
    organization_id: str | None
    created_by: str | None
    created_at: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    disabled: bool = False
    #: raised whenever the user's tokens must end (see ``end_sessions``)
    token_version: int = 0
    #: a volunteer's account: her record in the volunteers service
    volunteer_id: str | None = None
    #: her organization's materialised path (the registry's), for the audit's scope
    scope_path: str | None = None

    @property
    def active_admin(self) -> bool:
        return self.role == "admin" and not self.disabled

    def end_sessions(self) -> None:
        """Every token issued before this is refused from now on."""
        self.token_version += 1

    def as_actor(self) -> Actor:
        return Actor(
            user_id=self.id,
            username=self.username,
            role=self.role,
            organization_id=self.organization_id,
        )


def check_username(username: str) -> None:
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            "a username is 3 to 64 letters, digits or . _ @ -, starting with a letter or digit",
            field="username",
            rule="format",
        )


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most used passwords (zxcvbn's list, from leaked password sets), lower case;
    read on first use."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def check_password(username: str, password: str, *, field: str = "password") -> None:
    """The password policy; ``field`` names the body field the password came in."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password has at least {MIN_PASSWORD_LENGTH} characters",
            field=field,
            rule="min_length",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters",
            field=field,
            rule="max_length",
        )
    if password.casefold() == username.casefold():
        raise InvalidInput("the password may not be the username", field=field, rule="not_username")
    if password.casefold() in common_passwords():
        raise InvalidInput(
            "this password is one of the most common ones; choose another",
            field=field,
            rule="common_password",
        )


@dataclass(frozen=True)
class UserChange:
    """What an admin changes about a user; None leaves it (``organization_id`` is set when
    ``organization_given``, so it can be set to None)."""

    role: str | None = None
    organization_id: str | None = None
    organization_given: bool = False
    disabled: bool | None = None


def change_user(user: User, change: UserChange, other_active_admins: int) -> bool:
    """Apply an admin's change; True when something changed (the user's tokens then end).

    ``other_active_admins`` counts the active admins besides ``user``: the last one may be
    neither disabled nor demoted. The role and organization must still fit each other (check
    them with ``check_role_organization`` before)."""
    role = change.role if change.role is not None else user.role
    organization_id = change.organization_id if change.organization_given else user.organization_id
    disabled = change.disabled if change.disabled is not None else user.disabled
    if user.active_admin and (role != "admin" or disabled) and other_active_admins == 0:
        raise LastActiveAdmin(user.username)
    if (role, organization_id, disabled) == (user.role, user.organization_id, user.disabled):
        return False
    user.role, user.organization_id, user.disabled = role, organization_id, disabled
    user.end_sessions()
    return True


def check_role_organization(
    role: str, organization_id: str | None, organization_kind: str | None
) -> None:
    """The organization a user belongs to must fit the role (kind looked up in the registry)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role", rule="one_of")
    wanted = ORGANIZATION_KIND_BY_ROLE[role]
    if wanted == ANY_ORGANIZATION:
        return
    if wanted is None:
        if organization_id is not None:
            raise InvalidInput(
                f"a {role} user does not belong to an organization",
                field="organization_id",
                rule="not_allowed_for_role",
            )
        return
    if organization_id is None:
        raise InvalidInput(
            f"a {role} user belongs to a {wanted.replace('_', ' ')}; give organization_id",
            field="organization_id",
            rule="required_for_role",
        )
    if organization_kind != wanted:
        raise InvalidInput(
            f"a {role} user belongs to a {wanted.replace('_', ' ')}, not a "
            f"{(organization_kind or 'unknown').replace('_', ' ')}",
            field="organization_id",
            rule="kind_for_role",
            expected_kind=wanted,
            actual_kind=organization_kind,
        )
