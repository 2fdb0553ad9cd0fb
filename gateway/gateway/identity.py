"""Users and what their roles allow — the gateway's own small domain. Plain Python.

A user has one role. Federation staff and finance officers belong to a federation and act
inside its subtree; contractors belong to a service provider and act only on it. Volunteer
team leaders may name the organization they work for (of any kind) or none: what they lead is
recorded on the team. Other roles have no organization. Passwords are never stored, only
their argon2 hashes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from kit.actor import ROLES, Actor
from kit.errors import Conflict, InvalidInput

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}")
MIN_PASSWORD_LENGTH = 8
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
}
assert set(ORGANIZATION_KIND_BY_ROLE) == set(ROLES)


class UsernameTaken(Conflict):
    code = "USERNAME_TAKEN"

    def __init__(self, username: str) -> None:
        super().__init__(f"the username {username!r} is taken", field="username")


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


def check_password(username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password has at least {MIN_PASSWORD_LENGTH} characters",
            field="password",
            rule="min_length",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters",
            field="password",
            rule="max_length",
        )
    if password.casefold() == username.casefold():
        raise InvalidInput(
            "the password may not be the username", field="password", rule="not_username"
        )


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
