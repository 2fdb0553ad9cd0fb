"""The keyset helper of kit.paging: sort orders, cursors and totals, against a real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit import paging
from kit.db import UTCDateTime
from kit.errors import InvalidInput

metadata = sa.MetaData()
things = sa.Table(
    "things",
    metadata,
    sa.Column("id", sa.String(8), primary_key=True),
    sa.Column("name", sa.String(20), nullable=False),
    sa.Column("budget", sa.Integer(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("starts_on", sa.Date(), nullable=True),
)
ORDERING = paging.ordering(
    things,
    "-created_at",
    "name",
    "budget",
    "created_at",
    "starts_on",
    nullable=("budget", "starts_on"),
)
SORTS = ORDERING.choices
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine():
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    return engine


def expected_order(rows: list[dict], sort: str) -> list[str]:
    """NULLs last in either direction; ties broken by id in the sort's direction."""
    name = sort.lstrip("-")
    descending = sort.startswith("-")
    present = sorted(
        (r for r in rows if r[name] is not None),
        key=lambda r: (r[name], r["id"]),
        reverse=descending,
    )
    missing = sorted(
        (r for r in rows if r[name] is None), key=lambda r: r["id"], reverse=descending
    )
    return [r["id"] for r in present + missing]


def walk(session, sort: str, limit: int) -> tuple[list[str], list[int]]:
    seen: list[str] = []
    totals: list[int] = []
    cursor = None
    for _ in range(1000):
        request = paging.page_request(limit, cursor, ordering=ORDERING, sort=sort)
        result = paging.fetched_page(
            paging.fetch_page(session, sa.select(things), request, scalars=False), request
        )
        seen += [row.id for row in result["items"]]
        totals.append(result["total"])
        cursor = result["next_cursor"]
        if cursor is None:
            return seen, totals
    raise AssertionError("paging did not end")


row_strategy = st.fixed_dictionaries(
    {
        "name": st.text(alphabet="ab妇联", min_size=1, max_size=3),
        "budget": st.none() | st.integers(min_value=-3, max_value=3),
        "minutes": st.integers(min_value=0, max_value=4),
        "days": st.none() | st.integers(min_value=0, max_value=3),
    }
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(row_strategy, max_size=25),
    sort=st.sampled_from(SORTS),
    limit=st.integers(min_value=1, max_value=7),
)
def test_paging_through_every_page_gives_every_row_once_in_order(engine, rows, sort, limit):
    records = [
        {
            "id": f"{n:04d}",
            "name": r["name"],
            "budget": r["budget"],
            "created_at": T0 + timedelta(minutes=r["minutes"]),
            "starts_on": None if r["days"] is None else (T0 + timedelta(days=r["days"])).date(),
        }
        for n, r in enumerate(rows)
    ]
    with engine.connect() as connection:
        transaction = connection.begin()
        if records:
            connection.execute(things.insert(), records)
        seen, totals = walk(connection, sort, limit)
        transaction.rollback()

    assert seen == expected_order(records, sort)
    assert set(totals) == {len(records)}


def test_a_filtered_list_counts_under_the_same_filter(engine):
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(
            things.insert(),
            [
                {"id": f"{n}", "name": "a" if n % 3 else "b", "budget": n, "created_at": T0}
                for n in range(10)
            ],
        )
        request = paging.page_request(2, None, ordering=ORDERING, sort="-budget")
        fetched = paging.fetch_page(
            connection, sa.select(things).where(things.c.name == "a"), request, scalars=False
        )
        transaction.rollback()

    result = paging.fetched_page(fetched, request)
    assert [row.budget for row in result["items"]] == [8, 7]
    assert result["total"] == 6
    assert result["next_cursor"] is not None


def test_the_default_order_applies_without_sort():
    assert paging.page_request(5, None, ordering=ORDERING).sort.token == "-created_at"


@pytest.mark.parametrize("sort", ["price", "-price", "--budget", "id", "", "budget,name"])
def test_an_unknown_sort_is_a_422_on_sort(sort):
    if sort == "":
        return  # empty means the default
    with pytest.raises(InvalidInput) as caught:
        paging.page_request(5, None, ordering=ORDERING, sort=sort)

    assert caught.value.details == {"field": "sort", "rule": "one_of"}
    assert "-budget" in str(caught.value)


def test_a_cursor_of_another_order_is_refused():
    request = paging.page_request(1, None, ordering=ORDERING, sort="budget")
    cursor = paging.encode_cursor(request.sort.key_of({"budget": 3, "id": "x"}))

    assert paging.page_request(1, cursor, ordering=ORDERING, sort="budget").after == (3, "x")
    with pytest.raises(InvalidInput) as caught:
        paging.page_request(1, cursor, ordering=ORDERING, sort="-budget")
    assert caught.value.details == {"field": "cursor", "rule": "opaque"}


@pytest.mark.parametrize(
    "key",
    [
        ["-created_at", "not a time", "x"],
        ["-created_at", None, "x"],  # created_at is never NULL
        ["-created_at", "2026-01-01T00:00:00+00:00", None],
        ["budget", "3", "x"],  # budget is an integer
    ],
)
def test_a_forged_cursor_is_refused(key):
    sort = key[0]
    with pytest.raises(InvalidInput) as caught:
        paging.page_request(1, paging.encode_cursor(key), ordering=ORDERING, sort=sort)

    assert caught.value.details == {"field": "cursor", "rule": "opaque"}


def test_a_list_that_fits_on_its_first_page_is_counted_without_a_second_query(engine):
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(
            things.insert(),
            [{"id": f"{n}", "name": "a", "budget": n, "created_at": T0} for n in range(3)],
        )
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            short = paging.fetch_page(
                connection,
                sa.select(things),
                paging.page_request(5, None, ordering=ORDERING),
                scalars=False,
            )
            long = paging.fetch_page(
                connection,
                sa.select(things),
                paging.page_request(2, None, ordering=ORDERING),
                scalars=False,
            )
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)
        transaction.rollback()

    assert (short.total, long.total) == (3, 3)
    assert len(statements) == 3  # the short page: one; the long one: the page and its COUNT
    assert "count(" in statements[-1].lower()
