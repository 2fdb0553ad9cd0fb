"""Walking a list page by page, as a client does, for tests of totals and sort orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def walk(list_page: Callable[[dict[str, Any]], dict[str, Any]], **filters: Any) -> tuple[list, set]:
    """Every item of a list, following ``next_cursor`` to the end, and the totals each page
    announced (one value when they agree)."""
    items: list = []
    totals: set = set()
    cursor = None
    for _ in range(1000):
        page = list_page({**filters, "cursor": cursor})
        items += page["items"]
        totals.add(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, totals
    raise AssertionError("the list did not end")
