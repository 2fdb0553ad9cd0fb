"""Identity use cases: log in, create users, bootstrap the admin."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from gateway import identity
from gateway.auth import hash_password, password_matches
from gateway.errors import Unauthorized
from gateway.identity import User, UsernameTaken
from gateway.store import UserStore
from kit.actor import Actor
from kit.db import DatabaseResource

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"


def authenticate(resource: DatabaseResource, username: str, password: str) -> User:
    with resource(readonly=True) as uow:
        user = UserStore(uow.session).by_username(username)
    if not password_matches(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("wrong username or password", code="INVALID_CREDENTIALS")
    if user.disabled:
        raise Unauthorized("this account is disabled", code="ACCOUNT_DISABLED")
    return user


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
    )
    try:
        with resource() as uow:
            store = UserStore(uow.session)
            if store.by_username(username) is not None:
                raise UsernameTaken(username)
            store.add(user)
            uow.commit()
    except IntegrityError:
        raise UsernameTaken(username) from None
    return user


def ensure_admin(resource: DatabaseResource, password: str | None, at: datetime) -> bool:
    """Create the ``admin`` user from JINGUO_ADMIN_PASSWORD if it does not exist yet."""
    if not password:
        return False
    identity.check_password(ADMIN_USERNAME, password)
    with resource() as uow:
        store = UserStore(uow.session)
        if store.by_username(ADMIN_USERNAME) is not None:
            return False
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
