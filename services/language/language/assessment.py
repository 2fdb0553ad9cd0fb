"""The annual assessment (目标考核) of a federation's child federations: what every service that
computes a figure set, the registry that keeps the weights and the gateway that merges the
table agree on.

Plain Python. Each service computes its own figures over each child's subtree (one aggregate
query grouped by the child's segment of the materialised ``path``); the gateway merges them by
child and scores them with the weights the registry keeps.

**Who may assess**: admins, and federation staff of the federation or of one above it. Anyone
else is refused (``OUT_OF_SCOPE``), in every service, whatever the gateway let through.

**The year** is the calendar year in China time (UTC+8): from 1 January 00:00 to the next
1 January 00:00.

**Moves in the hierarchy**: a unit's whole year counts for the child it sits under when the
table is computed (the copy's current ``path``); for the running year that is its place at
the end of the year so far. A closed year's table is computed afresh the same way, so a move
after the year's end carries that year's figures along with the unit.

**The score**: each indicator is scaled to the best child (the best = 100, the others in
proportion, 0 when no child has any); a child's score is Σ weight × scaled / Σ weights, one
decimal, half up. A figure a child has no data for (no milestone due: no on-time share, no
host unit: no coverage rate) scales as 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kit.errors import Forbidden, InvalidInput, NotFound
from language.actor import Actor

CHINA = timezone(timedelta(hours=8), "CST")
#: the years one may ask about
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: a weight is a whole number in this range; a federation that sets none gets the default
WEIGHT_RANGE = (0, 100)
DEFAULT_WEIGHT = 10
#: the length of an organization id (a canonical UUID): the child's segment of a path
ID_LENGTH = 36

SCORING_RULE = (
    "每项指标以各下级妇联中的最高值为 100 分折算（其余按比例，均为 0 时记 0 分），"
    "总分 = Σ(权重 × 折算分) ÷ Σ权重，保留一位小数；无数据的指标记 0 分。"
)
SCORING_RULE_EN = (
    "Each indicator is scaled to the best child (best = 100, others in proportion, 0 when no "
    "child has any); score = Σ weight × scaled / Σ weights, one decimal, half up; a figure a "
    "child has no data for scales as 0."
)
MOVES_RULE = (
    "组织在年度内调整隶属关系的，其全年数据计入统计时所在的下级妇联（当年按当前归属，"
    "即截至目前的年末归属）。"
)


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    #: the figure set (service) that computes it
    source: str
    unit: str = ""


INDICATORS: tuple[Indicator, ...] = (
    Indicator("coverage_rate", "组建率", "registry", "%"),
    Indicator("womens_organizations_founded", "当年新建妇女组织", "registry", "个"),
    Indicator("projects_published", "发布项目", "projects", "个"),
    Indicator("projects_completed", "结项项目", "projects", "个"),
    Indicator("on_time_share", "里程碑按期完成率", "projects", "%"),
    Indicator("money_committed", "资金占用", "funding", "分"),
    Indicator("money_paid", "资金支付", "funding", "分"),
    Indicator("volunteers_registered", "新注册志愿者", "volunteers", "人"),
    Indicator("verified_hours", "核验服务时长", "volunteers", "小时"),
    Indicator("activities_held", "开展活动", "volunteers", "次"),
)
INDICATOR_CODES = tuple(indicator.code for indicator in INDICATORS)


class AssessmentOutOfScope(Forbidden):
    code = "OUT_OF_SCOPE"


class FederationNotFound(NotFound):
    code = "FEDERATION_NOT_FOUND"

    def __init__(self, federation_id: str) -> None:
        super().__init__(f"no federation {federation_id}", federation_id=federation_id)


# --- the year --------------------------------------------------------------------------------


def ensure_year(year: Any) -> int:
    """The year as an int, or a 422 on ``year`` (rule ``range``)."""
    try:
        value = int(year)
    except (TypeError, ValueError):
        raise InvalidInput("the year is a whole number", field="year", rule="integer") from None
    if not FIRST_YEAR <= value <= LAST_YEAR:
        raise InvalidInput(
            f"the year lies between {FIRST_YEAR} and {LAST_YEAR}",
            field="year",
            rule="range",
            min=FIRST_YEAR,
            max=LAST_YEAR,
        )
    return value


def year_window(year: int) -> tuple[datetime, datetime]:
    """The year in China time as aware UTC moments: [start, end)."""
    start = datetime(year, 1, 1, tzinfo=CHINA).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA).astimezone(UTC)
    return start, end


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal, half up; None when ``whole`` is 0."""
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


