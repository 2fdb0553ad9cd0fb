"""Identity: log in, users and roles."""

from __future__ import annotations

from typing import Any

from gateway import accounts
from gateway.accounts import OrganizationFacts
from gateway.audit import Origin
from gateway.errors import NotFound, ValidationFailed
from gateway.http import PUBLIC, SIGNED_IN, Call, api, client_address
from gateway.identity import UserChange
from gateway.schemas import (
    PageQuery,
    PasswordChange,
    PasswordReset,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
)
from gateway.store import UserStore
from kit.clock import utcnow
from kit.paging import page, page_request

USER = UserOut()
THROTTLED = (
    "Too many failed attempts (TOO_MANY_ATTEMPTS): the username is locked for 15 minutes after "
    "5 failures, a client address held for a minute after 20; `Retry-After` says how many "
    "seconds. The same whether or not the username exists."
)


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
            "disabled (ACCOUNT_DISABLED)",
            429: THROTTLED,
        },
    )
    def issue_token(self, call: Call) -> Any:
        """Exchange a username and password for a bearer token."""
        user = accounts.authenticate(
            self.db, call.body["username"], call.body["password"], self._origin(call)
        )
        return self._token(user)

    def _token(self, user: Any) -> dict[str, Any]:
        return {
            "access_token": self.auth.issue(user),
            "token_type": "bearer",
            "expires_in": self.auth.ttl_seconds,
        }

    def _origin(self, call: Call) -> Origin:
        address = client_address(call.request, int(self.config.get("TRUSTED_PROXIES") or 0))
        return Origin(address, call.request_id)

    def _organization_kind(self, call: Call) -> Any:
        """Asks the registry what an organization is (422 on ``organization_id`` if none)."""

        def organization_kind(organization_id: str) -> OrganizationFacts:
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
            line = [*(found.get("ancestors") or []), found["id"]]
            return OrganizationFacts(found["kind"], "/" + "".join(f"{id_}/" for id_ in line))

        return organization_kind

    @api(
        "POST",
        "/users/me/password",
        summary="Change your password",
        tag="Identity",
        roles=SIGNED_IN,
        body=PasswordChange,
        response=TokenOut,
        validate_body=True,
        statuses={429: THROTTLED},
    )
    def change_own_password(self, call: Call) -> Any:
        """Give the old password and the new one (at least 10 characters, not a common one).
        Every token issued before ends at once; the answer is a new one. A wrong old password
        is a 422 on `old_password` and counts as a failed login."""
        user = accounts.change_own_password(
            self.db,
            call.actor,
            call.body["old_password"],
            call.body["new_password"],
            self._origin(call),
        )
        self.auth.ended(user.id)
        return self._token(user)

    @api(
        "PATCH",
        "/users/{user_id}",
        summary="Change a user's role, organization or access",
        tag="Identity",
        roles=("admin",),
        body=UserUpdate,
        response=UserOut,
        validate_body=True,
        statuses={
            403: "Making yourself an auditor (OWN_ACCOUNT): another admin gives the role",
            409: "The last active admin cannot be disabled or demoted (LAST_ACTIVE_ADMIN)",
        },
    )
    def update_user(self, call: Call) -> Any:
        """`disabled: true` stops her logging in; any change ends her tokens at once (401
        `TOKEN_REVOKED`, or `ACCOUNT_DISABLED` while disabled). Nobody makes herself an auditor
        (403 `OWN_ACCOUNT`, 三员分立). Every change is
        an audit record with each field's before and after."""
        body = call.body
        change = UserChange(
            role=body.get("role"),
            organization_id=body.get("organization_id"),
            organization_given="organization_id" in body,
            disabled=body.get("disabled"),
        )
        user, ended = accounts.change_user(
            self.db, call.path["user_id"], change, self._organization_kind(call), call.actor
        )
        if ended:
            self.auth.ended(user.id)
        return USER.dump(user)

    @api(
        "POST",
        "/users/{user_id}/password",
        summary="Reset a user's password",
        tag="Identity",
        roles=("admin",),
        body=PasswordReset,
        response=UserOut,
        validate_body=True,
    )
    def reset_password(self, call: Call) -> Any:
        """Set a new password for a user who lost hers: her tokens end and a lock on her
        username after failed logins is lifted."""
        user = accounts.reset_password(
            self.db, call.path["user_id"], call.body["new_password"], call.actor
        )
        self.auth.ended(user.id)
        return USER.dump(user)

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
        """Federation staff belong to a federation, contractors to a service provider.
        A password has at least 10 characters and is not a common one (422 on `password`,
        rule `min_length` or `common_password`)."""
        user = accounts.create_user(
            self.db, call.body, call.actor, utcnow(), self._organization_kind(call)
        )
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
            store = UserStore(uow.session)
            users, total = store.list(request.limit, request.after), store.count()
        return UserPage().dump(page(users, request, key_of=lambda u: (u.username,), total=total))

    @api("GET", "/users/me", summary="Who am I", tag="Identity", roles=SIGNED_IN, response=UserOut)
    def me(self, call: Call) -> Any:
        with self.db(readonly=True) as uow:
            user = UserStore(uow.session).get(call.actor.user_id)
        if user is None:
            raise NotFound("your user no longer exists", code="USER_NOT_FOUND")
        return USER.dump(user)
