"""In-memory funding: the repository, the directory copy it reads, and a harness that runs use
cases the way ``kit.usecase.UseCases`` does (one fake unit of work per call, committed at the
end of a write, events checked against the catalogue).

The fake keeps the ledger honest: journal entries are stored exactly as the domain writes them
(the real repository adds the same objects), never edited, and ``check_books`` asserts what the
database's constraints and the journal guarantee — every transaction balanced, each source's
and commitment's running balances within their CHECK constraints and equal to the journal's.
Filters, scope (``within_path``: sources whose owner lies in a subtree of the directory copy),
sort orders, cursors and totals are applied as the real queries apply them.

What it does not do: roll back. A use case that raises after changing an object leaves the
change here (the real unit of work would roll it back); the use cases check before they change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from funding.context import Context
from funding.domain.adjustments import SourceAdjustment
from funding.domain.commitments import Commitment
from funding.domain.disbursements import Disbursement
from funding.domain.ledger import JournalEntry, balances
from funding.domain.sources import FundingSource
from funding.exceptions import (
    AdjustmentNotFound,
    CommitmentNotFound,
    DisbursementNotFound,
    SourceNotFound,
)
from funding.repository import SOURCE_SUMS
from kit import audit
from kit.paging import Fetched, PageRequest
from kit.usecase import FixedClock
from language.actor import SYSTEM, Actor
from language.directory import path_of
from tests.unit.fakes import FakeDirectory, FakeUnitOfWork

CHINA = ZoneInfo("Asia/Shanghai")


class FakeFundingDirectory(FakeDirectory):
    """The directory copy, with the status write funding's payee handlers make (a newer
    version wins; an organization never heard of gets a placeholder row, as the real copy)."""

    def record_status(
        self, organization_id: str, kind: str | None, status: str, version: int
    ) -> None:
        entry = self.entries.get(organization_id)
        if entry is None:
            entry = self.entries[organization_id] = {
                "id": organization_id,
                "kind": None,
                "name": None,
                "parent_id": None,
                "path": path_of(organization_id, None),
                "status": None,
                "details_version": 0,
            }
        if entry.get("status_version", 0) < version:
            entry.update(kind=kind, status=status, status_version=version)


def _key(item: Any, request: PageRequest) -> tuple[Any, ...]:
    assert request.sort is not None
    fields = [request.sort.field, *request.sort.ordering.ties]
    return tuple(field.value_of(item) for field in fields)


def _fetch(items: Iterable[Any], request: PageRequest) -> Fetched:
    """``kit.paging.fetch_page`` over a list: the sort's order (NULLs last either way, ties
    ascending with the field's direction), the rows after the cursor, ``limit + 1`` of them,
    and the total under the same filters."""
    if request.sort is None:
        raise ValueError("fetch_page needs a PageRequest made with an ordering")
    rows = list(items)
    descending = request.sort.descending

    def after(item: Any) -> bool:
        value, *ties = _key(item, request)
        cursor_value, *cursor_ties = request.after or ()
        if cursor_value is None:  # among the NULLs (last): only ties decide
            return value is None and _beyond(tuple(ties), tuple(cursor_ties), descending)
        if value is None:
            return True
        if value != cursor_value:
            return _beyond((value,), (cursor_value,), descending)
        return _beyond(tuple(ties), tuple(cursor_ties), descending)

    chosen = [row for row in rows if request.after is None or after(row)]
    present = [row for row in chosen if _key(row, request)[0] is not None]
    nulls = [row for row in chosen if _key(row, request)[0] is None]
    page = sorted(present, key=lambda row: _key(row, request), reverse=descending)
    page += sorted(nulls, key=lambda row: _key(row, request)[1:], reverse=descending)
    return Fetched(rows=page[: request.limit + 1], total=len(rows))


def _beyond(left: tuple[Any, ...], right: tuple[Any, ...], descending: bool) -> bool:
    return left < right if descending else left > right


class FakeFundingRepository:
    """``funding.repository.FundingRepository`` in memory: same methods, same answers."""

    def __init__(self, directory: FakeFundingDirectory) -> None:
        self.directory = directory
        self.uow: FakeUnitOfWork | None = None
        self.sources: dict[str, FundingSource] = {}
        self.commitments: dict[str, Commitment] = {}  # by contract
        self.disbursements: dict[str, Disbursement] = {}
        self.adjustments: dict[str, SourceAdjustment] = {}
        self.entries: list[JournalEntry] = []
        self.ended: dict[str, dict[str, Any]] = {}
        self.refusals: dict[str, dict[str, Any]] = {}
        self.verifications: set[tuple[str, str]] = set()
        #: overdue milestones: milestone_id -> contract_id
        self.overdue: dict[str, str] = {}
        #: how many times each kind of thing was asked for with a lock (a test reads the order)
        self.locks: list[tuple[str, str]] = []

    # --- what the unit of work sees -------------------------------------------------------------

    def _seen(self, thing: Any) -> Any:
        if thing is not None and self.uow is not None:
            self.uow.track(thing)
        return thing

    def _locked(self, kind: str, key: str, for_update: bool) -> None:
        if for_update:
            self.locks.append((kind, str(key)))

    def add(self, *entities: Any) -> None:
        for entity in entities:
            self._add(entity)
            self._seen(entity)

    def _add(self, entity: Any) -> None:
        if isinstance(entity, FundingSource):
            self.sources[entity.id] = entity
        elif isinstance(entity, Commitment):
            assert entity.contract_id not in self.commitments, "commitments.contract_id unique"
            assert entity.source_id in self.sources, "commitments.source_id: no such source"
            self.commitments[entity.contract_id] = entity
        elif isinstance(entity, Disbursement):
            assert all(d.milestone_id != entity.milestone_id for d in self.disbursements.values())
            assert entity.source_id in self.sources, "disbursements.source_id: no such source"
            self.disbursements[entity.id] = entity
        elif isinstance(entity, SourceAdjustment):
            assert entity.source_id in self.sources, "source_adjustments.source_id: no source"
            self.adjustments[entity.id] = entity
        elif isinstance(entity, JournalEntry):
            assert all(e.id != entity.id for e in self.entries), "journal entries are not edited"
            assert (entity.debit == 0) != (entity.credit == 0), "a posting is one-sided"
            assert entity.debit >= 0 and entity.credit >= 0
            self.entries.append(entity)
        else:
            raise TypeError(f"the funding repository does not store {type(entity).__name__}")

    # --- sources --------------------------------------------------------------------------------

    def source(self, source_id: str, *, for_update: bool = False) -> FundingSource:
        source = self.find_source(source_id, for_update=for_update)
        if source is None:
            raise SourceNotFound(str(source_id))
        return source

    def find_source(self, source_id: str, *, for_update: bool = False) -> FundingSource | None:
        self._locked("source", source_id, for_update)
        return self._seen(self.sources.get(str(source_id)))

    def _owned_within(self, owner_id: str, path: str) -> bool:
        entry = self.directory.get(owner_id)
        return entry is not None and entry["path"].startswith(path)

    def _source_within(self, source_id: str, path: str) -> bool:
        source = self.sources.get(source_id)
        return source is not None and self._owned_within(source.owner_id, path)

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
        found = [
            s
            for s in self.sources.values()
            if (within_path is None or self._owned_within(s.owner_id, within_path))
            and (not owner_id or s.owner_id == owner_id)
            and (not fiscal_year or s.fiscal_year == fiscal_year)
            and (not kind or s.kind == kind)
            and (available_below is None or s.available < available_below)
        ]
        return _fetch(map(self._seen, found), page)

    def source_figures(self, *, within_path: str | None, fiscal_year: int) -> dict[str, int]:
        found = [
            s
            for s in self.sources.values()
            if s.fiscal_year == fiscal_year
            and (within_path is None or self._owned_within(s.owner_id, within_path))
        ]
        sums = {name: sum(getattr(s, name) for s in found) for name in SOURCE_SUMS}
        return {"count": len(found), **sums}

    # --- commitments ----------------------------------------------------------------------------

    def commitment(self, contract_id: str, *, for_update: bool = False) -> Commitment:
        commitment = self.find_commitment(contract_id, for_update=for_update)
        if commitment is None:
            raise CommitmentNotFound(str(contract_id))
        return commitment

    def find_commitment(self, contract_id: str, *, for_update: bool = False) -> Commitment | None:
        self._locked("commitment", contract_id, for_update)
        return self._seen(self.commitments.get(str(contract_id)))

    def list_commitments(
        self,
        page: PageRequest,
        *,
        source_id: str | None = None,
        payee_id: str | None = None,
        within_path: str | None = None,
    ) -> Fetched:
        found = [
            c
            for c in self.commitments.values()
            if (within_path is None or self._source_within(c.source_id, within_path))
            and (not source_id or c.source_id == str(source_id))
            and (not payee_id or c.payee_id == str(payee_id))
        ]
        return _fetch(map(self._seen, found), page)

    def names(self, organization_ids: set[str]) -> dict[str, str]:
        found = {i: self.directory.entries.get(i) for i in organization_ids}
        return {i: entry["name"] for i, entry in found.items() if entry and entry.get("name")}

    def source_names(self, source_ids: set[str]) -> dict[str, str]:
        return {i: self.sources[i].name for i in source_ids if i in self.sources}

    def commitments_of_project(self, project_id: str) -> list[Commitment]:
        found = [c for c in self.commitments.values() if c.project_id == str(project_id)]
        for commitment in found:
            self._locked("commitment", commitment.contract_id, True)
        return [self._seen(c) for c in found]

    # --- disbursements --------------------------------------------------------------------------

    def disbursement(self, disbursement_id: str, *, for_update: bool = False) -> Disbursement:
        self._locked("disbursement", disbursement_id, for_update)
        disbursement = self.disbursements.get(str(disbursement_id))
        if disbursement is None:
            raise DisbursementNotFound(str(disbursement_id))
        return self._seen(disbursement)

    def disbursement_for_milestone(self, milestone_id: str) -> Disbursement | None:
        found = [d for d in self.disbursements.values() if d.milestone_id == str(milestone_id)]
        return self._seen(found[0]) if found else None

    def open_disbursements_of(self, contract_id: str) -> list[Disbursement]:
        return [
            self._seen(d)
            for d in self.disbursements.values()
            if d.contract_id == str(contract_id) and d.status in ("pending", "held")
        ]

    def payee_entry(self, payee_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        self._locked("payee", payee_id, for_update)
        entry = self.directory.entries.get(str(payee_id))
        return dict(entry) if entry is not None else None

    def disbursements_of_payee(self, payee_id: str) -> list[Disbursement]:
        found = [
            d
            for d in self.disbursements.values()
            if d.payee_id == str(payee_id) and d.status in ("pending", "approved", "held")
        ]
        for disbursement in found:
            self._locked("disbursement", disbursement.id, True)
        return [self._seen(d) for d in found]

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
        found = self._disbursements_kept(
            status=status,
            contract_id=contract_id,
            payee_id=payee_id,
            source_id=source_id,
            within_path=within_path,
            paid_from=paid_from,
            paid_before=paid_before,
        )
        return _fetch(map(self._seen, found), page)

    def _disbursements_kept(
        self,
        *,
        within_path: str | None = None,
        paid_from: datetime | None = None,
        paid_before: datetime | None = None,
        **wanted: str | None,
    ) -> list[Disbursement]:
        """The real WHERE of the disbursements list and its figures, in Python."""

        def paid_within(d: Disbursement) -> bool:
            if paid_from is None and paid_before is None:
                return True
            if d.paid_at is None:
                return False
            return (paid_from is None or d.paid_at >= paid_from) and (
                paid_before is None or d.paid_at < paid_before
            )

        return [
            d
            for d in self.disbursements.values()
            if (within_path is None or self._source_within(d.source_id, within_path))
            and all(not v or getattr(d, k) == str(v) for k, v in wanted.items())
            and paid_within(d)
        ]

    def disbursement_figures(self, **filters: Any) -> dict[str, Any]:
        found = self._disbursements_kept(**filters)
        return {
            "count": len(found),
            "amount": sum(d.amount for d in found),
            "oldest_requested_at": min((d.requested_at for d in found), default=None),
        }

    def approval_queue_figures(self) -> dict[str, Any]:
        pending = [d for d in self.disbursements.values() if d.status == "pending"]
        return {
            "count": len(pending),
            "fen": sum(d.amount for d in pending),
            "oldest": min((d.requested_at for d in pending), default=None),
        }

    def disbursements_of_contract(self, contract_id: str) -> list[Disbursement]:
        found = sorted(
            (
                d
                for d in self.disbursements.values()
                if d.contract_id == str(contract_id) and d.status in ("pending", "approved", "held")
            ),
            key=lambda d: (d.requested_at, d.id),
        )
        for disbursement in found:
            self._locked("disbursement", disbursement.id, True)
        return [self._seen(d) for d in found]

    def mark_overdue(self, contract_id: str, milestone_id: str, due_on: Any, at: Any) -> bool:
        if str(milestone_id) in self.overdue:
            return False
        self.overdue[str(milestone_id)] = str(contract_id)
        return True

    def clear_overdue(self, milestone_id: str) -> bool:
        return self.overdue.pop(str(milestone_id), None) is not None

    def overdue_count(self, contract_id: str) -> int:
        return sum(1 for c in self.overdue.values() if c == str(contract_id))

    def overdue_hold_figures(self) -> dict[str, int]:
        held = [d for d in self.disbursements.values() if "milestone_overdue" in d.holds]
        return {"count": len(held), "fen": sum(d.amount for d in held)}

    def payment_reference_used(self, reference: str) -> str | None:
        for disbursement in self.disbursements.values():
            if disbursement.payment_reference == reference:
                return disbursement.id
        return None

    # --- journal --------------------------------------------------------------------------------

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
        found = [
            e
            for e in self.entries
            if (within_path is None or self._source_within(e.source_id, within_path))
            and (not source_id or e.source_id == source_id)
            and (not contract_id or e.contract_id == contract_id)
            and (not since or e.at >= since)
            and (not until or e.at < until)
        ]
        return _fetch(found, page)

    def account_balances(self, **filters: str) -> dict[str, int]:
        return balances(
            [e for e in self.entries if all(getattr(e, k) == v for k, v in filters.items())]
        )

    def monthly(
        self,
        *,
        source_id: str | None = None,
        fiscal_year: int | None = None,
        within_path: str | None = None,
    ) -> list[Any]:
        """Debits per China-time month and kind, ordered by month then kind."""
        sums: dict[tuple[str, str], int] = {}
        for e in self.entries:
            source = self.sources.get(e.source_id)
            if within_path is not None and not self._source_within(e.source_id, within_path):
                continue
            if (source_id and e.source_id != source_id) or (
                fiscal_year and (source is None or source.fiscal_year != fiscal_year)
            ):
                continue
            month = e.at.astimezone(CHINA).strftime("%Y-%m")
            sums[(month, e.kind)] = sums.get((month, e.kind), 0) + e.debit
        return [(month, kind, total) for (month, kind), total in sorted(sums.items())]

    # --- projects that ended, commitments refused -----------------------------------------------

    def project_ended(self, project_id: str) -> bool:
        return str(project_id) in self.ended

    def mark_project_ended(self, project_id: str, how: str, at: datetime) -> bool:
        if self.project_ended(project_id):
            return False
        self.ended[str(project_id)] = {"project_id": str(project_id), "how": how, "at": at}
        return True

    def refuse_commitment(
        self, contract_id: str, *, shortfall: int, reason: str, cause: str, at: datetime
    ) -> None:
        self.refusals.setdefault(
            str(contract_id),
            {
                "contract_id": str(contract_id),
                "shortfall": shortfall,
                "reason": reason,
                "cause": cause,
                "at": at,
            },
        )

    def commitment_refusal(self, contract_id: str) -> dict[str, Any] | None:
        refusal = self.refusals.get(str(contract_id))
        return dict(refusal) if refusal is not None else None

    # --- adjustments ----------------------------------------------------------------------------

    def adjustment(self, adjustment_id: str, *, for_update: bool = False) -> SourceAdjustment:
        self._locked("adjustment", adjustment_id, for_update)
        adjustment = self.adjustments.get(str(adjustment_id))
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
        found = [
            a
            for a in self.adjustments.values()
            if (within_path is None or self._source_within(a.source_id, within_path))
            and (not status or a.status == status)
            and (not source_id or a.source_id == str(source_id))
        ]
        return _fetch(found, page)

    # --- who had a hand in a contract -----------------------------------------------------------

    def record_verification(self, organization_id: str, verified_by: str, at: datetime) -> None:
        self.verifications.add((str(organization_id), str(verified_by)))

    def involved(self, commitment: Commitment) -> dict[str, set[str]]:
        return {
            "awarded_contract": {commitment.awarded_by} if commitment.awarded_by else set(),
            "accepted_milestone": {
                d.requested_by
                for d in self.disbursements.values()
                if d.contract_id == commitment.contract_id
            },
            "verified_provider": {
                by for org, by in self.verifications if org == commitment.payee_id
            },
        }

    # --- the books ------------------------------------------------------------------------------

    def check_books(self) -> None:
        """What the database and the journal guarantee, asserted over everything stored."""
        transactions: dict[str, list[int]] = {}
        for e in self.entries:
            totals = transactions.setdefault(e.transaction_id, [0, 0])
            totals[0] += e.debit
            totals[1] += e.credit
        assert all(debit == credit > 0 for debit, credit in transactions.values())
        for source in self.sources.values():
            self._check_source(source)
        for c in self.commitments.values():
            assert c.amount > 0 and c.released >= 0 and c.disbursed >= 0
            assert c.released + c.disbursed <= c.amount and c.paid <= c.disbursed

    def _check_source(self, source: FundingSource) -> None:
        s = source
        assert s.available >= 0 and s.committed >= 0
        assert s.amount == s.available + s.committed
        assert s.disbursed <= s.committed and s.paid <= s.disbursed
        books = balances([e for e in self.entries if e.source_id == s.id])
        contract_money = {
            account: fen
            for account, fen in books.items()
            if account.split(":")[0] in ("committed", "approved", "paid")
        }
        assert -books.get(f"income:{s.id}", 0) == s.amount
        assert books.get(f"available:{s.id}", 0) == s.available
        assert sum(contract_money.values()) == s.committed
        assert sum(v for k, v in contract_money.items() if not k.startswith("committed:")) == (
            s.disbursed
        )
        assert sum(v for k, v in contract_money.items() if k.startswith("paid:")) == s.paid


class FakeFunding:
    """Runs funding's use cases over the fakes as the service would: a context per call (the
    actor, the clock, the threshold), a unit of work committed at the end of a write (``execute``,
    ``react``) and never for a read (``query``). Events committed so far are in ``events``."""

    def __init__(self, *, threshold: int = 10_000_000, at: datetime | None = None) -> None:
        self.directory = FakeFundingDirectory()
        self.repo = FakeFundingRepository(self.directory)
        self.clock = FixedClock(at or datetime(2027, 3, 1, 2, 0, tzinfo=UTC))
        self.threshold = threshold
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.uow: FakeUnitOfWork | None = None
        #: the audit records of every committed act, in order
        self.records: list[dict[str, Any]] = []

    def context(self, actor: Actor | None, *, readonly: bool = False) -> Context:
        self.uow = FakeUnitOfWork("funding", readonly=readonly)
        self.repo.uow = self.uow
        return Context(
            uow=self.uow,
            repo=self.repo,  # type: ignore[arg-type]
            directory=self.directory,
            actor=actor or SYSTEM,
            clock=self.clock,
            dual_approval_threshold=self.threshold,
        )

    def execute(self, actor: Actor | None, use_case: Callable[..., Any], command: Any) -> Any:
        ctx = self.context(actor)
        result = use_case(ctx, command)
        who = (actor or SYSTEM).to_dict()
        self.records += audit.record_act(ctx.uow, ctx, who, use_case, command, result)
        self._commit(ctx.uow)
        return result

    def react(self, use_case: Callable[..., Any], fact: Any) -> Any:
        return self.execute(None, use_case, fact)

    def query(self, actor: Actor | None, use_case: Callable[..., Any], command: Any) -> Any:
        return use_case(self.context(actor, readonly=True), command)

    def _commit(self, uow: FakeUnitOfWork) -> None:
        before = len(uow.events)
        uow.commit()
        self.events.extend(zip(uow.event_types[before:], uow.events[before:], strict=True))
        self.repo.check_books()

    def event_types(self) -> list[str]:
        return [name for name, _ in self.events]
