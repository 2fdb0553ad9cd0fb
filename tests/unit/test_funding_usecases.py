"""Every funding use case through in-memory fakes (``tests/unit/fakes/funding.py``): state left,
events committed, errors with their code, field and rule, and who is told "not there".

The world: a province above a city above a district (federations), another city beside them,
and a service provider. The city's finance officers and staff work on the city's money (its
subtree: the district's too); the other city's officer sees none of it. After every write the
fake checks the books: transactions balanced, running balances equal to the journal's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from funding.commands import (
    AdjustSource,
    ApproveDisbursement,
    ConfirmAdjustment,
    ContractAwarded,
    CreateSource,
    GetCommitment,
    GetDisbursement,
    GetSource,
    ListAdjustments,
    ListCommitments,
    ListDisbursements,
    ListSources,
    MilestoneAccepted,
    MonthlyReport,
    PayDisbursement,
    PayeeStatusChanged,
    ProjectEnded,
    ProviderVerified,
    ReadJournal,
    RefuseAdjustment,
    RejectDisbursement,
    SourceFacts,
)
from funding.domain.commitments import Commitment
from funding.domain.disbursements import Disbursement
from funding.domain.sources import FundingSource
from funding.exceptions import (
    AdjustmentNotFound,
    CommitmentNotFound,
    DisbursementNotFound,
    DuplicatePaymentReference,
    InsufficientFunds,
    InvalidTransition,
    MakerChecker,
    NotYetKnown,
    OutOfScope,
    RuleBroken,
    SourceNotFound,
)
from funding.handlers import adjustments, commitments, disbursements, journal, payees, sources
from funding.repository import (
    ADJUSTMENT_ORDER,
    COMMITMENT_ORDER,
    DISBURSEMENT_ORDER,
    JOURNAL_ORDER,
    SOURCE_ORDER,
)
from kit.paging import PageRequest, page_request
from language.actor import Actor
from tests.unit.fakes.funding import FakeFunding

THRESHOLD = 10_000_000


def new_id() -> str:
    return str(uuid.uuid4())


def person(role: str, organization_id: str | None = None) -> Actor:
    return Actor(user_id=new_id(), username=role, role=role, organization_id=organization_id)


def page(ordering: Any = SOURCE_ORDER, *, limit: int | None = None, **more: Any) -> PageRequest:
    return page_request(limit, more.pop("cursor", None), ordering=ordering, sort=more.get("sort"))


class World(FakeFunding):
    def __init__(self) -> None:
        super().__init__(threshold=THRESHOLD)
        self.province, self.city, self.district, self.other = (new_id() for _ in range(4))
        self.provider = new_id()
        self.directory.add(self.province, name="省妇联")
        self.directory.add(self.city, parent_id=self.province, name="市妇联")
        self.directory.add(self.district, parent_id=self.city, name="区妇联")
        self.directory.add(self.other, name="别市妇联")
        self.directory.add(self.provider, kind="service_provider", name="阳光社工")
        self.officer = person("finance_officer", self.city)
        self.second_officer = person("finance_officer", self.city)
        self.third_officer = person("finance_officer", self.city)
        self.staff = person("federation_staff", self.city)
        self.other_officer = person("finance_officer", self.other)
        self.admin = person("admin")
        self.ops = person("ops")
        self.contractor = person("contractor", self.provider)
        self.stranger = person("contractor", new_id())

    # --- the steps every story starts with ----------------------------------------------------

    def source(
        self, amount: int = 1_000_000, *, owner: str | None = None, year: int = 2027
    ) -> FundingSource:
        command = CreateSource(
            name=f"专项资金 {amount}",
            kind="fiscal_special_fund",
            owner_id=owner or self.city,
            fiscal_year=year,
            amount=amount,
        )
        source, pending = self.execute(self.admin, sources.create_source, command)
        if pending is not None:  # a large source: a second officer confirms its money
            confirm = ConfirmAdjustment(pending.id)
            self.execute(self.second_officer, adjustments.confirm_adjustment, confirm)
        self.clock.advance(minutes=1)  # the next thing happens later (lists are by time)
        return source

    def award(
        self,
        source: FundingSource,
        amount: int = 600_000,
        *,
        purchaser: str | None = None,
        awarded_by: str | None = None,
        **ids: str,
    ) -> ContractAwarded:
        fact = ContractAwarded(
            event_id=new_id(),
            contract_id=ids.get("contract_id", new_id()),
            project_id=ids.get("project_id", new_id()),
            funding_source_id=source.id,
            purchaser_id=purchaser or self.city,
            contractor_id=self.provider,
            amount=amount,
            actor_id=awarded_by,
        )
        self.react(commitments.contract_awarded, fact)
        return fact

    def accept(
        self, contract_id: str, amount: int = 200_000, *, by: Actor | None = None
    ) -> Disbursement:
        fact = MilestoneAccepted(
            event_id=new_id(),
            contract_id=contract_id,
            milestone_id=new_id(),
            amount=amount,
            accepted_by=(by or self.staff).user_id,
        )
        assert self.react(disbursements.milestone_accepted, fact) is True
        found = self.repo.disbursement_for_milestone(fact.milestone_id)
        assert found is not None
        return found

    def pending(self, amount: int = 200_000) -> Disbursement:
        award = self.award(self.source())
        return self.accept(award.contract_id, amount)

    def approve(self, disbursement: Disbursement, actor: Actor | None = None) -> Disbursement:
        command = ApproveDisbursement(disbursement_id=disbursement.id)
        return self.execute(actor or self.officer, disbursements.approve_disbursement, command)

    def status(self, organization_id: str, status: str, version: int, **more: Any) -> Any:
        return PayeeStatusChanged(
            organization_id=organization_id,
            kind="service_provider",
            status=status,
            version=version,
            **more,
        )


@pytest.fixture
def world() -> World:
    return World()


# --- sources ----------------------------------------------------------------------------------


def create(world: World, actor: Actor, amount: int, owner: str | None = None) -> Any:
    command = CreateSource(
        name="妇女创业扶持资金",
        kind="donation",
        owner_id=owner or world.city,
        fiscal_year=2027,
        amount=amount,
        description="捐赠",
    )
    return world.execute(actor, sources.create_source, command)


def test_a_source_below_the_threshold_receives_its_initial_amount_at_once(world):
    source, pending = create(world, world.officer, 2_500_000)
    assert pending is None
    assert (source.amount, source.available, source.committed) == (2_500_000, 2_500_000, 0)
    assert world.event_types() == ["funding_source_created"]
    assert world.events[0][1]["owner_id"] == world.city
    lines = world.repo.journal(page(JOURNAL_ORDER), source_id=source.id).rows
    assert [(e.kind, e.account, e.debit, e.credit) for e in lines] == [
        ("receipt", f"available:{source.id}", 2_500_000, 0),
        ("receipt", f"income:{source.id}", 0, 2_500_000),
    ]
    assert lines[0].cause.startswith("request:") and lines[0].memo == "initial amount"
    assert lines[0].actor_id == world.officer.user_id and lines[0].at == world.clock.now()


def test_a_source_at_the_threshold_waits_for_a_second_officer(world):
    source, pending = create(world, world.officer, THRESHOLD)
    assert pending is not None and (pending.status, pending.amount) == ("pending", THRESHOLD)
    assert (source.amount, world.repo.entries) == (0, [])
    assert world.event_types() == ["funding_source_created"]


def test_a_source_belongs_to_a_federation_of_the_officers_subtree(world):
    with pytest.raises(RuleBroken) as not_federation:
        create(world, world.officer, 100, owner=world.provider)
    assert not_federation.value.details == {"field": "owner_id", "rule": "federation"}
    with pytest.raises(OutOfScope) as elsewhere:
        create(world, world.officer, 100, owner=world.other)
    assert elsewhere.value.details["field"] == "owner_id"
    with pytest.raises(OutOfScope):
        create(world, world.officer, 100, owner=world.province)  # above the city: not its own
    assert create(world, world.officer, 100, owner=world.district)[0].owner_id == world.district
    with pytest.raises(MakerChecker):
        create(world, world.staff, 100)


def test_a_small_top_up_and_a_correction_enter_the_journal(world):
    source = world.source(1_000_000)
    adjust = sources.adjust_source
    world.execute(world.officer, adjust, AdjustSource(source.id, 300_000, "追加"))
    changed, pending = world.execute(
        world.officer, adjust, AdjustSource(source.id, -500_000, "更正")
    )
    assert pending is None and (changed.amount, changed.available) == (800_000, 800_000)
    kinds = [e.kind for e in world.repo.entries if e.line == 1]
    assert kinds == ["receipt", "receipt", "correction"]
    assert ("source", source.id) in world.repo.locks


def test_an_adjustment_takes_out_only_what_is_available_and_stays_in_scope(world):
    source = world.source(1_000_000)
    world.award(source, 900_000)
    with pytest.raises(InsufficientFunds) as short:
        world.execute(
            world.officer, sources.adjust_source, AdjustSource(source.id, -200_000, "更正")
        )
    assert short.value.details["shortfall"] == 100_000
    with pytest.raises(SourceNotFound):
        world.execute(
            world.other_officer, sources.adjust_source, AdjustSource(source.id, 100, "追加")
        )


def test_a_large_adjustment_waits_and_enters_the_journal_once_confirmed(world):
    source = world.source(1_000_000)
    _, pending = world.execute(
        world.officer, sources.adjust_source, AdjustSource(source.id, THRESHOLD, "年中追加")
    )
    assert pending.status == "pending" and source.amount == 1_000_000
    with pytest.raises(MakerChecker) as own:
        world.execute(world.officer, adjustments.confirm_adjustment, ConfirmAdjustment(pending.id))
    assert own.value.details["reason"] == "requested_adjustment"
    with pytest.raises(AdjustmentNotFound):
        world.execute(
            world.other_officer, adjustments.confirm_adjustment, ConfirmAdjustment(pending.id)
        )
    confirmed = world.execute(
        world.second_officer, adjustments.confirm_adjustment, ConfirmAdjustment(pending.id)
    )
    assert (confirmed.status, confirmed.decided_by) == ("confirmed", world.second_officer.user_id)
    assert source.amount == 1_000_000 + THRESHOLD
    last = world.repo.entries[-1]
    assert (last.cause, last.actor_id) == (f"adjustment:{pending.id}", world.second_officer.user_id)
    assert world.repo.locks[-2:] == [("adjustment", pending.id), ("source", source.id)]
    with pytest.raises(InvalidTransition):
        world.execute(
            world.third_officer, adjustments.confirm_adjustment, ConfirmAdjustment(pending.id)
        )


def test_a_refused_adjustment_says_why_and_moves_no_money(world):
    source = world.source(1_000_000)
    _, pending = world.execute(
        world.officer, sources.adjust_source, AdjustSource(source.id, THRESHOLD, "追加")
    )
    entries = len(world.repo.entries)
    with pytest.raises(RuleBroken) as no_reason:
        world.execute(
            world.second_officer, adjustments.refuse_adjustment, RefuseAdjustment(pending.id, " ")
        )
    assert no_reason.value.details == {"field": "reason", "rule": "required"}
    refused = world.execute(
        world.second_officer,
        adjustments.refuse_adjustment,
        RefuseAdjustment(pending.id, "无拨款文件"),
    )
    assert (refused.status, refused.refusal_reason) == ("refused", "无拨款文件")
    assert len(world.repo.entries) == entries and source.amount == 1_000_000


def test_adjustments_are_listed_to_the_officers_of_their_federation(world):
    mine = world.source(1_000_000)
    theirs = world.source(1_000_000, owner=world.other)
    for source in (mine, theirs):
        world.execute(
            world.admin, sources.adjust_source, AdjustSource(source.id, THRESHOLD, "追加")
        )

    def listed(actor: Actor, **filters: Any) -> list[str]:
        command = ListAdjustments(page=page(ADJUSTMENT_ORDER), **filters)
        found = world.query(actor, adjustments.list_adjustments, command)
        return [a.source_id for a in found["items"]]

    assert listed(world.officer) == [mine.id]
    assert listed(world.other_officer) == [theirs.id]
    assert sorted(listed(world.admin)) == sorted([mine.id, theirs.id])
    assert listed(world.officer, status="confirmed") == []
    assert world.query(
        world.contractor,
        adjustments.list_adjustments,
        ListAdjustments(page=page(ADJUSTMENT_ORDER)),
    ) == {"items": [], "next_cursor": None, "total": 0}


def test_a_source_is_read_within_the_readers_scope(world):
    source = world.source()
    for reader in (world.officer, world.staff, world.admin, world.ops):
        assert world.query(reader, sources.get_source, GetSource(source.id)) is source
    for outsider in (world.other_officer, world.contractor):
        with pytest.raises(SourceNotFound):
            world.query(outsider, sources.get_source, GetSource(source.id))
    with pytest.raises(SourceNotFound):
        world.query(world.admin, sources.get_source, GetSource(new_id()))


def test_sources_are_listed_by_scope_filters_and_order_a_page_at_a_time(world):
    city = world.source(300)
    district = world.source(100, owner=world.district)
    old = world.source(200, year=2026)
    world.source(400, owner=world.other)

    def listed(actor: Actor, request: PageRequest | None = None, **filters: Any) -> Any:
        command = ListSources(page=request or page(), **filters)
        return world.query(actor, sources.list_sources, command)

    assert [s.id for s in listed(world.officer)["items"]] == [city.id, district.id, old.id]
    assert [s.id for s in listed(world.officer, fiscal_year=2026)["items"]] == [old.id]
    assert [s.id for s in listed(world.officer, owner_id=world.district)["items"]] == [district.id]
    by_amount = listed(world.officer, page(sort="-amount"))["items"]
    assert [s.amount for s in by_amount] == [300, 200, 100]
    first = listed(world.officer, page(sort="amount", limit=2))
    assert [s.amount for s in first["items"]] == [100, 200] and first["total"] == 3
    rest = listed(world.officer, page(sort="amount", limit=2, cursor=first["next_cursor"]))
    assert [s.amount for s in rest["items"]] == [300] and rest["next_cursor"] is None
    assert listed(world.admin)["total"] == 4
    assert listed(world.contractor) == {"items": [], "next_cursor": None, "total": 0}


def test_source_facts_name_the_owner_for_projects(world):
    source = world.source()
    facts = world.query(None, sources.source_facts, SourceFacts(source.id))
    assert facts == {"funding_source_id": source.id, "owner_id": world.city, "version": 2}
    assert world.query(None, sources.source_facts, SourceFacts(new_id())) is None


# --- commitments ------------------------------------------------------------------------------


def test_an_award_commits_its_contracts_money_once(world):
    source = world.source(1_000_000)
    award = world.award(source, 600_000, awarded_by=world.staff.user_id)
    commitment = world.repo.commitment(award.contract_id)
    assert (commitment.amount, commitment.status, commitment.awarded_by) == (
        600_000,
        "active",
        world.staff.user_id,
    )
    assert (source.available, source.committed) == (400_000, 600_000)
    assert world.event_types()[-1] == "commitment_made"
    again = ContractAwarded(**{**award.__dict__, "event_id": new_id()})
    assert world.react(commitments.contract_awarded, again) is True
    assert source.committed == 600_000 and world.event_types().count("commitment_made") == 1


@pytest.mark.parametrize(
    ("story", "shortfall", "reason"),
    [
        ("short", 500_000, "the funding source lacks available money"),
        ("ended", 0, "the project has already ended"),
        ("unknown source", 1_500_000, "unknown funding source"),
        ("elsewhere", 1_500_000, "source_not_available"),
    ],
)
def test_an_award_the_source_cannot_serve_is_refused_and_remembered(
    world, story, shortfall, reason
):
    source = world.source(1_000_000)
    fact = ContractAwarded(
        event_id=new_id(),
        contract_id=new_id(),
        project_id=new_id(),
        funding_source_id=new_id() if story == "unknown source" else source.id,
        purchaser_id=world.other if story == "elsewhere" else world.city,
        contractor_id=world.provider,
        amount=1_500_000,
    )
    if story == "ended":
        world.react(commitments.project_ended, ProjectEnded(new_id(), fact.project_id, "closed"))
    assert world.react(commitments.contract_awarded, fact) is False
    name, body = world.events[-1]
    assert name == "commitment_rejected"
    assert body["shortfall"] == shortfall and body["reason"].startswith(reason)
    refusal = world.repo.commitment_refusal(fact.contract_id)
    assert (refusal["shortfall"], refusal["cause"]) == (shortfall, f"event:{fact.event_id}")
    assert world.repo.find_commitment(fact.contract_id) is None and source.committed == 0


def test_an_award_whose_purchaser_the_directory_has_not_heard_of_waits(world):
    source = world.source()
    with pytest.raises(NotYetKnown):
        world.award(source, purchaser=new_id())


def test_a_project_that_ends_gives_back_what_its_contract_will_not_draw(world):
    source = world.source(1_000_000)
    award = world.award(source, 600_000)
    paid_out = world.accept(award.contract_id, 100_000)
    world.approve(paid_out)
    world.accept(award.contract_id, 200_000)  # still pending: its money stays committed
    ended = ProjectEnded(event_id=new_id(), project_id=award.project_id, how="cancelled")
    world.react(commitments.project_ended, ended)
    commitment = world.repo.commitment(award.contract_id)
    assert (commitment.status, commitment.released) == ("released", 300_000)
    assert (source.available, source.committed) == (700_000, 300_000)
    assert world.repo.entries[-1].cause == f"event:{ended.event_id}"
    assert world.repo.project_ended(award.project_id)
    world.react(commitments.project_ended, ended)  # a redelivery releases nothing more
    assert commitment.released == 300_000


def test_a_commitment_is_read_by_its_payee_and_its_federation(world):
    award = world.award(world.source())
    get = GetCommitment(award.contract_id)
    for reader in (world.contractor, world.officer, world.staff, world.ops):
        assert isinstance(world.query(reader, commitments.get_commitment, get), Commitment)
    for outsider in (world.stranger, world.other_officer):
        with pytest.raises(CommitmentNotFound):
            world.query(outsider, commitments.get_commitment, get)


def test_commitments_are_listed_with_their_payee_and_source_named(world):
    source = world.source(1_000_000)
    award = world.award(source, 600_000)
    world.award(world.source(1_000_000, owner=world.other), 100_000, purchaser=world.other)

    def listed(actor: Actor, **filters: Any) -> Any:
        command = ListCommitments(page=page(COMMITMENT_ORDER), **filters)
        return world.query(actor, commitments.list_commitments, command)

    rows = listed(world.officer)["items"]
    assert [(r["item"].contract_id, r["payee_name"], r["source_name"]) for r in rows] == [
        (award.contract_id, "阳光社工", source.name)
    ]
    assert len(listed(world.contractor)["items"]) == 2  # both are paid to it
    assert listed(world.stranger)["items"] == []
    assert listed(world.admin)["total"] == 2
    with pytest.raises(SourceNotFound):
        listed(world.other_officer, source_id=source.id)


# --- disbursements ----------------------------------------------------------------------------


def test_an_accepted_milestone_opens_one_disbursement(world):
    award = world.award(world.source(), 600_000)
    fact = MilestoneAccepted(new_id(), award.contract_id, new_id(), 200_000, world.staff.user_id)
    assert world.react(disbursements.milestone_accepted, fact) is True
    assert world.react(disbursements.milestone_accepted, fact) is True  # redelivered
    opened = [d for d in world.repo.disbursements.values() if d.milestone_id == fact.milestone_id]
    assert len(opened) == 1
    assert (opened[0].status, opened[0].required_approvals) == ("pending", 1)
    assert world.event_types().count("disbursement_requested") == 1
    with pytest.raises(InsufficientFunds):
        world.accept(award.contract_id, 700_000)


def test_a_large_contracts_tranches_need_two_approvers(world):
    award = world.award(world.source(2 * THRESHOLD), THRESHOLD)
    assert world.accept(award.contract_id, 100).required_approvals == 2


def test_a_milestone_before_its_award_waits_and_after_a_refusal_is_rejected(world):
    contract_id = new_id()
    fact = MilestoneAccepted(new_id(), contract_id, new_id(), 100, world.staff.user_id)
    with pytest.raises(NotYetKnown):
        world.react(disbursements.milestone_accepted, fact)
    world.award(world.source(100), 1_000, contract_id=contract_id)  # refused: too little
    assert world.react(disbursements.milestone_accepted, fact) is False
    name, body = world.events[-1]
    assert name == "disbursement_rejected"
    assert body["disbursement_id"] is None and body["rejected_by"] is None
    assert body["reason"].startswith("no money was committed to the contract: ")


@pytest.mark.parametrize(
    ("status", "reason"),
    [("suspended", "the payee is suspended"), ("deregistered", "provider_deregistered")],
)
def test_a_milestone_of_a_payee_out_of_standing_is_held_at_once(world, status, reason):
    award = world.award(world.source())
    world.directory.record_status(world.provider, "service_provider", status, 5)
    held = world.accept(award.contract_id)
    assert (held.status, held.hold_reason) == ("held", reason)
    assert world.event_types()[-2:] == ["disbursement_requested", "disbursement_held"]
    assert ("payee", world.provider) in world.repo.locks


def test_an_approval_moves_the_money_and_takes_its_locks_in_order(world):
    disbursement = world.pending(200_000)
    world.repo.locks.clear()
    approved = world.approve(disbursement)
    assert (approved.status, [a.approver_id for a in approved.approvals]) == (
        "approved",
        [world.officer.user_id],
    )
    assert [kind for kind, _ in world.repo.locks] == ["disbursement", "commitment", "source"]
    assert world.event_types()[-1] == "disbursement_approved"
    assert world.repo.commitment(disbursement.contract_id).disbursed == 200_000
    last = world.repo.entries[-2:]
    assert [(e.kind, e.account.split(":")[0], e.debit) for e in last] == [
        ("approval", "approved", 200_000),
        ("approval", "committed", 0),
    ]


def test_nobody_approves_what_they_had_a_hand_in(world):
    source = world.source()
    award = world.award(source, awarded_by=world.officer.user_id)
    world.react(
        payees.provider_verified,
        ProviderVerified(world.provider, "service_provider", world.second_officer.user_id),
    )
    disbursement = world.accept(award.contract_id, by=world.third_officer)
    reasons = {}
    for actor in (world.officer, world.second_officer, world.third_officer):
        with pytest.raises(MakerChecker) as refused:
            world.approve(disbursement, actor)
        reasons[actor.username + str(len(reasons))] = refused.value.details["reason"]
    assert sorted(reasons.values()) == [
        "accepted_milestone",
        "awarded_contract",
        "verified_provider",
    ]
    with pytest.raises(MakerChecker):
        world.approve(disbursement, world.staff)  # not a finance officer
    with pytest.raises(DisbursementNotFound):
        world.approve(disbursement, world.other_officer)
    assert disbursement.status == "pending" and disbursement.approvals == []


def test_two_approvers_each_once(world):
    award = world.award(world.source(2 * THRESHOLD), THRESHOLD)
    disbursement = world.accept(award.contract_id, 1_000)
    world.approve(disbursement)
    assert disbursement.status == "pending" and world.repo.entries[-1].kind == "commitment"
    with pytest.raises(MakerChecker) as again:
        world.approve(disbursement)
    assert again.value.details["reason"] == "already_approved"
    world.approve(disbursement, world.second_officer)
    assert disbursement.status == "approved"


def test_a_rejection_needs_a_reason(world):
    disbursement = world.pending()
    reject = disbursements.reject_disbursement
    with pytest.raises(RuleBroken) as no_reason:
        world.execute(world.officer, reject, RejectDisbursement(disbursement.id, None))
    assert no_reason.value.details == {"field": "reason", "rule": "required"}
    rejected = world.execute(world.officer, reject, RejectDisbursement(disbursement.id, "材料不全"))
    assert (rejected.status, rejected.rejected_by) == ("rejected", world.officer.user_id)
    assert world.events[-1][0] == "disbursement_rejected"
    assert world.events[-1][1]["reason"] == "材料不全"
    with pytest.raises(InvalidTransition):
        world.approve(disbursement)


def test_a_payment_is_recorded_by_another_officer_with_a_reference_used_once(world):
    pay = disbursements.pay_disbursement
    first, second = world.pending(), world.pending()
    with pytest.raises(InvalidTransition):
        world.execute(world.second_officer, pay, PayDisbursement(first.id, "BANK-1"))
    world.approve(first)
    world.approve(second)
    with pytest.raises(MakerChecker) as approver:
        world.execute(world.officer, pay, PayDisbursement(first.id, "BANK-1"))
    assert approver.value.details["reason"] == "approved_disbursement"
    paid = world.execute(world.second_officer, pay, PayDisbursement(first.id, " BANK-1 "))
    assert (paid.status, paid.payment_reference) == ("paid", "BANK-1")
    assert world.events[-1][0] == "disbursement_paid"
    source = world.repo.source(first.source_id)
    assert source.paid == first.amount
    with pytest.raises(DuplicatePaymentReference) as reused:
        world.execute(world.second_officer, pay, PayDisbursement(second.id, "BANK-1"))
    assert reused.value.details["disbursement_id"] == first.id
    with pytest.raises(RuleBroken) as blank:
        world.execute(world.second_officer, pay, PayDisbursement(second.id, "  "))
    assert blank.value.details["field"] == "payment_reference"


def test_a_disbursement_is_read_by_its_payee_and_its_federation(world):
    disbursement = world.pending()
    get = GetDisbursement(disbursement.id)
    for reader in (world.contractor, world.staff, world.officer, world.admin):
        assert world.query(reader, disbursements.get_disbursement, get) is disbursement
    for outsider in (world.stranger, world.other_officer):
        with pytest.raises(DisbursementNotFound):
            world.query(outsider, disbursements.get_disbursement, get)


def test_disbursements_are_listed_oldest_first_within_scope(world):
    small = world.pending(100_000)
    world.clock.advance(minutes=5)
    large = world.pending(300_000)
    world.approve(large)
    award = world.award(world.source(owner=world.other), purchaser=world.other)
    world.accept(award.contract_id)

    def listed(actor: Actor, request: PageRequest | None = None, **filters: Any) -> list[str]:
        command = ListDisbursements(page=request or page(DISBURSEMENT_ORDER), **filters)
        return [
            d.id for d in world.query(actor, disbursements.list_disbursements, command)["items"]
        ]

    assert listed(world.officer) == [small.id, large.id]
    assert listed(world.officer, status="pending") == [small.id]
    assert listed(world.officer, page(DISBURSEMENT_ORDER, sort="-amount")) == [large.id, small.id]
    assert listed(world.officer, contract_id=small.contract_id) == [small.id]
    assert len(listed(world.contractor)) == 3 and listed(world.stranger) == []
    assert listed(world.stranger, payee_id=world.provider) == []  # its own, whatever it asks
    assert len(listed(world.admin)) == 3


def test_the_approval_queue_names_each_payee_and_source(world):
    disbursement = world.pending()
    command = ListDisbursements(page=page(DISBURSEMENT_ORDER), status="pending")
    found = world.query(world.officer, disbursements.disbursement_rows, command)
    [row] = found["items"]
    assert row["item"] is disbursement and row["payee_name"] == "阳光社工"
    assert row["source_name"] == world.repo.source(disbursement.source_id).name
    assert found["total"] == 1


# --- payees -----------------------------------------------------------------------------------


def test_a_suspension_holds_a_payees_open_disbursements_until_reinstated(world):
    pending, approved = world.pending(), world.pending()
    world.approve(approved)
    suspended = world.status(world.provider, "suspended", 2, reason="年检未通过")
    assert world.react(payees.payee_suspended, suspended) == 2
    assert (pending.status, approved.status) == ("held", "held")
    assert pending.hold_reason == "年检未通过"
    assert world.directory.get(world.provider)["status"] == "suspended"
    assert world.event_types()[-2:] == ["disbursement_held", "disbursement_held"]
    stale = world.status(world.provider, "reinstated", 1)
    assert world.react(payees.payee_reinstated, stale) == 0
    assert world.directory.get(world.provider)["status"] == "suspended"
    assert world.react(payees.payee_reinstated, world.status(world.provider, "reinstated", 3)) == 2
    assert (pending.status, approved.status) == ("pending", "approved")
    assert world.event_types()[-1] == "disbursement_released"


def test_a_deregistration_holds_for_good(world):
    disbursement = world.pending()
    gone = world.status(world.provider, "deregistered", 2)
    assert world.react(payees.payee_deregistered, gone) == 1
    assert (disbursement.status, disbursement.hold_reason) == ("held", "provider_deregistered")
    back = world.status(world.provider, "reinstated", 3)
    assert world.react(payees.payee_reinstated, back) == 0
    assert disbursement.held_for_good


def test_who_verified_a_provider_is_remembered_for_providers_only(world):
    verified = ProviderVerified(world.provider, "service_provider", world.officer.user_id)
    world.react(payees.provider_verified, verified)
    world.react(payees.provider_verified, ProviderVerified(world.city, "federation", "someone"))
    world.react(
        payees.provider_verified, ProviderVerified(world.provider, "service_provider", None)
    )
    assert world.repo.verifications == {(world.provider, world.officer.user_id)}


# --- the journal and the monthly report -----------------------------------------------------


def read(world: World, actor: Actor, **filters: Any) -> Any:
    command = ReadJournal(page=page(JOURNAL_ORDER), **filters)
    return world.query(actor, journal.read_journal, command)


def test_the_journal_is_read_under_its_scope_rule(world):
    mine = world.source(100)
    theirs = world.source(200, owner=world.other)
    assert {e.source_id for e in read(world, world.officer)["items"]} == {mine.id}
    assert {e.source_id for e in read(world, world.admin)["items"]} == {mine.id, theirs.id}
    assert read(world, world.ops)["total"] == 4
    assert {e.source_id for e in read(world, world.staff, source_id=mine.id)["items"]} == {mine.id}
    with pytest.raises(OutOfScope) as staff:
        read(world, world.staff)
    assert "give source_id" in staff.value.message
    with pytest.raises(OutOfScope):
        read(world, world.contractor)
    for outsider in (world.contractor, world.staff):
        with pytest.raises(SourceNotFound):
            read(world, outsider, source_id=theirs.id)
    with pytest.raises(SourceNotFound):
        read(world, world.other_officer, source_id=mine.id)


def test_the_journal_filters_by_contract_and_time(world):
    source = world.source(1_000_000)
    world.clock.advance(days=1)
    award = world.award(source, 600_000)
    since = world.clock.now()
    by_contract = read(world, world.officer, contract_id=award.contract_id)["items"]
    assert [e.kind for e in by_contract] == ["commitment", "commitment"]
    assert [e.kind for e in read(world, world.officer, until=since)["items"]] == [
        "receipt",
        "receipt",
    ]
    assert read(world, world.officer, since=since)["total"] == 2


def test_the_monthly_report_sums_each_kind_per_china_month(world):
    world.clock.at = datetime(2027, 3, 31, 15, 30, tzinfo=UTC)  # 23:30 in China: March
    source = world.source(1_000_000)
    world.clock.advance(hours=1)  # 00:30 on 1 April in China
    world.award(source, 600_000)
    world.source(5_000, owner=world.other)
    report = world.query(world.officer, journal.monthly_report, MonthlyReport())
    assert report == [
        {"month": "2027-03", "receipt": 1_000_000},
        {"month": "2027-04", "commitment": 600_000},
    ]
    assert world.query(world.officer, journal.monthly_report, MonthlyReport(fiscal_year=2026)) == []
    with pytest.raises(OutOfScope):
        world.query(world.staff, journal.monthly_report, MonthlyReport())
    mine = world.query(world.staff, journal.monthly_report, MonthlyReport(source_id=source.id))
    assert mine == report


def test_time_comes_from_the_clock(world):
    award = world.award(world.source())
    world.clock.at = datetime(2027, 6, 1, tzinfo=UTC)
    disbursement = world.accept(award.contract_id)
    world.clock.advance(hours=2)
    world.approve(disbursement)
    assert disbursement.requested_at == datetime(2027, 6, 1, tzinfo=UTC)
    assert disbursement.decided_at == datetime(2027, 6, 1, tzinfo=UTC) + timedelta(hours=2)
    assert disbursement.approvals[0].at == disbursement.decided_at
