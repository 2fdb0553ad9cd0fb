"""Figures per child of a federation, over a service's copy of the registry's organizations
(``language.directory``): the child federations, and the column that names the child whose
subtree an organization's path lies in (its segment right after the federation's path), to
GROUP BY in one aggregate query rather than one query per child.

Ids are canonical UUID strings (36 characters), so a child's segment is a fixed-width
``substr``, on SQLite and PostgreSQL alike. Used by the annual assessment (目标考核).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from language.assessment import ID_LENGTH
from language.directory import organizations


def child_column(path_column: Any, parent_path: str) -> Any:
    """The id of the child of the organization at ``parent_path`` whose subtree holds the
    path in ``path_column`` (use with ``within`` below)."""
    return sa.func.substr(path_column, len(parent_path) + 1, ID_LENGTH).label("child")


def within(path_column: Any, parent_path: str) -> Any:
    """Strictly below the organization at ``parent_path`` (an index range scan on PostgreSQL
    with the copy's ``varchar_pattern_ops`` index)."""
    return sa.and_(path_column.like(parent_path + "%"), path_column != parent_path)


def child_federations(session: Session, federation_id: str) -> list[str]:
    """The ids of the federation's child federations the copy knows (not deregistered)."""
    table = organizations
    rows = session.execute(
        sa.select(table.c.id)
        .where(table.c.parent_id == federation_id)
        .where(table.c.kind == "federation")
        .where(sa.or_(table.c.status.is_(None), table.c.status != "deregistered"))
        .order_by(table.c.id)
    )
    return [row.id for row in rows]
