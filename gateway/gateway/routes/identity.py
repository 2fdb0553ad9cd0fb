"""Identity: log in, users and roles."""

from __future__ import annotations

from typing import Any

from gateway import accounts
from gateway.errors import NotFound, ValidationFailed
from gateway.http import EVERYONE, PUBLIC, Call, api
from gateway.schemas import PageQuery, TokenOut, TokenRequest, UserCreate, UserOut, UserPage
from gateway.store import UserStore
from kit.clock import utcnow
from kit.paging import page, page_request

USER = UserOut()


class IdentityRoutes:
    @api(
        "POST",
        "/auth/token",
        summary="Log in",
        tag="Identity",
        roles=PUBLIC,
        body=TokenRequest,
        response=TokenOut,
        validate_body=True,
        statuses={
            401: "Wrong username or password (INVALID_CREDENTIALS), or the account is "
            "disabled (ACCOUNT_DISABLED)"
        },
    )
    def issue_token(self, call: Call) -> Any:
        """Exchange a username and password for a bearer token."""
        user = accounts.authenticate(self.db, call.body["username"], call.body["password"])
        return {
            "access_token": self.auth.issue(user.as_actor()),
            "token_type": "bearer",
            "expires_in": self.auth.ttl_seconds,
        }

    @api(
        "POST",
        "/users",
        summary="Create a user",
        tag="Identity",
        roles=("admin",),
        body=UserCreate,
        response=UserOut,
        status=201,
        idempotent=True,
        validate_body=True,
    )
    def create_user(self, call: Call) -> Any:
        """Federation staff belong to a federation, contractors to a service provider."""

        def organization_kind(organization_id: str) -> str | None:
            try:
                found = self.registry.call(
                    "get_organization", organization_id, call.actor.to_dict()
                )
            except Exception as exc:
                if getattr(exc, "kind", None) == "not_found":
                    raise ValidationFailed(
                        f"no organization {organization_id}", field="organization_id", rule="exists"
                    ) from None
                raise
            return found["kind"]

        user = accounts.create_user(self.db, call.body, call.actor, utcnow(), organization_kind)
        return 201, USER.dump(user)

    @api(
        "GET",
        "/users",
        summary="List users",
        tag="Identity",
        roles=("admin",),
        query=PageQuery,
        response=UserPage,
    )
    def list_users(self, call: Call) -> Any:
        query = PageQuery().load(call.query)
        request = page_request(query.get("limit"), query.get("cursor"), arity=1)
        with self.db(readonly=True) as uow:
            users = UserStore(uow.session).list(request.limit, request.after)
        return UserPage().dump(page(users, request, key_of=lambda u: (u.username,)))

    @api("GET", "/users/me", summary="Who am I", tag="Identity", roles=EVERYONE, response=UserOut)
    def me(self, call: Call) -> Any:
        with self.db(readonly=True) as uow:
            user = UserStore(uow.session).get(call.actor.user_id)
        if user is None:
            raise NotFound("your user no longer exists", code="USER_NOT_FOUND")
        return USER.dump(user)
