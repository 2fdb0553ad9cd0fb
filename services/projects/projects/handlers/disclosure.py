"""Public disclosure (信息公开): the purchase announcements, the awards, the money paid, the
OCDS releases — for anybody, without login.

These use cases take a ``PublicContext``: no actor (a visitor is nobody in particular, and is
never taken for the system), only the public record, which selects published projects' public
fields. What is public is said in ``projects.domain.disclosure``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from kit.paging import fetched_page
from projects import ocds
from projects.commands import (
    GetAnnouncement,
    ListAnnouncements,
    ListAwards,
    PublicRelease,
    PublicReleases,
)
from projects.context import PublicContext
from projects.domain.contract import Contract
from projects.domain.disclosure import (
    award_status,
    mask_personal,
    masked_release,
    public_indicators,
)
from projects.domain.project import Project
from projects.exceptions import ProjectNotFound


def list_announcements(ctx: PublicContext, command: ListAnnouncements) -> dict[str, Any]:
    fetched = ctx.record.announcements(
        command.page,
        q=command.q,
        category=command.category,
        model=command.model,
        status=command.status,
        purchaser_id=command.purchaser_id,
    )
    page = fetched_page(fetched, command.page)
    page["items"] = [_announcement(row) for row in page["items"]]
    return page


def get_announcement(ctx: PublicContext, command: GetAnnouncement) -> dict[str, Any]:
    """One published project: its announcement, its award once awarded, and the money paid
    so far with each tranche's payment. Anything not published is PROJECT_NOT_FOUND."""
    row = ctx.record.announcement(command.project_id)
    if row is None:
        raise ProjectNotFound(str(command.project_id))
    result = _announcement(row)
    result |= {
        "description": mask_personal(row.description),
        "target_beneficiaries": row.target_beneficiaries,
        "indicators": public_indicators(row.indicators),
        "amount_paid": row.amount_paid,
        "closed_at": row.closed_at,
        "award": None,
        "tranches": [],
    }
    award = ctx.record.award_of(row.id) if row.contract_id else None
    if award is not None:
        result["award"] = _award(award)
        result["tranches"] = [
            {
                "seq": tranche.seq,
                "title": mask_personal(tranche.title),
                "due_on": tranche.due_on,
                "amount": tranche.amount,
                "paid_amount": tranche.paid_amount,
                "paid_at": tranche.paid_at,
            }
            for tranche in ctx.record.tranches(award.id)
        ]
    return result


def list_awards(ctx: PublicContext, command: ListAwards) -> dict[str, Any]:
    fetched = ctx.record.awards(
        command.page,
        q=command.q,
        category=command.category,
        purchaser_id=command.purchaser_id,
        contractor_id=command.contractor_id,
    )
    page = fetched_page(fetched, command.page)
    page["items"] = [_award(row) for row in page["items"]]
    return page


def public_release(ctx: PublicContext, command: PublicRelease) -> dict[str, Any]:
    """The OCDS release package of one published project. No application is given to the
    export: it names no tenderer, only the winner once awarded (as supplier)."""
    project, contract = ctx.record.process(command.project_id)
    if project is None:
        raise ProjectNotFound(str(command.project_id))
    return ocds.package(
        [_release(ctx, project, contract, _parties(ctx, [(project, contract)]))],
        publisher_name=ctx.publisher_name,
        uri=command.uri,
    )


def public_releases(ctx: PublicContext, command: PublicReleases) -> dict[str, Any]:
    """A page of the feed: every published project's release, oldest publication first (a
    project published later is added at the end, so paging stays exact while it grows), and
    the cursor of the next page."""
    fetched, contracts = ctx.record.processes(command.page)
    page = fetched_page(fetched, command.page)
    processes = [
        (p, contracts.get(p.contract_id) if p.contract_id else None) for p in page["items"]
    ]
    parties = _parties(ctx, processes)
    releases = [_release(ctx, project, contract, parties) for project, contract in processes]
    midnight = datetime.combine(ctx.clock.now().astimezone(UTC).date(), time(0), UTC)
    package = ocds.package(
        releases, publisher_name=ctx.publisher_name, uri=command.uri, published_at=midnight
    )
    return {"package": package, "next_cursor": page["next_cursor"], "total": page["total"]}


# --- the public shapes ------------------------------------------------------------------------


def _announcement(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": mask_personal(row.title),
        "category": row.category,
        "model": row.model,
        "purchaser_id": row.purchaser_id,
        "purchaser_name": row.purchaser_name,
        "budget": row.budget,
        "starts_on": row.starts_on,
        "ends_on": row.ends_on,
        "status": row.status,
        "published_at": row.published_at,
    }


def _award(row: Any) -> dict[str, Any]:
    return {
        "contract_id": row.id,
        "project_id": row.project_id,
        "project_title": mask_personal(row.project_title),
        "category": row.category,
        "purchaser_id": row.purchaser_id,
        "purchaser_name": row.purchaser_name,
        "contractor_id": row.contractor_id,
        "contractor_name": row.contractor_name,
        "amount": row.amount,
        "awarded_at": row.awarded_at,
        "status": award_status(row.status),
        "amount_paid": row.amount_paid,
    }


def _parties(
    ctx: PublicContext, processes: list[tuple[Project, Contract | None]]
) -> dict[str, dict[str, Any]]:
    ids = [project.purchaser_id for project, _ in processes]
    ids += [contract.contractor_id for _, contract in processes if contract is not None]
    return ctx.record.parties(ids)


def _release(
    ctx: PublicContext,
    project: Project,
    contract: Contract | None,
    parties: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    release = ocds.release(project, contract, None, parties, ocid_prefix=ctx.ocid_prefix)
    return masked_release(release)
