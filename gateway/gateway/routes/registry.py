"""Registry: organizations, their status, subtrees and coverage."""

from __future__ import annotations

from typing import Any

from gateway.http import Call, api
from gateway.routes import MANAGERS, READERS
from registry import schemas as registry_schemas


class RegistryRoutes:
    @api(
        "POST",
        "/organizations",
        summary="Register an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.OrganizationCreate,
        response=registry_schemas.OrganizationOut,
        status=201,
        idempotent=True,
    )
    def register_organization(self, call: Call) -> Any:
        """Federations need a level, host units a sector; the parent must fit the hierarchy."""
        return 201, self.registry.call("register_organization", call.body, call.actor.to_dict())

    @api(
        "GET",
        "/organizations",
        summary="List organizations",
        tag="Registry",
        roles=READERS,
        query=registry_schemas.OrganizationFilters,
        response=registry_schemas.OrganizationPage,
    )
    def list_organizations(self, call: Call) -> Any:
        """`parent_id` lists children, `within` a whole subtree; `q` searches names (简/繁)."""
        return self.registry.call("list_organizations", call.query, call.actor.to_dict())

    @api(
        "GET",
        "/organizations/{organization_id}",
        summary="Read an organization",
        tag="Registry",
        roles=READERS,
        response=registry_schemas.OrganizationOut,
    )
    def get_organization(self, call: Call) -> Any:
        return self.registry.call(
            "get_organization", call.path["organization_id"], call.actor.to_dict()
        )

    @api(
        "PATCH",
        "/organizations/{organization_id}",
        summary="Change an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.OrganizationUpdate,
        response=registry_schemas.OrganizationOut,
    )
    def update_organization(self, call: Call) -> Any:
        """Setting `parent_id` moves the organization with its whole subtree."""
        return self.registry.call(
            "update_organization", call.path["organization_id"], call.body, call.actor.to_dict()
        )

    @api(
        "POST",
        "/organizations/{organization_id}/verify",
        summary="Verify an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.StatusChangeRequest,
        response=registry_schemas.OrganizationOut,
    )
    def verify_organization(self, call: Call) -> Any:
        return self._change_status(call, "verify")

    @api(
        "POST",
        "/organizations/{organization_id}/suspend",
        summary="Suspend an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.StatusChangeRequest,
        response=registry_schemas.OrganizationOut,
    )
    def suspend_organization(self, call: Call) -> Any:
        """A reason is required. A suspended provider wins no contracts and is not paid."""
        return self._change_status(call, "suspend")

    @api(
        "POST",
        "/organizations/{organization_id}/reinstate",
        summary="Reinstate an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.StatusChangeRequest,
        response=registry_schemas.OrganizationOut,
    )
    def reinstate_organization(self, call: Call) -> Any:
        return self._change_status(call, "reinstate")

    @api(
        "POST",
        "/organizations/{organization_id}/deregister",
        summary="Deregister an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.StatusChangeRequest,
        response=registry_schemas.OrganizationOut,
    )
    def deregister_organization(self, call: Call) -> Any:
        """Final. A reason is required; an organization with active children cannot go."""
        return self._change_status(call, "deregister")

    def _change_status(self, call: Call, action: str) -> Any:
        return self.registry.call(
            "change_status", call.path["organization_id"], action, call.body, call.actor.to_dict()
        )

    @api(
        "GET",
        "/organizations/{organization_id}/history",
        summary="Status history",
        tag="Registry",
        roles=READERS,
        query=registry_schemas.PageQuery,
        response=registry_schemas.StatusChangePage,
    )
    def organization_history(self, call: Call) -> Any:
        return self.registry.call(
            "status_history", call.path["organization_id"], call.query, call.actor.to_dict()
        )

    @api(
        "GET",
        "/organizations/{organization_id}/coverage",
        summary="Coverage report",
        tag="Registry",
        roles=READERS,
        response=registry_schemas.CoverageOut,
    )
    def coverage(self, call: Call) -> Any:
        """Per sector over the whole subtree: host units, how many have an active women's
        organization as a child, and the rate in percent."""
        return self.registry.call("coverage", call.path["organization_id"], call.actor.to_dict())
