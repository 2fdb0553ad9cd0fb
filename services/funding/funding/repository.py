"""SQL for funding: sources, commitments, disbursements, the journal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from funding.domain.adjustments import SourceAdjustment
from funding.domain.commitments import Commitment
from funding.domain.disbursements import Disbursement
from funding.domain.ledger import JournalEntry
from funding.domain.sources import FundingSource
from funding.exceptions import (
    AdjustmentNotFound,
    CommitmentNotFound,
    DisbursementNotFound,
    SourceNotFound,
)
from funding.models import (
    commitments,
    disbursements,
    ended_projects,
    funding_sources,
    journal_entries,
    overdue_milestones,
    provider_verifications,
    refused_commitments,
    source_adjustments,
    start_mappers,
)
from kit.paging import Fetched, PageRequest, fetch_page, ordering
from language.directory import organizations as directory

#: the orders a person may list sources and disbursements in (``sort=amount``, ``sort=-amount``);
#: adjustments and the journal keep theirs (the oldest first)
SOURCE_ORDER = ordering(
    funding_sources, "created_at", "name", "fiscal_year", "amount", "available", "created_at"
)
DISBURSEMENT_ORDER = ordering(disbursements, "requested_at", "requested_at", "amount")
ADJUSTMENT_ORDER = ordering(source_adjustments, "requested_at", "requested_at")
JOURNAL_ORDER = ordering(journal_entries, "at", "at", ties=("transaction_id", "line"))
COMMITMENT_ORDER = ordering(commitments, "created_at", "created_at", "amount")


def _owned_within(path: str) -> Any:
    return sa.select(directory.c.id).where(directory.c.path.like(path + "%"))


def _sources_within(path: str) -> Any:
    return sa.select(funding_sources.c.id).where(
        funding_sources.c.owner_id.in_(_owned_within(path))
    )


#: what the workbench sums over a year's sources
SOURCE_SUMS = ("amount", "committed", "paid", "available")


def _disbursements_where(
    query: Any,
    *,
    within_path: str | None = None,
    status: str | None = None,
    contract_id: str | None = None,
    payee_id: str | None = None,
    source_id: str | None = None,
    paid_from: datetime | None = None,
    paid_before: datetime | None = None,
) -> Any:
    """The WHERE of the disbursements list and of its figures (one rule for both)."""
    table = disbursements
    if within_path is not None:
        query = query.where(table.c.source_id.in_(_sources_within(within_path)))
    for column, value in (
        (table.c.status, status),
        (table.c.contract_id, contract_id),
        (table.c.payee_id, payee_id),
        (table.c.source_id, source_id),
    ):
        if value:
            query = query.where(column == str(value))
    if paid_from is not None:
        query = query.where(table.c.paid_at >= paid_from)
    if paid_before is not None:
        query = query.where(table.c.paid_at < paid_before)
    return query


class FundingRepository:
    def __init__(self, session: Session) -> None:
        start_mappers()
        self.session = session

    def add(self, *entities: Any) -> None:
        self.session.add_all(entities)

    # --- sources ----------------------------------------------------------------------------

    def source(self, source_id: str, *, for_update: bool = False) -> FundingSource:
        source = self.find_source(source_id, for_update=for_update)
        if source is None:
            raise SourceNotFound(str(source_id))
        return source

    def find_source(self, source_id: str, *, for_update: bool = False) -> FundingSource | None:
        return self.session.get(
            FundingSource,
            str(source_id),
            with_for_update=for_update or None,
            populate_existing=for_update,
        )

    def list_sources(
        self,
        page: PageRequest,
        *,
        owner_id: str | None = None,
        fiscal_year: int | None = None,
        kind: str | None = None,
        within_path: str | None = None,
        available_below: int | None = None,
    ) -> Fetched:
        table = funding_sources
        query = sa.select(FundingSource)
        if available_below is not None:
            query = query.where(table.c.available < available_below)
        if within_path is not None:
            query = query.where(table.c.owner_id.in_(_owned_within(within_path)))
        if owner_id:
            query = query.where(table.c.owner_id == owner_id)
        if fiscal_year:
            query = query.where(table.c.fiscal_year == fiscal_year)
        if kind:
            query = query.where(table.c.kind == kind)
        return fetch_page(self.session, query, page)

    def source_figures(self, *, within_path: str | None, fiscal_year: int) -> dict[str, int]:
        """The money of a fiscal year's sources in a subtree (None: everywhere), summed by the
        database: how many, put in, committed, paid, available."""
        table = funding_sources
        query = sa.select(
            sa.func.count(),
            *(sa.func.coalesce(sa.func.sum(table.c[name]), 0) for name in SOURCE_SUMS),
        ).where(table.c.fiscal_year == fiscal_year)
        if within_path is not None:
            query = query.where(table.c.owner_id.in_(_owned_within(within_path)))
        count, *sums = self.session.execute(query).one()
        return {"count": int(count), **{n: int(v) for n, v in zip(SOURCE_SUMS, sums, strict=True)}}

    # --- commitments ------------------------------------------------------------------------

    def commitment(self, contract_id: str, *, for_update: bool = False) -> Commitment:
        commitment = self.find_commitment(contract_id, for_update=for_update)
        if commitment is None:
            raise CommitmentNotFound(str(contract_id))
        return commitment

    def find_commitment(self, contract_id: str, *, for_update: bool = False) -> Commitment | None:
        query = sa.select(Commitment).where(commitments.c.contract_id == str(contract_id))
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.execute(query).scalar()

    def list_commitments(
        self,
        page: PageRequest,
        *,
        source_id: str | None = None,
        payee_id: str | None = None,
        within_path: str | None = None,
    ) -> Fetched:
        """Oldest first by default (by when the contract's money was committed)."""
        table = commitments
        query = sa.select(Commitment)
        if within_path is not None:
            query = query.where(table.c.source_id.in_(_sources_within(within_path)))
        if source_id:
            query = query.where(table.c.source_id == str(source_id))
        if payee_id:
            query = query.where(table.c.payee_id == str(payee_id))
        return fetch_page(self.session, query, page)

    def names(self, organization_ids: set[str]) -> dict[str, str]:
        """Organizations' names as the directory copy has them (one statement)."""
        if not organization_ids:
            return {}
        rows = self.session.execute(
            sa.select(directory.c.id, directory.c.name).where(
                directory.c.id.in_(sorted(organization_ids))
            )
        )
        return {row.id: row.name for row in rows if row.name}

    def source_names(self, source_ids: set[str]) -> dict[str, str]:
        if not source_ids:
            return {}
        rows = self.session.execute(
            sa.select(funding_sources.c.id, funding_sources.c.name).where(
                funding_sources.c.id.in_(sorted(source_ids))
            )
        )
        return {row.id: row.name for row in rows}

    def commitments_of_project(self, project_id: str) -> list[Commitment]:
        return list(
            self.session.execute(
                sa.select(Commitment)
                .where(commitments.c.project_id == str(project_id))
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalars()
        )

    # --- disbursements ----------------------------------------------------------------------

    def disbursement(self, disbursement_id: str, *, for_update: bool = False) -> Disbursement:
        disbursement = self.session.get(
            Disbursement,
            str(disbursement_id),
            with_for_update=for_update or None,
            populate_existing=for_update,
        )
        if disbursement is None:
            raise DisbursementNotFound(str(disbursement_id))
        return disbursement

    def disbursement_for_milestone(self, milestone_id: str) -> Disbursement | None:
        return self.session.execute(
            sa.select(Disbursement).where(disbursements.c.milestone_id == str(milestone_id))
        ).scalar()

    def open_disbursements_of(self, contract_id: str) -> list[Disbursement]:
        return list(
            self.session.execute(
                sa.select(Disbursement)
                .where(disbursements.c.contract_id == str(contract_id))
                .where(disbursements.c.status.in_(("pending", "held")))
            ).scalars()
        )

    def payee_entry(self, payee_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        """The payee's directory entry (``for_update`` locks its row)."""
        query = sa.select(directory).where(directory.c.id == str(payee_id))
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).first()
        return dict(row._mapping) if row is not None else None

    def disbursements_of_payee(self, payee_id: str) -> list[Disbursement]:
        return list(
            self.session.execute(
                sa.select(Disbursement)
                .where(disbursements.c.payee_id == str(payee_id))
                .where(disbursements.c.status.in_(("pending", "approved", "held")))
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalars()
        )

    def list_disbursements(
        self,
        page: PageRequest,
        *,
        status: str | None = None,
        contract_id: str | None = None,
        payee_id: str | None = None,
        source_id: str | None = None,
        within_path: str | None = None,
        paid_from: datetime | None = None,
        paid_before: datetime | None = None,
    ) -> Fetched:
        """Oldest first by default: the approval queue is worked from the longest-waiting
        request."""
        query = _disbursements_where(
            sa.select(Disbursement),
            within_path=within_path,
            status=status,
            contract_id=contract_id,
            payee_id=payee_id,
            source_id=source_id,
            paid_from=paid_from,
            paid_before=paid_before,
        )
        return fetch_page(self.session, query, page)

    def disbursement_figures(self, **filters: Any) -> dict[str, Any]:
        """How many disbursements the list's filters keep, their amount and the oldest
        request among them: one aggregate over the list's own WHERE."""
        query = _disbursements_where(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(disbursements.c.amount), 0),
                sa.func.min(disbursements.c.requested_at),
            ),
            **filters,
        )
        count, amount, oldest = self.session.execute(query).one()
        if isinstance(oldest, datetime) and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return {"count": int(count), "amount": int(amount), "oldest_requested_at": oldest}

    def approval_queue_figures(self) -> dict[str, Any]:
        count, fen, oldest = self.session.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(disbursements.c.amount), 0),
                sa.func.min(disbursements.c.requested_at),
            ).where(disbursements.c.status == "pending")
        ).one()
        if oldest is not None and oldest.tzinfo is None:
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        return {"count": count, "fen": int(fen), "oldest": oldest}

    # --- overdue milestones' holds ------------------------------------------------------

    def disbursements_of_contract(self, contract_id: str) -> list[Disbursement]:
        """The contract's disbursements a hold may still touch (pending, approved, held),
        locked."""
        return list(
            self.session.execute(
                sa.select(Disbursement)
                .where(disbursements.c.contract_id == str(contract_id))
                .where(disbursements.c.status.in_(("pending", "approved", "held")))
                .order_by(disbursements.c.requested_at, disbursements.c.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalars()
        )

    def mark_overdue(self, contract_id: str, milestone_id: str, due_on: Any, at: Any) -> bool:
        """Remember the milestone as overdue; False if it was already."""
        known = self.session.execute(
            sa.select(overdue_milestones.c.milestone_id).where(
                overdue_milestones.c.milestone_id == str(milestone_id)
            )
        ).first()
        if known is not None:
            return False
        self.session.execute(
            sa.insert(overdue_milestones).values(
                milestone_id=str(milestone_id),
                contract_id=str(contract_id),
                due_on=due_on,
                since=at,
            )
        )
        return True

    def clear_overdue(self, milestone_id: str) -> bool:
        """Forget the milestone as overdue (its report was accepted); False if it was not."""
        deleted = self.session.execute(
            sa.delete(overdue_milestones).where(
                overdue_milestones.c.milestone_id == str(milestone_id)
            )
        )
        return bool(deleted.rowcount)  # type: ignore[attr-defined]

    def overdue_count(self, contract_id: str) -> int:
        return int(
            self.session.execute(
                sa.select(sa.func.count()).where(
                    overdue_milestones.c.contract_id == str(contract_id)
                )
            ).scalar_one()
        )

    def overdue_hold_figures(self) -> dict[str, int]:
        """Disbursements held for an overdue milestone, and their money (fen)."""
        count, fen = self.session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(disbursements.c.amount), 0))
            .where(disbursements.c.status == "held")
            .where(disbursements.c.hold_reasons.like("%milestone_overdue%"))
        ).one()
        return {"count": int(count), "fen": int(fen)}

    def payment_reference_used(self, reference: str) -> str | None:
        return self.session.execute(
            sa.select(disbursements.c.id).where(disbursements.c.payment_reference == reference)
        ).scalar()

    # --- journal ----------------------------------------------------------------------------

    def journal(
        self,
        page: PageRequest,
        *,
        source_id: str | None = None,
        contract_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        within_path: str | None = None,
    ) -> Fetched:
        table = journal_entries
        query = sa.select(JournalEntry)
        if within_path is not None:
            query = query.where(table.c.source_id.in_(_sources_within(within_path)))
        if source_id:
            query = query.where(table.c.source_id == source_id)
        if contract_id:
            query = query.where(table.c.contract_id == contract_id)
        if since:
            query = query.where(table.c.at >= since)
        if until:
            query = query.where(table.c.at < until)
        return fetch_page(self.session, query, page)

    def account_balances(self, **filters: str) -> dict[str, int]:
        """Debit-minus-credit per account, summed by the database."""
        query = sa.select(
            journal_entries.c.account,
            sa.func.sum(journal_entries.c.debit - journal_entries.c.credit),
        ).group_by(journal_entries.c.account)
        for name, value in filters.items():
            query = query.where(journal_entries.c[name] == value)
        return {account: int(total) for account, total in self.session.execute(query)}

    def monthly(
        self,
        *,
        source_id: str | None = None,
        fiscal_year: int | None = None,
        within_path: str | None = None,
    ) -> list[Any]:
        """Money moved per month and kind of transaction (the debit side of each)."""
        month = self._china_month(journal_entries.c.at)
        query = (
            sa.select(
                month.label("month"), journal_entries.c.kind, sa.func.sum(journal_entries.c.debit)
            )
            .group_by(month, journal_entries.c.kind)
            .order_by(month, journal_entries.c.kind)
        )
        if within_path is not None:
            query = query.where(journal_entries.c.source_id.in_(_sources_within(within_path)))
        if source_id:
            query = query.where(journal_entries.c.source_id == source_id)
        if fiscal_year:
            source_ids = sa.select(funding_sources.c.id).where(
                funding_sources.c.fiscal_year == fiscal_year
            )
            query = query.where(journal_entries.c.source_id.in_(source_ids))
        return list(self.session.execute(query))

    def _china_month(self, column: Any) -> Any:
        """'YYYY-MM' of a moment in China time: financial months follow the local calendar."""
        if self.session.get_bind().dialect.name == "postgresql":
            return sa.func.to_char(sa.func.timezone("Asia/Shanghai", column), "YYYY-MM")
        return sa.func.strftime("%Y-%m", column, "+8 hours")

    # --- projects that ended ----------------------------------------------------------------

    def project_ended(self, project_id: str) -> bool:
        return (
            self.session.execute(
                sa.select(ended_projects.c.project_id).where(
                    ended_projects.c.project_id == str(project_id)
                )
            ).first()
            is not None
        )

    def mark_project_ended(self, project_id: str, how: str, at: datetime) -> bool:
        if self.project_ended(project_id):
            return False
        self.session.execute(
            sa.insert(ended_projects).values(project_id=str(project_id), how=how, at=at)
        )
        return True

    # --- commitments refused ----------------------------------------------------------------

    def refuse_commitment(
        self, contract_id: str, *, shortfall: int, reason: str, cause: str, at: datetime
    ) -> None:
        """Remember that no money was committed to the contract (once; a redelivery of the
        award finds the refusal already there)."""
        if self.commitment_refusal(contract_id) is None:
            self.session.execute(
                sa.insert(refused_commitments).values(
                    contract_id=str(contract_id),
                    shortfall=shortfall,
                    reason=reason,
                    cause=cause,
                    at=at,
                )
            )

    def commitment_refusal(self, contract_id: str) -> dict[str, Any] | None:
        row = self.session.execute(
            sa.select(refused_commitments).where(
                refused_commitments.c.contract_id == str(contract_id)
            )
        ).first()
        return None if row is None else dict(row._mapping)

    # --- adjustments waiting for a second finance officer -----------------------------------

    def adjustment(self, adjustment_id: str, *, for_update: bool = False) -> SourceAdjustment:
        adjustment = self.session.get(
            SourceAdjustment,
            str(adjustment_id),
            with_for_update=for_update or None,
            populate_existing=for_update,
        )
        if adjustment is None:
            raise AdjustmentNotFound(str(adjustment_id))
        return adjustment

    def list_adjustments(
        self,
        page: PageRequest,
        *,
        status: str | None = None,
        source_id: str | None = None,
        within_path: str | None = None,
    ) -> Fetched:
        """Oldest first, like the approval queue."""
        table = source_adjustments
        query = sa.select(SourceAdjustment)
        if within_path is not None:
            query = query.where(table.c.source_id.in_(_sources_within(within_path)))
        if status:
            query = query.where(table.c.status == status)
        if source_id:
            query = query.where(table.c.source_id == str(source_id))
        return fetch_page(self.session, query, page)

    # --- who had a hand in a contract ---------------------------------------------------------

    def record_verification(self, organization_id: str, verified_by: str, at: datetime) -> None:
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = self.session.get_bind().dialect.name
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(provider_verifications)
        self.session.execute(
            insert.values(
                organization_id=str(organization_id), verified_by=str(verified_by), at=at
            ).on_conflict_do_nothing()
        )

    def involved(self, commitment: Commitment) -> dict[str, set[str]]:
        """Who awarded the contract, accepted any of its milestones, verified its provider."""
        acceptors = self.session.execute(
            sa.select(disbursements.c.requested_by)
            .where(disbursements.c.contract_id == commitment.contract_id)
            .distinct()
        ).scalars()
        verifiers = self.session.execute(
            sa.select(provider_verifications.c.verified_by).where(
                provider_verifications.c.organization_id == commitment.payee_id
            )
        ).scalars()
        return {
            "awarded_contract": {commitment.awarded_by} if commitment.awarded_by else set(),
            "accepted_milestone": set(acceptors),
            "verified_provider": set(verifiers),
        }
