"""Keyset paging: opaque cursors, the limit rule, sort orders and totals shared by every list.

A cursor is the sort key of the last item returned, base64-encoded JSON; a client treats it as
opaque. Keyset paging stays correct while rows are inserted and costs the same on page 1,000
as on page 1 (OFFSET does neither).

A list that lets its reader choose the order declares an ``Ordering``: the fields one may sort
by (``sort=budget`` ascending, ``sort=-budget`` descending; anything else is a 422 on ``sort``),
its default, and the columns that break ties (unique together, never NULL: usually ``id``).
Its cursor is then ``[sort, value, *ties]``: a cursor of another order is refused, and NULLs
sort last in either direction. ``fetch_page`` runs the page and one COUNT under the same WHERE
(the total ignores the cursor).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from kit.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class SortField:
    """A column a list may be ordered by, and where an item of the list holds its value."""

    column: Any
    attribute: str = ""
    nullable: bool = False
    parse: Callable[[Any], Any] | None = None

    @property
    def name(self) -> str:
        return self.attribute or str(self.column.key)

    def value_of(self, item: Any) -> Any:
        if isinstance(item, Mapping):
            return item[self.name]
        return getattr(item, self.name)

    def from_cursor(self, value: Any) -> Any:
        if value is None:
            return None
        if self.parse is not None:
            return self.parse(value)
        kind = getattr(self.column.type, "impl", self.column.type)
        try:
            if isinstance(kind, sa.DateTime):
                return datetime.fromisoformat(value)
            if isinstance(kind, sa.Date):
                return date.fromisoformat(value)
        except (TypeError, ValueError) as exc:
            raise _opaque() from exc
        if isinstance(kind, sa.Integer) and (not isinstance(value, int) or isinstance(value, bool)):
            raise _opaque()
        return value


def _to_cursor(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


@dataclass(frozen=True)
class Sort:
    """One chosen order: a field and a direction."""

    ordering: Ordering
    field: SortField
    descending: bool

    @property
    def token(self) -> str:
        return ("-" if self.descending else "") + self.field.name

    def key_of(self, item: Any) -> list[Any]:
        values = [self.field.value_of(item), *(tie.value_of(item) for tie in self.ordering.ties)]
        return [self.token, *(_to_cursor(v) for v in values)]

    def order_by(self) -> list[Any]:
        columns = [self.field.column, *(tie.column for tie in self.ordering.ties)]
        order = [c.desc() if self.descending else c.asc() for c in columns]
        if self.field.nullable:
            order.insert(0, sa.case((self.field.column.is_(None), 1), else_=0))
        return order

    def after(self, key: tuple[Any, ...]) -> Any:
        """The WHERE clause of the rows that come after ``key`` (value, *ties) in this order."""
        value, ties = key[0], key[1:]
        column = self.field.column
        tie_columns = [tie.column for tie in self.ordering.ties]

        def beyond(left: list[Any], right: Sequence[Any]) -> Any:
            lhs = left[0] if len(left) == 1 else sa.tuple_(*left)
            rhs = right[0] if len(right) == 1 else tuple(right)
            return lhs < rhs if self.descending else lhs > rhs

        if value is None:  # among the NULLs, which come last: only ties decide
            return sa.and_(column.is_(None), beyond(tie_columns, ties))
        if not self.field.nullable:
            return beyond([column, *tie_columns], [value, *ties])
        return sa.or_(
            beyond([column], [value]),
            sa.and_(column == value, beyond(tie_columns, ties)),
            column.is_(None),
        )


@dataclass(frozen=True)
class Ordering:
    """The orders one list offers: ``fields`` by name, the ``default`` (``-created_at``) and
    the ``ties`` that make every key unique."""

    fields: Mapping[str, SortField]
    default: str
    ties: tuple[SortField, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.parse(self.default)  # a typo in a default fails at import, not on a request

    @property
    def choices(self) -> list[str]:
        return [f"{sign}{name}" for name in self.fields for sign in ("", "-")]

    def parse(self, sort: str | None) -> Sort:
        token = sort or self.default
        name = token[1:] if token.startswith("-") else token
        if name not in self.fields:
            raise InvalidInput(
                f"sort must be one of: {', '.join(self.choices)}",
                field="sort",
                rule="one_of",
            )
        return Sort(self, self.fields[name], descending=token.startswith("-"))


def ordering(
    table: Any,
    default: str,
    *names: str,
    nullable: Sequence[str] = (),
    ties: Sequence[str] = ("id",),
) -> Ordering:
    """An ``Ordering`` over columns of one table, each sorted by its own name."""
    return Ordering(
        fields={name: SortField(table.c[name], nullable=name in nullable) for name in names},
        default=default,
        ties=tuple(SortField(table.c[name]) for name in ties),
    )


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: tuple[Any, ...] | None = None
    sort: Sort | None = None


def encode_cursor(key: tuple[Any, ...] | list[Any]) -> str:
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _opaque() -> InvalidInput:
    return InvalidInput("cursor is not one this API issued", field="cursor", rule="opaque")


def decode_cursor(cursor: str, arity: int) -> tuple[Any, ...]:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _opaque() from exc
    if not isinstance(key, list) or len(key) != arity:
        raise _opaque()
    return tuple(key)


def page_request(
    limit: int | None,
    cursor: str | None,
    arity: int = 0,
    *,
    ordering: Ordering | None = None,
    sort: str | None = None,
) -> PageRequest:
    """The page asked for. With an ``ordering``, ``sort`` chooses one of its orders and the
    cursor must be one issued under that same order (``arity`` is then not used)."""
    if limit is None:
        limit = DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be an integer from 1 to {MAX_LIMIT}", field="limit", rule="range"
        )
    if ordering is None:
        after = decode_cursor(cursor, arity) if cursor else None
        return PageRequest(limit=limit, after=after)
    chosen = ordering.parse(sort)
    after = None
    if cursor:
        key = decode_cursor(cursor, 2 + len(ordering.ties))
        if key[0] != chosen.token:
            raise _opaque()
        fields = [chosen.field, *ordering.ties]
        after = tuple(f.from_cursor(v) for f, v in zip(fields, key[1:], strict=True))
        if any(v is None for v in after[1:]) or (after[0] is None and not chosen.field.nullable):
            raise _opaque()
    return PageRequest(limit=limit, after=after, sort=chosen)


@dataclass(frozen=True)
class Fetched:
    """Rows of one page (``limit + 1`` at most, for ``page`` to cut) and the list's total."""

    rows: list[Any]
    total: int


