"""Coverage (组建率): the share of host units that have an active women's organization, per
sector and in total, from the counts the database made over a subtree."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from registry.domain.hierarchy import SECTORS
from registry.domain.organization import Organization


def coverage_rate(covered: int, host_units: int) -> Decimal | None:
    """Percentage with one decimal, rounded half up; None when there is nothing to cover."""
    if host_units == 0:
        return None
    return (Decimal(covered) * 100 / Decimal(host_units)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def coverage_report(
    organization: Organization | None, counts: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    """Per sector ``{host_units, covered, rate}`` and a total, from counts the database made
    (``organization`` None: over the whole installation, with no id or name).

    ``counts`` maps sector -> (host units in the subtree, of which covered). Every sector is
    listed, zeros included, so reports line up across nodes.
    """
    sectors = []
    total_units = total_covered = 0
    for sector in SECTORS:
        host_units, covered = counts.get(sector, (0, 0))
        total_units += host_units
        total_covered += covered
        sectors.append(
            {
                "sector": sector,
                "host_units": host_units,
                "covered": covered,
                "rate": coverage_rate(covered, host_units),
            }
        )
    return {
        "organization_id": organization.id if organization else None,
        "name": organization.name if organization else None,
        "sectors": sectors,
        "total": {
            "host_units": total_units,
            "covered": total_covered,
            "rate": coverage_rate(total_covered, total_units),
        },
    }
