"""SQL of the public record: what the disclosure use cases (no login) may read, and nothing else.

Every statement here selects from published projects only (``published_at IS NOT NULL``) and
names the columns it returns: no ``SELECT *`` of a project (its creator, its cancellation
reason), no application, no milestone report, no person. The organizations' names and USCCs
come from the directory copy (the registry's public facts about them; never a contact).
The OCDS feed needs the domain objects the export is built from: they are loaded here for
published projects only, and the export is given no application.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kit.paging import Fetched, PageRequest, fetch_page, ordering
from kit.text import search_key
from language.directory import organizations as directory
from projects.domain.contract import Contract
from projects.domain.project import Project
from projects.models import contracts, milestones, projects, start_mappers

#: the orders of the public lists (``sort=-budget``); the feed is always oldest first
ANNOUNCEMENT_ORDER = ordering(projects, "-published_at", "published_at", "budget", "title")
AWARD_ORDER = ordering(contracts, "-awarded_at", "awarded_at", "amount")
FEED_ORDER = ordering(projects, "published_at", "published_at")

_purchaser = directory.alias("purchaser")
_contractor = directory.alias("contractor")
_PUBLISHED = projects.c.published_at.is_not(None)

#: what a list of announcements shows of each
_ANNOUNCEMENT = (
    projects.c.id,
    projects.c.title,
    projects.c.category,
    projects.c.model,
    projects.c.purchaser_id,
    _purchaser.c.name.label("purchaser_name"),
    projects.c.budget,
    projects.c.starts_on,
    projects.c.ends_on,
    projects.c.status,
    projects.c.published_at,
)
#: and one announcement, besides
_ANNOUNCEMENT_DETAIL = (
    *_ANNOUNCEMENT,
    projects.c.description,
    projects.c.target_beneficiaries,
    projects.c.indicators,
    projects.c.amount_paid,
    projects.c.closed_at,
    projects.c.contract_id,
)
_AWARD = (
    contracts.c.id,
    contracts.c.project_id,
    projects.c.title.label("project_title"),
    projects.c.category,
    projects.c.purchaser_id,
    _purchaser.c.name.label("purchaser_name"),
    contracts.c.contractor_id,
    _contractor.c.name.label("contractor_name"),
    contracts.c.amount,
    contracts.c.awarded_at,
    contracts.c.status,
    projects.c.amount_paid,
)
_TRANCHE = (
    milestones.c.seq,
    milestones.c.title,
    milestones.c.due_on,
    milestones.c.amount,
    milestones.c.paid_amount,
    milestones.c.paid_at,
)


class PublicRecord:
    """Reads of published contracting processes, for anybody."""

    def __init__(self, session: Session) -> None:
        start_mappers()
        self.session = session

    def announcements(
        self,
        page: PageRequest,
        *,
        q: str | None = None,
        category: str | None = None,
        model: str | None = None,
        status: str | None = None,
        purchaser_id: str | None = None,
    ) -> Fetched:
        query = (
            sa.select(*_ANNOUNCEMENT)
            .select_from(projects)
            .outerjoin(_purchaser, _purchaser.c.id == projects.c.purchaser_id)
            .where(_PUBLISHED)
        )
        query = _filtered(query, q=q, category=category, purchaser_id=purchaser_id)
        if model:
            query = query.where(projects.c.model == model)
        if status:
            query = query.where(projects.c.status == status)
        return fetch_page(self.session, query, page, scalars=False)

    def announcement(self, project_id: str) -> Any:
        """The published project's public fields, or None (a draft is, here, not there)."""
        query = (
            sa.select(*_ANNOUNCEMENT_DETAIL)
            .select_from(projects)
            .outerjoin(_purchaser, _purchaser.c.id == projects.c.purchaser_id)
            .where(projects.c.id == str(project_id), _PUBLISHED)
        )
        return self.session.execute(query).first()

    def awards(
        self,
        page: PageRequest,
        *,
        q: str | None = None,
        category: str | None = None,
        purchaser_id: str | None = None,
        contractor_id: str | None = None,
        project_id: str | None = None,
    ) -> Fetched:
        query = _filtered(_awards(), q=q, category=category, purchaser_id=purchaser_id)
        if contractor_id:
            query = query.where(contracts.c.contractor_id == str(contractor_id))
        if project_id:
            query = query.where(contracts.c.project_id == str(project_id))
        return fetch_page(self.session, query, page, scalars=False)

    def award_of(self, project_id: str) -> Any:
        """The award of a published project, or None (not awarded)."""
        return self.session.execute(
            _awards().where(contracts.c.project_id == str(project_id))
        ).first()

    def tranches(self, contract_id: str) -> list[Any]:
        """The contract's tranches in order, with what was paid of each."""
        query = (
            sa.select(*_TRANCHE)
            .where(milestones.c.contract_id == str(contract_id))
            .order_by(milestones.c.seq)
        )
        return list(self.session.execute(query))

    # --- the OCDS export ------------------------------------------------------------------

    def processes(self, page: PageRequest) -> tuple[Fetched, dict[str, Contract]]:
        """A page of published projects (oldest first) and their contracts by id."""
        fetched = fetch_page(self.session, sa.select(Project).where(_PUBLISHED), page)
        return fetched, self._contracts([p.contract_id for p in fetched.rows if p.contract_id])

    def process(self, project_id: str) -> tuple[Project | None, Contract | None]:
        project = self.session.execute(
            sa.select(Project).where(projects.c.id == str(project_id), _PUBLISHED)
        ).scalar()
        if project is None or not project.contract_id:
            return project, None
        return project, self._contracts([project.contract_id]).get(project.contract_id)

    def _contracts(self, ids: list[str]) -> dict[str, Contract]:
        if not ids:
            return {}
        found = self.session.execute(sa.select(Contract).where(contracts.c.id.in_(ids)))
        return {contract.id: contract for contract in found.scalars()}

    def parties(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The organizations' public facts: name and USCC."""
        if not ids:
            return {}
        rows = self.session.execute(
            sa.select(directory.c.id, directory.c.name, directory.c.uscc).where(
                directory.c.id.in_(sorted(set(ids)))
            )
        )
        return {row.id: {"name": row.name, "uscc": row.uscc} for row in rows}


def _awards() -> Any:
    return (
        sa.select(*_AWARD)
        .select_from(contracts)
        .join(projects, projects.c.id == contracts.c.project_id)
        .outerjoin(_purchaser, _purchaser.c.id == projects.c.purchaser_id)
        .outerjoin(_contractor, _contractor.c.id == contracts.c.contractor_id)
        .where(_PUBLISHED)
    )


def _filtered(query: Any, *, q: str | None, category: str | None, purchaser_id: str | None) -> Any:
    if q:
        query = query.where(projects.c.search_title.contains(search_key(q), autoescape=True))
    if category:
        query = query.where(projects.c.category == category)
    if purchaser_id:
        query = query.where(projects.c.purchaser_id == str(purchaser_id))
    return query
