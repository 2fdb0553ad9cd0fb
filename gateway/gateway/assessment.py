"""The annual assessment's table (目标考核): each service's figure set merged by child
federation, scored with the federation's weights (``language.assessment``), and the same table
as spreadsheet rows with Chinese headers.

The registry's figure set names the rows (the child federations, by name); a child another
service does not know yet (its copy of the registry lags by an event) gets zeros there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from language.assessment import INDICATORS, MOVES_RULE, SCORING_RULE, scores

SECTOR_LABELS = {
    "government_agency": "机关",
    "public_institution": "事业单位",
    "non_public_enterprise": "非公有制企业",
    "social_organization": "社会组织",
    "village": "行政村",
    "community": "城市社区",
}
#: the figure sets and the fields each gives a row
FIGURE_FIELDS = {
    "projects": (
        "projects_published",
        "projects_completed",
        "milestones_due",
        "milestones_on_time",
        "on_time_share",
    ),
    "funding": ("money_committed", "money_paid"),
    "volunteers": (
        "volunteers_registered",
        "verified_minutes",
        "verified_hours",
        "activities_held",
    ),
}


def _by_child(figures: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {row["organization_id"]: row for row in figures.get("children", [])}


def merge(
    registry: Mapping[str, Any],
    others: Mapping[str, Mapping[str, Any]],
    weights: Mapping[str, Any],
) -> dict[str, Any]:
    """The table: one row per child federation with every figure, its scaled indicators,
    score and rank (1 = best; equal scores share a rank), in the registry's order (by name)."""
    looked_up = {name: _by_child(figures) for name, figures in others.items()}
    rows = []
    for child in registry["children"]:
        child_id = child["organization_id"]
        total = child["coverage"]["total"]
        row: dict[str, Any] = {
            "organization_id": child_id,
            "name": child["name"],
            "coverage_rate": total["rate"],
            "host_units": total["host_units"],
            "covered": total["covered"],
            "sectors": child["coverage"]["sectors"],
            "womens_organizations_founded": child["womens_organizations_founded"],
        }
        for name, fields in FIGURE_FIELDS.items():
            found = looked_up.get(name, {}).get(child_id, {})
            for field in fields:
                row[field] = found.get(field, None if field == "on_time_share" else 0)
        rows.append(row)
    for row, scored in zip(rows, scores(rows, weights["weights"]), strict=True):
        row.update(scored)
    ordered = sorted((row["score"] for row in rows), reverse=True)
    for row in rows:
        row["rank"] = ordered.index(row["score"]) + 1
    return {
        "federation_id": registry["federation_id"],
        "name": registry["name"],
        "year": registry["year"],
        "scoring_rule": SCORING_RULE,
        "moves_rule": MOVES_RULE,
        "weights_source": weights["source"],
        "indicators": [
            {
                "code": indicator.code,
                "label": indicator.label,
                "unit": indicator.unit,
                "weight": int(weights["weights"].get(indicator.code, 0)),
            }
            for indicator in INDICATORS
        ],
        "rows": rows,
    }


# --- as a spreadsheet ----------------------------------------------------------------------------

HEADER = (
    "排名",
    "下级妇联",
    "总分",
    "组建率(%)",
    "建会单位数",
    "已建妇女组织的单位数",
    *(f"组建率·{label}(%)" for label in SECTOR_LABELS.values()),
    "当年新建妇女组织",
    "发布项目",
    "结项项目",
    "里程碑应完成",
    "里程碑按期完成",
    "里程碑按期完成率(%)",
    "资金占用(元)",
    "资金支付(元)",
    "新注册志愿者",
    "核验服务时长(小时)",
    "开展活动",
)


def yuan(fen: int) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def sheet_rows(table: Mapping[str, Any], *, as_text: bool = False) -> Iterator[list[Any]]:
    """The rows under ``HEADER``, best score first; money in 元 (text with two decimals for a
    CSV, numbers for a workbook); no value (no host unit, no milestone due) is empty."""

    def money(fen: int) -> Any:
        return f"{yuan(fen):.2f}" if as_text else yuan(fen)

    for row in sorted(table["rows"], key=lambda r: (r["rank"], r["name"])):
        rates = {line["sector"]: line["rate"] for line in row["sectors"]}
        yield [
            row["rank"],
            row["name"],
            row["score"],
            row["coverage_rate"],
            row["host_units"],
            row["covered"],
            *(rates.get(sector) for sector in SECTOR_LABELS),
            row["womens_organizations_founded"],
            row["projects_published"],
            row["projects_completed"],
            row["milestones_due"],
            row["milestones_on_time"],
            row["on_time_share"],
            money(row["money_committed"]),
            money(row["money_paid"]),
            row["volunteers_registered"],
            row["verified_hours"],
            row["activities_held"],
        ]


def weights_rows(table: Mapping[str, Any]) -> Iterator[list[Any]]:
    """Below the table in a workbook: the weights and the rule the scores follow."""
    yield []
    yield ["指标", "权重"]
    for indicator in table["indicators"]:
        yield [indicator["label"], indicator["weight"]]
    yield []
    yield ["评分规则", table["scoring_rule"]]
    yield ["隶属调整", table["moves_rule"]]
