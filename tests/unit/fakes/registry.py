"""The registry's organizations in memory: the same methods and answers as
``registry.repository.OrganizationRepository``, with its SQL done over a dict.

Filters, the subtree (a path prefix), the keyset page (the request's order, NULLs last, the
cursor, ``limit + 1`` rows and the total) and the coverage counts follow the real queries; the
integration tests keep checking those against PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kit.paging import Fetched, PageRequest
from kit.text import search_key
from registry.domain.lifecycle import ACTIVE_STATUSES, StatusChange
from registry.domain.organization import Organization
from registry.exceptions import OrganizationNotFound


def fetch_in_memory(items: list[Any], request: PageRequest) -> Fetched:
    """``kit.paging.fetch_page`` over a list: the request's order (ties last, NULLs after
    every value in either direction), the rows after its cursor, ``limit + 1`` of them, and
    the list's total."""
    if request.sort is None:
        raise ValueError("fetch_in_memory needs a PageRequest made with an ordering")
    sort = request.sort

    def key(item: Any) -> tuple[Any, ...]:
        return (sort.field.value_of(item), *(tie.value_of(item) for tie in sort.ordering.ties))

    def beyond(left: tuple[Any, ...], right: tuple[Any, ...]) -> bool:
        return left < right if sort.descending else left > right

    def after(item_key: tuple[Any, ...], cursor: tuple[Any, ...]) -> bool:
        value, ties = item_key[0], item_key[1:]
        if cursor[0] is None:  # among the NULLs, which come last: only ties decide
            return value is None and beyond(ties, cursor[1:])
        if value is None:
            return True
        return beyond(item_key, cursor)

    present = sorted(
        (item for item in items if key(item)[0] is not None), key=key, reverse=sort.descending
    )
    nulls = sorted(
        (item for item in items if key(item)[0] is None),
        key=lambda item: key(item)[1:],
        reverse=sort.descending,
    )
    ordered = present + nulls
    rows = ordered
    if request.after is not None:
        rows = [item for item in ordered if after(key(item), tuple(request.after))]
    return Fetched(rows=rows[: request.limit + 1], total=len(ordered))


class FakeOrganizationRepository:
    """Organizations and their status changes in dicts; every organization it hands out or
    takes is shown to the unit of work, which collects its events at commit."""

    def __init__(self, uow: Any) -> None:
        self.uow = uow
        self.organizations: dict[str, Organization] = {}
        self.changes: list[StatusChange] = []

    def get(self, organization_id: str, *, for_update: bool = False) -> Organization:
        organization = self.find(organization_id)
        if organization is None:
            raise OrganizationNotFound(str(organization_id))
        return organization

    def find(self, organization_id: str) -> Organization | None:
        organization = self.organizations.get(str(organization_id))
        return self.uow.track(organization) if organization is not None else None

    def add(self, organization: Organization, change: StatusChange) -> None:
        if organization.uscc is not None and self.id_with_uscc(organization.uscc):
            raise AssertionError(f"unique constraint: USCC {organization.uscc}")
        self.organizations[organization.id] = self.uow.track(organization)
        self.add_change(change)

    def add_change(self, change: StatusChange) -> None:
        assert change.organization_id in self.organizations, "foreign key: organization_id"
        self.changes.append(change)

    def id_with_uscc(self, uscc: str) -> str | None:
        return next((o.id for o in self.organizations.values() if o.uscc == uscc), None)

    def active_children(self, organization_id: str) -> int:
        return sum(
            1
            for o in self.organizations.values()
            if o.parent_id == organization_id and o.status != "deregistered"
        )

    def move_descendants(self, old_path: str, new_path: str, depth_delta: int) -> None:
        for organization in self.organizations.values():
            if organization.path.startswith(old_path) and organization.path != old_path:
                organization.path = new_path + organization.path[len(old_path) :]
                organization.depth += depth_delta

    def list(
        self,
        page: PageRequest,
        *,
        kind: str | None = None,
        status: str | None = None,
        parent_id: str | None = None,
        path_prefix: str | None = None,
        exclude_path: str | None = None,
        only_id: str | None = None,
        q: str | None = None,
    ) -> Fetched:
        wanted = search_key(q) if q else None
        found = [
            o
            for o in self.organizations.values()
            if (not kind or o.kind == kind)
            and (not status or o.status == status)
            and (not parent_id or o.parent_id == str(parent_id))
            and (not path_prefix or o.path.startswith(path_prefix))
            and (not exclude_path or o.path != exclude_path)
            and (not only_id or o.id == only_id)
            and (wanted is None or wanted in o.search_name)
        ]
        fetched = fetch_in_memory(found, page)
        for organization in fetched.rows:
            self.uow.track(organization)
        return fetched

    def history(self, organization_id: str, page: PageRequest) -> Fetched:
        own = [c for c in self.changes if c.organization_id == organization_id]
        return fetch_in_memory(own, page)

    def counts_by_kind_and_status(self) -> dict[tuple[str, str], int]:
        return dict(Counter((o.kind, o.status) for o in self.organizations.values()))

    def coverage_counts(self, path: str) -> dict[str, tuple[int, int]]:
        subtree = [o for o in self.organizations.values() if o.path.startswith(path)]
        covered_hosts = {
            o.parent_id
            for o in subtree
            if o.kind == "womens_organization" and o.status in ACTIVE_STATUSES
        }
        units: Counter[str] = Counter()
        covered: Counter[str] = Counter()
        for host in subtree:
            if host.kind == "host_unit" and host.status != "deregistered":
                units[host.sector] += 1
                covered[host.sector] += host.id in covered_hosts
        return {sector: (units[sector], covered[sector]) for sector in units}
