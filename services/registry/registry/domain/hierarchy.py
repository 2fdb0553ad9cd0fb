"""The shape of the hierarchy: kinds, federation levels, host-unit sectors, materialised paths,
and where each kind of organization may sit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.exceptions import InvalidParent, InvalidPlacement

if TYPE_CHECKING:
    from registry.domain.organization import Organization

KINDS = ("federation", "womens_organization", "host_unit", "service_provider")
#: federation levels, top to bottom; a federation's parent is the one a level up
LEVELS = ("national", "province", "city", "county", "township", "village")
SECTORS = (
    "government_agency",
    "public_institution",
    "non_public_enterprise",
    "social_organization",
    "village",
    "community",
)

PATH_SEPARATOR = "/"

#: kind -> (the kinds its parent may be, the rule's name, what the client is told); a
#: federation's parent is checked by level instead (``_check_federation_parent``)
PARENT_KINDS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "host_unit": (
        ("federation",),
        "host_unit_under_federation",
        "a host unit sits under the federation of its area",
    ),
    "womens_organization": (
        ("host_unit", "federation"),
        "womens_organization_under_host_or_federation",
        "a women's organization sits under a host unit or a federation",
    ),
    "service_provider": (
        ("federation",),
        "service_provider_under_federation",
        "a service provider sits under the federation that registered it",
    ),
}


def path_of(organization_id: str, parent_path: str | None) -> str:
    """Materialised path: ``/root-id/.../own-id/``; a subtree is every path with this prefix."""
    return f"{parent_path or PATH_SEPARATOR}{organization_id}{PATH_SEPARATOR}"


def ancestor_ids(path: str) -> list[str]:
    """Ids on the path from the root down to (and including) the node itself."""
    return [part for part in path.split(PATH_SEPARATOR) if part]


def check_placement(
    kind: str, level: str | None, sector: str | None, parent: Organization | None
) -> None:
    """Where each kind may sit.

    * a federation has a level; its parent, if any, is the federation exactly one level up
      (a federation without a parent is the top of this installation);
    * a host unit has a sector and sits under the federation of its area;
    * a women's organization sits under a host unit or a federation;
    * a service provider may sit under the federation that registered it;
    * nothing is placed under a suspended or deregistered organization.
    """
    _check_fields(kind, level, sector)
    if parent is None:
        if kind in ("host_unit", "womens_organization"):
            raise InvalidPlacement(
                f"a {kind.replace('_', ' ')} needs a parent", field="parent_id", rule="required"
            )
        return
    if not parent.is_active:
        raise InvalidParent(
            f"the parent organization is {parent.status}",
            rule="parent_active",
            parent_status=parent.status,
        )
    if kind == "federation":
        assert level is not None
        _check_federation_parent(level, parent)
    elif kind in PARENT_KINDS:
        allowed, rule, message = PARENT_KINDS[kind]
        if parent.kind not in allowed:
            raise InvalidParent(message, rule=rule, parent_kind=parent.kind)


def _check_fields(kind: str, level: str | None, sector: str | None) -> None:
    """Federations, and only they, have a level; host units, and only they, a sector."""
    if kind == "federation":
        if level is None:
            raise InvalidPlacement("a federation needs a level", field="level", rule="required")
    elif level is not None:
        raise InvalidPlacement(
            "only federations have a level", field="level", rule="federations_only"
        )
    if kind == "host_unit":
        if sector is None:
            raise InvalidPlacement("a host unit needs a sector", field="sector", rule="required")
    elif sector is not None:
        raise InvalidPlacement(
            "only host units have a sector", field="sector", rule="host_units_only"
        )


def _check_federation_parent(level: str, parent: Organization) -> None:
    """A federation's parent is the federation exactly one level up (the top one has none)."""
    expected = LEVELS.index(level) - 1
    if parent.kind != "federation" or expected < 0 or parent.level != LEVELS[expected]:
        wanted = f"a {LEVELS[expected]}-level federation" if expected >= 0 else "no parent"
        raise InvalidParent(
            f"a {level}-level federation's parent must be {wanted}",
            rule="federation_one_level_up",
            parent_kind=parent.kind,
            parent_level=parent.level,
        )
