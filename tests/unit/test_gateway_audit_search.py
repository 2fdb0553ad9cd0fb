"""The auditor's merged search over five logs: newest first, exact paging, a silent log left
out and named."""

import pytest

from gateway.auditsearch import LogUnavailable, merged_page
from kit.errors import InvalidInput


def _log(name, stamps):
    """A log's records, seq 1.. in time order, paged newest first below ``cursor``."""
    records = [{"seq": i + 1, "at": at, "action": name} for i, at in enumerate(stamps)]

    def search(filters):
        below = filters.get("cursor")
        rows = [r for r in reversed(records) if below is None or r["seq"] < below]
        page = rows[: filters["limit"]]
        more = len(rows) > filters["limit"]
        return {"items": page, "next_cursor": str(page[-1]["seq"]) if more else None}

    return search


LOGS = {
    "gateway": _log(
        "gateway", ["2026-01-01T00:00:01Z", "2026-01-01T00:00:04Z", "2026-01-01T00:00:09Z"]
    ),
    "registry": _log("registry", ["2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"]),
    "projects": _log(
        "projects",
        [
            "2026-01-01T00:00:05Z",
            "2026-01-01T00:00:06Z",
            "2026-01-01T00:00:07Z",
            "2026-01-01T00:00:08Z",
        ],
    ),
}


def _search(log, filters):
    return LOGS[log](filters)


def test_pages_merge_the_logs_newest_first_without_repeating_or_skipping():
    seen, cursor = [], None
    while True:
        page = merged_page(_search, {}, limit=2, cursor=cursor, logs=tuple(LOGS))
        seen += [r["at"][-3:-1] for r in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["09", "08", "07", "06", "05", "04", "03", "02", "01"]


def test_a_log_that_does_not_answer_is_left_out_and_named():
    def search(log, filters):
        if log == "registry":
            raise LogUnavailable(log)
        return _search(log, filters)

    page = merged_page(search, {}, limit=50, logs=tuple(LOGS))
    assert page.unavailable == ("registry",)
    assert len(page.items) == 7 and page.next_cursor is None


def test_a_forged_cursor_is_a_422_on_cursor():
    with pytest.raises(InvalidInput) as refused:
        merged_page(_search, {}, limit=2, cursor="not-a-cursor", logs=tuple(LOGS))
    assert refused.value.details["field"] == "cursor"