def sorted_page_request(filters: dict[str, Any], ordering: Ordering) -> PageRequest:
    """The page a list's loaded filters ask for, under one of ``ordering``'s orders: takes
    ``limit``, ``cursor`` and ``sort`` out of ``filters`` (what remains filters the rows)."""
    return page_request(
        filters.pop("limit", None),
        filters.pop("cursor", None),
        ordering=ordering,
        sort=filters.pop("sort", None),
    )


def count(session: Any, query: Any) -> int:
    """How many rows ``query`` (a SELECT with its filters, no paging) gives."""
    counted = sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    return int(session.execute(counted).scalar_one())


def fetch_page(
    session: Any, query: Any, request: PageRequest, *, scalars: bool = True, total: bool = True
) -> Fetched:
    """Run ``query`` (a SELECT with its filters) as the page ``request`` asks for, in its sort
    order and after its cursor, and count the whole list under the same filters."""
    if request.sort is None:
        raise ValueError("fetch_page needs a PageRequest made with an ordering")
    paged = query
    if request.after is not None:
        paged = paged.where(request.sort.after(request.after))
    paged = paged.order_by(*request.sort.order_by()).limit(request.limit + 1)
    result = session.execute(paged)
    rows = list(result.scalars() if scalars else result)
    if not total:
        return Fetched(rows=rows, total=-1)
    if request.after is None and len(rows) <= request.limit:
        return Fetched(rows=rows, total=len(rows))  # the whole list is this one page
    return Fetched(rows=rows, total=count(session, query))


def page(
    items: list[Any],
    request: PageRequest,
    key_of: Any = None,
    *,
    total: int | None = None,
) -> dict[str, Any]:
    """Cut a list fetched with ``limit + 1`` rows into a page and its next cursor (the sort's
    key when the request has one, else ``key_of``), with the list's ``total`` when given."""
    has_more = len(items) > request.limit
    items = items[: request.limit]
    next_cursor = None
    if has_more and items:
        key = request.sort.key_of(items[-1]) if request.sort is not None else key_of(items[-1])
        next_cursor = encode_cursor(key)
    result: dict[str, Any] = {"items": items, "next_cursor": next_cursor}
    if total is not None:
        result["total"] = total
    return result


def fetched_page(fetched: Fetched, request: PageRequest) -> dict[str, Any]:
    """``page`` of what ``fetch_page`` fetched."""
    return page(fetched.rows, request, total=fetched.total)


def sort_param(ordering: Ordering) -> Any:
    """The ``sort`` query field of a list's filter schema (documented with its choices; the
    choice itself is checked by ``page_request``: 422 on ``sort``, rule ``one_of``)."""
    from marshmallow import fields

    return fields.String(
        load_default=None,
        metadata={
            "description": "order of the list: a field name, ascending, or with a leading "
            f"`-`, descending (NULLs last either way); default `{ordering.default}`",
            "enum": ordering.choices,
        },
    )


def total_field() -> Any:
    """The ``total`` of a page schema."""
    from marshmallow import fields

    return fields.Integer(
        metadata={"description": "how many items the list has under these filters (all pages)"}
    )


def page_schema(item: type[Any], name: str | None = None) -> type[Any]:
    """The marshmallow schema of a page of ``item``: ``items``, ``next_cursor`` and ``total``
    (``TeamPage = page_schema(TeamOut)``), one definition for every list of the platform."""
    from marshmallow import Schema, fields

    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "next_cursor": fields.String(allow_none=True),
            "total": total_field(),
        },
        name=name or item.__name__.removesuffix("Out") + "Page",
    )
