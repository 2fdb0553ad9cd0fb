"""The registry's figure set of the annual assessment (目标考核): per child federation, coverage
(组建率) by sector and in total, and the women's organizations founded in the year — from the
counts the database made; and the weights a federation keeps per year (``language.assessment``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.domain.coverage import coverage_rate
from registry.domain.hierarchy import SECTORS


def child_figures(
    child: Mapping[str, Any], counts: Mapping[str | None, tuple[int, int, int]]
) -> dict[str, Any]:
    """One child's row: every sector (zeros included), the total and the new women's
    organizations. ``counts`` maps sector -> (host units, covered, founded)."""
    sectors = []
    total_units = total_covered = 0
    for sector in SECTORS:
        units, covered, _ = counts.get(sector, (0, 0, 0))
        total_units += units
        total_covered += covered
        sectors.append(
            {
                "sector": sector,
                "host_units": units,
                "covered": covered,
                "rate": coverage_rate(covered, units),
            }
        )
    return {
        "organization_id": child["organization_id"],
        "name": child["name"],
        "coverage": {
            "sectors": sectors,
            "total": {
                "host_units": total_units,
                "covered": total_covered,
                "rate": coverage_rate(total_covered, total_units),
            },
        },
        "womens_organizations_founded": sum(line[2] for line in counts.values()),
    }


def weights_change(
    before: Mapping[str, int], after: Mapping[str, int]
) -> dict[str, dict[str, int]]:
    """What a change does, indicator by indicator: {code: {before, after}} for those that
    differ (empty: nothing changes)."""
    return {
        code: {"before": int(before.get(code, 0)), "after": int(value)}
        for code, value in after.items()
        if int(before.get(code, 0)) != int(value)
    }