# --- who may assess ----------------------------------------------------------------------------


def ensure_can_assess(actor: Actor, federation_id: str, entry: Mapping[str, Any] | None) -> str:
    """The federation's materialised path, if ``actor`` may assess it: admins any federation,
    federation staff their own and those below it. Anyone else is refused (403
    ``OUT_OF_SCOPE``); a federation nobody knows is a 404."""
    if actor.role not in ("admin", "federation_staff"):
        raise AssessmentOutOfScope(
            f"a {actor.role} does not read the assessment of federations", role=actor.role
        )
    if entry is None or entry.get("kind") != "federation":
        raise FederationNotFound(str(federation_id))
    path = str(entry["path"])
    if actor.is_admin:
        return path
    if not actor.organization_id or f"/{actor.organization_id}/" not in path:
        raise AssessmentOutOfScope(
            "the federation is neither yours nor below yours",
            federation_id=str(federation_id),
            your_federation_id=actor.organization_id,
        )
    return path


def child_of(path: str, parent_path: str) -> str | None:
    """The id of the child of the organization at ``parent_path`` whose subtree holds
    ``path`` (None: ``path`` is the parent itself or outside it)."""
    if not path.startswith(parent_path) or path == parent_path:
        return None
    return path[len(parent_path) :].split("/", 1)[0]


# --- the weights -------------------------------------------------------------------------------


def default_weights() -> dict[str, int]:
    return {code: DEFAULT_WEIGHT for code in INDICATOR_CODES}


def merged_weights(current: Mapping[str, int], changes: Mapping[str, Any]) -> dict[str, int]:
    """``current`` with ``changes`` applied, each checked: a known indicator (``one_of``), a
    whole number from 0 to 100 (``range``); not all zero (``not_all_zero``). A 422 names
    ``weights.<indicator>``."""
    weights = {code: int(current.get(code, DEFAULT_WEIGHT)) for code in INDICATOR_CODES}
    low, high = WEIGHT_RANGE
    for code, value in changes.items():
        if code not in INDICATOR_CODES:
            raise InvalidInput(
                f"no indicator {code!r}",
                field=f"weights.{code}",
                rule="one_of",
                choices=list(INDICATOR_CODES),
            )
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(
                f"a weight is a whole number from {low} to {high}",
                field=f"weights.{code}",
                rule="range",
                min=low,
                max=high,
            )
        weights[code] = value
    if not any(weights.values()):
        raise InvalidInput(
            "at least one weight is above zero", field="weights", rule="not_all_zero"
        )
    return weights


# --- the score ---------------------------------------------------------------------------------


def _number(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def scores(rows: Iterable[Mapping[str, Any]], weights: Mapping[str, int]) -> list[dict[str, Any]]:
    """Per row (a child with its indicators' values): ``scaled`` (indicator -> 0..100, one
    decimal) and ``score`` (one decimal), by ``SCORING_RULE``; rows keep their order."""
    rows = list(rows)
    best = {
        code: max((_number(row.get(code)) for row in rows), default=Decimal(0))
        for code in INDICATOR_CODES
    }
    total_weight = sum(int(weights.get(code, 0)) for code in INDICATOR_CODES)
    one_decimal = Decimal("0.1")
    answers = []
    for row in rows:
        scaled: dict[str, Decimal] = {}
        for code in INDICATOR_CODES:
            top = best[code]
            scaled[code] = _number(row.get(code)) * 100 / top if top > 0 else Decimal(0)
        weighted = sum(int(weights.get(code, 0)) * scaled[code] for code in INDICATOR_CODES)
        score = weighted / total_weight if total_weight else Decimal(0)
        answers.append(
            {
                "scaled": {
                    code: float(value.quantize(one_decimal, ROUND_HALF_UP))
                    for code, value in scaled.items()
                },
                "score": float(Decimal(score).quantize(one_decimal, ROUND_HALF_UP)),
            }
        )
    return answers
