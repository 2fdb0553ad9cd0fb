"""Projects rules on plain domain objects: the project state machine, editing, applications,
tranche arithmetic and the award, the milestone machine, contractor standing, money,
evaluation, the delivery report and scope.

No broker and no database: every object is built directly and every status is reached by
performing the real transitions.
"""

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from language.actor import Actor
from projects.domain.application import Application, apply_for
from projects.domain.award import award, plan_milestones
from projects.domain.contract import Milestone
from projects.domain.delivery import contract_brief, delivery_report
from projects.domain.payments import Disbursement, commitment_decided, payment_progressed
from projects.domain.project import (
    EDITABLE,
    PROJECT_ACTIONS,
    PROJECT_STATUSES,
    Project,
    add_indicator_values,
    ensure_source_available,
)
from projects.domain.scope import Scope
from projects.exceptions import (
    InvalidTransition,
    OutOfScope,
    ProviderNotEligible,
    RuleBroken,
    SelfAcceptance,
)

AT = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
LATER = AT + timedelta(days=1)
STARTS_ON = date(2027, 1, 1)
ENDS_ON = date(2027, 12, 31)
BUDGET = 1_200_000
APPLIED_AMOUNT = 1_000_000

FEDERATION_ID = str(uuid.uuid4())
FUNDING_SOURCE_ID = str(uuid.uuid4())
PROVIDER_ID = str(uuid.uuid4())
OTHER_PROVIDER_ID = str(uuid.uuid4())
PARTNER_ID = str(uuid.uuid4())

STAFF = Actor(str(uuid.uuid4()), "staff", "federation_staff", FEDERATION_ID)
ADMIN = Actor(str(uuid.uuid4()), "admin", "admin")
FINANCE = Actor(str(uuid.uuid4()), "finance", "finance_officer")
OPS = Actor(str(uuid.uuid4()), "ops", "ops")
CONTRACTOR = Actor(str(uuid.uuid4()), "contractor", "contractor", PROVIDER_ID)
OTHER_CONTRACTOR = Actor(str(uuid.uuid4()), "other", "contractor", OTHER_PROVIDER_ID)

VERIFIED = {"kind": "service_provider", "status": "verified"}

INDICATORS = [
    {"name": "服务人次", "unit": "人次", "target": 500},
    {"name": "满意度", "unit": "%", "target": 90},
]

#: the contract's schedule used wherever the tranches themselves are not under test
SCHEDULE = [
    {
        "title": "需求评估",
        "deliverables": "评估报告",
        "due_on": date(2027, 3, 31),
        "amount": 300_000,
    },
    {
        "title": "服务实施",
        "deliverables": "服务记录",
        "due_on": date(2027, 6, 30),
        "amount": 300_000,
    },
    {"title": "结项", "deliverables": "结项报告", "due_on": date(2027, 12, 31), "amount": 400_000},
]


def new_project(model="commissioned", **fields):
    values = {
        "title": "单亲母亲家庭服务项目",
        "category": "single_mother_family_services",
        "model": model,
        "purchaser_id": FEDERATION_ID,
        "funding_source_id": FUNDING_SOURCE_ID,
        "budget": BUDGET,
        "starts_on": STARTS_ON,
        "ends_on": ENDS_ON,
        "target_beneficiaries": 500,
        "indicators": [dict(indicator) for indicator in INDICATORS],
        "description": "为单亲母亲家庭提供心理疏导、就业帮扶和亲子教育",
        "created_by": STAFF.user_id,
        "created_at": AT,
    }
    values.update(fields)
    return Project(**values)


def published(model="commissioned", **fields):
    project = new_project(model, **fields)
    project.publish(STAFF, AT)
    project.pull_events()
    return project


def application(project, provider_id=PROVIDER_ID, amount=APPLIED_AMOUNT):
    """An application built directly (no rules), for states where ``apply_for`` would refuse."""
    return Application(
        project=project,
        provider_id=provider_id,
        amount=amount,
        proposal="社工事务所承接方案",
        submitted_by=CONTRACTOR.user_id,
        submitted_at=AT,
    )


def schedule(*amounts_and_dues):
    """Milestone dicts from (amount, due_on) pairs; the default is SCHEDULE."""
    if not amounts_and_dues:
        return [dict(milestone) for milestone in SCHEDULE]
    return [
        {"title": f"阶段{index + 1}", "due_on": due_on, "amount": amount}
        for index, (amount, due_on) in enumerate(amounts_and_dues)
    ]


def award_commissioned(project, chosen, applications=(), amount=None, milestones=None):
    contract = award(
        project,
        application=chosen,
        contractor_id=chosen.provider_id if chosen else PROVIDER_ID,
        contractor=VERIFIED,
        amount=amount,
        milestones=milestones if milestones is not None else schedule(),
        applications=list(applications),
        actor=STAFF,
        at=AT,
    )
    return contract


def award_self_run(
    project, contractor_id=FEDERATION_ID, contractor=None, amount=1_000_000, milestones=None
):
    return award(
        project,
        application=None,
        contractor_id=contractor_id,
        contractor=contractor,
        amount=amount,
        milestones=milestones if milestones is not None else schedule(),
        applications=[],
        actor=STAFF,
        at=AT,
    )


def evaluation(*scores, evaluated_on=date(2027, 12, 20), **extra):
    """An evaluation from (indicator, score, weight) triples."""
    scores = scores or (("服务人次", 90, 60), ("满意度", 75, 40))
    return {
        "scores": [{"indicator": i, "score": s, "weight": w} for i, s, w in scores],
        "evaluator": "第三方评估机构",
        "evaluated_on": evaluated_on,
        **extra,
    }


def awarded(model="commissioned"):
    """A project awarded through the real transitions, with its contract; events taken."""
    if model == "commissioned":
        project = published()
        chosen = apply_for(
            project,
            provider_id=PROVIDER_ID,
            provider=VERIFIED,
            amount=APPLIED_AMOUNT,
            proposal="方案",
            actor=CONTRACTOR,
            at=AT,
        )
        contract = award_commissioned(project, chosen, [chosen])
    else:
        project = new_project("self_run")
        contract = award_self_run(project)
    project.pull_events()
    contract.pull_events()
    return project, contract


def reach(status, model="commissioned"):
    """A project in ``status``, reached only by real transitions (every status is reachable,
    so nothing is set directly); returns the project and its contract, if any."""
    contract = None
    if status == "draft":
        project = new_project(model)
    elif status == "published":
        project = published(model)
    elif status == "cancelled":
        project = new_project(model)
        project.cancel("经费未到位", STAFF, AT, None)
    else:
        project, contract = awarded(model)
        if status in ("evaluated", "closed"):
            project.evaluate(evaluation(), STAFF, AT)
        if status == "closed":
            project.close(STAFF, AT, contract)
    project.pull_events()
    assert project.status == status
    return project, contract


def events_of(aggregate):
    return [(event.name, event.data) for event in aggregate.pull_events()]


# --- the project state machine ----------------------------------------------------------

#: the specification, written out so that a change to PROJECT_ACTIONS shows up here
EXPECTED_ALLOWED = {
    "edit": {"draft"},
    "publish": {"draft"},
    "apply": {"published"},
    "award": {"published"},
    "award_self_run": {"draft", "published"},
    "cancel": {"draft", "published", "awarded"},
    "evaluate": {"awarded"},
    "close": {"evaluated"},
}
#: the status an allowed action leads to (None: unchanged)
LEADS_TO = {
    "edit": None,
    "publish": "published",
    "apply": None,
    "award": "awarded",
    "award_self_run": "awarded",
    "cancel": "cancelled",
    "evaluate": "evaluated",
    "close": "closed",
}
#: apply and award belong to commissioned projects, award_self_run to self-run ones; the rest
#: are checked for both models
MODELS_OF = {
    "apply": ("commissioned",),
    "award": ("commissioned",),
    "award_self_run": ("self_run",),
}


def perform(action, project, contract):
    if action == "edit":
        return project.edit({"title": "單親母親家庭服務項目"}, LATER)
    if action == "publish":
        return project.publish(STAFF, LATER)
    if action == "apply":
        return apply_for(
            project,
            provider_id=PROVIDER_ID,
            provider=VERIFIED,
            amount=APPLIED_AMOUNT,
            proposal="方案",
            actor=CONTRACTOR,
            at=LATER,
        )
    if action == "award":
        chosen = application(project)
        return award_commissioned(project, chosen, [chosen])
    if action == "award_self_run":
        return award_self_run(project)
    if action == "cancel":
        return project.cancel("情况变化", STAFF, LATER, contract)
    if action == "evaluate":
        return project.evaluate(evaluation(), STAFF, LATER)
    if action == "close":
        return project.close(STAFF, LATER, contract)
    raise AssertionError(action)


TRANSITIONS = [
    (action, status, model)
    for action in PROJECT_ACTIONS
    for status in PROJECT_STATUSES
    for model in MODELS_OF.get(action, ("commissioned", "self_run"))
]


def test_the_action_table_is_the_specified_one():
    assert {action: set(allowed) for action, allowed in PROJECT_ACTIONS.items()} == (
        EXPECTED_ALLOWED
    )
    assert set(PROJECT_STATUSES) == {
        "draft",
        "published",
        "awarded",
        "evaluated",
        "closed",
        "cancelled",
    }


@pytest.mark.parametrize(("action", "status", "model"), TRANSITIONS)
def test_every_action_from_every_status(action, status, model):
    project, contract = reach(status, model)
    version = project.version
    if status in EXPECTED_ALLOWED[action]:
        perform(action, project, contract)
        assert project.status == (LEADS_TO[action] or status)
        assert project.version == version + (0 if action == "apply" else 1)
    else:
        with pytest.raises(InvalidTransition) as caught:
            perform(action, project, contract)
        assert caught.value.details["current_status"] == status
        assert caught.value.details["action"] == action
        assert caught.value.details["allowed_from"] == list(PROJECT_ACTIONS[action])
        assert caught.value.details["project_id"] == project.id
        assert project.status == status
        assert project.version == version
        assert project.pull_events() == []


def test_publish_records_project_published_with_its_data():
    project = new_project()
    project.publish(STAFF, LATER)
    assert project.status == "published"
    assert project.published_at == LATER
    assert project.updated_at == LATER
    assert project.version == 2
    assert events_of(project) == [
        (
            "project_published",
            {
                "project_id": project.id,
                "purchaser_id": FEDERATION_ID,
                "funding_source_id": FUNDING_SOURCE_ID,
                "title": "单亲母亲家庭服务项目",
                "category": "single_mother_family_services",
                "model": "commissioned",
                "budget": BUDGET,
                "actor_id": STAFF.user_id,
                "occurred_at": LATER,
            },
        )
    ]


@pytest.mark.parametrize("reason", [None, "", "   \n"])
def test_cancel_needs_a_reason(reason):
    project = published()
    with pytest.raises(RuleBroken) as caught:
        project.cancel(reason, STAFF, LATER, None)
    assert caught.value.details == {"field": "reason", "rule": "required"}
    assert project.status == "published"
    assert project.version == 2
    assert project.pull_events() == []


def test_cancel_records_project_cancelled_with_the_trimmed_reason():
    project = published()
    project.cancel("  财政资金未到位  ", STAFF, LATER, None)
    assert project.status == "cancelled"
    assert project.cancel_reason == "财政资金未到位"
    assert project.closed_at == LATER
    assert project.version == 3
    assert events_of(project) == [
        (
            "project_cancelled",
            {
                "project_id": project.id,
                "funding_source_id": FUNDING_SOURCE_ID,
                "reason": "财政资金未到位",
                "actor_id": STAFF.user_id,
                "occurred_at": LATER,
            },
        )
    ]


def test_cancelling_an_awarded_project_cancels_its_contract():
    project, contract = awarded()
    project.cancel("承接机构退出", STAFF, LATER, contract)
    assert project.status == "cancelled"
    assert contract.status == "cancelled"
    assert contract.updated_at == LATER


def test_an_awarded_project_cannot_be_cancelled_once_a_milestone_was_accepted():
    project, contract = awarded()
    first = contract.milestones[0]
    report = reported(contract, first)
    contract.accept(first, report, project, STAFF, LATER)
    version = project.version
    with pytest.raises(InvalidTransition) as caught:
        project.cancel("承接机构退出", STAFF, LATER, contract)
    assert caught.value.details["current_status"] == "partly delivered"
    assert caught.value.details["accepted_milestones"] == [first.id]
    assert project.status == "awarded"
    assert project.version == version
    assert contract.status == "active"
    assert project.pull_events() == []


@pytest.mark.parametrize("contract_status", ["active", "suspended"])
def test_close_records_project_closed_and_completes_the_contract(contract_status):
    project, contract = reach("evaluated")
    contract.contractor_standing_changed(contract_status == "suspended", 1, LATER)
    assert contract.status == contract_status
    version = project.version
    project.close(STAFF, LATER, contract)
    assert project.status == "closed"
    assert project.closed_at == LATER
    assert project.version == version + 1
    assert contract.status == "completed"
    assert events_of(project) == [
        (
            "project_closed",
            {
                "project_id": project.id,
                "funding_source_id": FUNDING_SOURCE_ID,
                "reason": None,
                "actor_id": STAFF.user_id,
                "occurred_at": LATER,
            },
        )
    ]


def test_versions_bump_once_per_transition():
    project = new_project()
    assert project.version == 1
    project.publish(STAFF, AT)
    assert project.version == 2
    chosen = application(project)
    contract = award_commissioned(project, chosen, [chosen])
    assert project.version == 3
    project.evaluate(evaluation(), STAFF, AT)
    assert project.version == 4
    project.close(STAFF, AT, contract)
    assert project.version == 5


# --- editing ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["status", "purchaser_id", "version", "published_at", "id"])
def test_only_editable_fields_can_be_edited(field):
    assert field not in EDITABLE
    project = new_project()
    with pytest.raises(RuleBroken) as caught:
        project.edit({"title": "新标题", field: "x"}, LATER)
    assert caught.value.details == {"field": field, "rule": "not_editable"}
    assert project.title == "单亲母亲家庭服务项目"
    assert project.version == 1


def test_every_editable_field_can_be_edited():
    project = new_project()
    changes = {
        "title": "春蕾计划助学项目",
        "category": "spring_bud_girls_schooling",
        "model": "self_run",
        "funding_source_id": str(uuid.uuid4()),
        "budget": 800_000,
        "starts_on": date(2027, 2, 1),
        "ends_on": date(2027, 11, 30),
        "target_beneficiaries": 120,
        "indicators": [{"name": "资助人数", "unit": "人", "target": 120}],
        "description": "资助女童完成学业",
    }
    assert set(changes) == set(EDITABLE)
    assert sorted(project.edit(changes, LATER)) == sorted(changes)
    for field, value in changes.items():
        assert getattr(project, field) == value
    assert project.version == 2
    assert project.updated_at == LATER


@pytest.mark.parametrize(
    "changes",
    [
        {"ends_on": date(2026, 12, 31)},
        {"starts_on": date(2028, 1, 1)},
        {"starts_on": date(2027, 6, 2), "ends_on": date(2027, 6, 1)},
    ],
)
def test_a_project_cannot_end_before_it_starts(changes):
    project = new_project()
    with pytest.raises(RuleBroken) as caught:
        project.edit(changes, LATER)
    assert caught.value.details["field"] == "ends_on"
    assert caught.value.details["rule"] == "after_starts_on"
    assert (project.starts_on, project.ends_on) == (STARTS_ON, ENDS_ON)
    assert project.version == 1


def test_a_one_day_project_is_fine():
    project = new_project()
    assert project.edit({"starts_on": ENDS_ON}, LATER) == ["starts_on"]
    assert project.starts_on == project.ends_on == ENDS_ON


def test_a_new_project_cannot_end_before_it_starts():
    with pytest.raises(RuleBroken) as caught:
        new_project(starts_on=date(2027, 5, 1), ends_on=date(2027, 4, 30))
    assert caught.value.details == {
        "field": "ends_on",
        "rule": "after_starts_on",
        "starts_on": "2027-05-01",
        "ends_on": "2027-04-30",
    }


def test_indicator_names_are_unique():
    project = new_project()
    indicators = [
        {"name": "满意度", "target": 90},
        {"name": "服务人次", "target": 500},
        {"name": "满意度", "target": 95},
    ]
    with pytest.raises(RuleBroken) as caught:
        project.edit({"indicators": indicators}, LATER)
    assert caught.value.details == {
        "field": "indicators",
        "rule": "unique_names",
        "duplicates": ["满意度"],
    }
    assert project.indicators == INDICATORS
    with pytest.raises(RuleBroken):
        new_project(indicators=indicators)


def test_a_title_change_refreshes_the_search_title():
    project = new_project()
    assert project.search_title == "单亲母亲家庭服务项目"
    assert project.edit({"title": "單親母親家庭服務  Project"}, LATER) == ["title"]
    assert project.title == "單親母親家庭服務  Project"
    assert project.search_title == "单亲母亲家庭服务 project"


def test_a_traditional_title_is_searchable_in_simplified():
    assert new_project(title="春蕾計劃 助學").search_title == "春蕾计划 助学"


def test_an_edit_that_changes_nothing_does_not_bump_the_version():
    project = new_project()
    same = {"title": project.title, "budget": BUDGET, "indicators": [dict(i) for i in INDICATORS]}
    assert project.edit(same, LATER) == []
    assert project.version == 1
    assert project.updated_at == AT


def test_an_edit_returns_only_what_changed_and_bumps_the_version_once():
    project = new_project()
    changed = project.edit({"title": project.title, "budget": 900_000, "description": None}, LATER)
    assert sorted(changed) == ["budget", "description"]
    assert project.version == 2


# --- applications -------------------------------------------------------------------------


def apply(
    project, *, provider_id=PROVIDER_ID, provider=VERIFIED, amount=APPLIED_AMOUNT, actor=CONTRACTOR
):
    return apply_for(
        project,
        provider_id=provider_id,
        provider=provider,
        amount=amount,
        proposal="方案",
        actor=actor,
        at=LATER,
    )


def test_an_application_is_submitted():
    project = published()
    submitted = apply(project)
    assert submitted.project_id == project.id
    assert submitted.provider_id == PROVIDER_ID
    assert submitted.amount == APPLIED_AMOUNT
    assert submitted.status == "submitted"
    assert submitted.submitted_by == CONTRACTOR.user_id
    assert submitted.submitted_at == LATER


def test_a_contractor_applies_only_for_its_own_organization():
    project = published()
    with pytest.raises(OutOfScope) as caught:
        apply(project, actor=OTHER_CONTRACTOR)
    assert caught.value.details["field"] == "provider_id"
    assert caught.value.details["provider_id"] == PROVIDER_ID


def test_staff_may_enter_an_application_for_a_provider():
    assert apply(published(), actor=STAFF).provider_id == PROVIDER_ID


def test_a_self_run_project_takes_no_applications():
    with pytest.raises(RuleBroken) as caught:
        apply(published("self_run"))
    assert caught.value.details == {"field": "project_id", "rule": "commissioned_only"}


@pytest.mark.parametrize("status", ["draft", "awarded", "cancelled"])
def test_applications_only_for_published_projects(status):
    project, _ = reach(status)
    with pytest.raises(InvalidTransition) as caught:
        apply(project)
    assert caught.value.details["current_status"] == status


@pytest.mark.parametrize(
    ("entry", "kind", "status"),
    [
        (None, None, None),
        ({}, None, None),
        ({"kind": "host_unit", "status": "verified"}, "host_unit", "verified"),
        ({"kind": "federation", "status": "verified"}, "federation", "verified"),
        ({"kind": "service_provider", "status": "registered"}, "service_provider", "registered"),
        ({"kind": "service_provider", "status": "suspended"}, "service_provider", "suspended"),
        (
            {"kind": "service_provider", "status": "deregistered"},
            "service_provider",
            "deregistered",
        ),
    ],
    ids=["unknown", "empty", "host_unit", "federation", "registered", "suspended", "deregistered"],
)
def test_an_ineligible_provider_cannot_apply(entry, kind, status):
    with pytest.raises(ProviderNotEligible) as caught:
        apply(published(), provider=entry)
    assert caught.value.details == {
        "provider_id": PROVIDER_ID,
        "provider_status": status,
        "provider_kind": kind,
    }


@pytest.mark.parametrize("status", ["verified", "reinstated"])
def test_a_provider_in_good_standing_may_apply(status):
    submitted = apply(published(), provider={"kind": "service_provider", "status": status})
    assert submitted.status == "submitted"


def test_an_application_stays_within_the_budget():
    project = published()
    assert apply(project, amount=BUDGET).amount == BUDGET
    with pytest.raises(RuleBroken) as caught:
        apply(project, amount=BUDGET + 1)
    assert caught.value.details == {"field": "amount", "rule": "within_budget", "budget": BUDGET}


# --- tranches and the award ---------------------------------------------------------------


def test_tranches_must_add_up_exactly():
    project = published("self_run")
    with pytest.raises(RuleBroken) as caught:
        plan_milestones(project, 1_000_000, schedule((600_000, ENDS_ON), (399_999, ENDS_ON)), "c")
    assert caught.value.details == {
        "field": "milestones",
        "rule": "tranches_add_up",
        "tranches_total": 999_999,
        "contract_amount": 1_000_000,
        "difference": -1,
    }
    with pytest.raises(RuleBroken) as caught:
        plan_milestones(project, 1_000_000, schedule((1_000_001, ENDS_ON)), "c")
    assert caught.value.details["difference"] == 1


def test_the_contract_amount_stays_within_the_budget():
    project = published("self_run")
    planned = plan_milestones(project, BUDGET, schedule((BUDGET, ENDS_ON)), "c")
    assert [m.amount for m in planned] == [BUDGET]
    with pytest.raises(RuleBroken) as caught:
        plan_milestones(project, BUDGET + 1, schedule((BUDGET + 1, ENDS_ON)), "c")
    assert caught.value.details == {
        "field": "amount",
        "rule": "within_budget",
        "amount": BUDGET + 1,
        "budget": BUDGET,
    }


def test_due_dates_may_fall_on_the_first_and_last_day_of_the_project():
    project = published("self_run")
    planned = plan_milestones(project, 300, schedule((100, STARTS_ON), (200, ENDS_ON)), "c")
    assert [m.due_on for m in planned] == [STARTS_ON, ENDS_ON]


@pytest.mark.parametrize(
    ("dues", "index"),
    [
        ((STARTS_ON - timedelta(days=1), ENDS_ON, ENDS_ON), 0),
        ((STARTS_ON, ENDS_ON, ENDS_ON + timedelta(days=1)), 2),
    ],
)
def test_due_dates_lie_within_the_project_period(dues, index):
    project = published("self_run")
    with pytest.raises(RuleBroken) as caught:
        plan_milestones(project, 300, schedule(*[(100, due) for due in dues]), "c")
    assert caught.value.details == {
        "field": f"milestones[{index}].due_on",
        "rule": "within_project_period",
        "starts_on": "2027-01-01",
        "ends_on": "2027-12-31",
    }


def test_a_contract_needs_at_least_one_milestone():
    with pytest.raises(RuleBroken) as caught:
        plan_milestones(published("self_run"), 0, [], "c")
    assert caught.value.details == {"field": "milestones", "rule": "required"}


def test_milestones_are_ordered_by_due_date_and_ties_keep_the_given_order():
    given_order = [
        {"title": "C", "due_on": date(2027, 9, 30), "amount": 30},
        {"title": "A1", "due_on": date(2027, 3, 31), "amount": 10},
        {"title": "B", "due_on": date(2027, 6, 30), "amount": 20},
        {"title": "A2", "due_on": date(2027, 3, 31), "amount": 11},
    ]
    planned = plan_milestones(published("self_run"), 71, given_order, "contract-1")
    assert [(m.seq, m.title) for m in planned] == [(1, "A1"), (2, "A2"), (3, "B"), (4, "C")]
    assert all(m.contract_id == "contract-1" for m in planned)
    assert all(m.status == "pending" and m.payment_status == "none" for m in planned)
    assert [m.deliverables for m in planned] == ["", "", "", ""]


@settings(max_examples=200, deadline=None)
@given(
    tranches=st.lists(
        st.tuples(st.integers(1, 10**9), st.integers(0, (ENDS_ON - STARTS_ON).days)),
        min_size=1,
        max_size=8,
    ),
    headroom=st.integers(0, 10**9),
    delta=st.one_of(st.just(0), st.integers(-(10**6), 10**6)),
)
def test_an_award_succeeds_iff_the_tranches_add_up(tranches, headroom, delta):
    total = sum(amount for amount, _ in tranches)
    amount = total + delta
    project = new_project("self_run", budget=total + headroom)
    milestones = schedule(*[(a, STARTS_ON + timedelta(days=d)) for a, d in tranches])
    try:
        contract = award_self_run(project, amount=amount, milestones=milestones)
    except RuleBroken:
        assert amount != total
        assert project.status == "draft"
        return
    assert amount == total
    assert contract.amount == amount
    assert sum(m.amount for m in contract.milestones) == contract.amount
    assert [m.seq for m in contract.milestones] == list(range(1, len(tranches) + 1))
    dues = [m.due_on for m in contract.milestones]
    assert dues == sorted(dues)


def test_a_commissioned_award_needs_an_application():
    project = published()
    with pytest.raises(RuleBroken) as caught:
        award_commissioned(project, None, amount=1_000_000)
    assert caught.value.details == {"field": "application_id", "rule": "required"}
    assert project.status == "published"


def test_a_commissioned_award_uses_the_application_amount():
    project = published()
    chosen = application(project, amount=1_000_000)
    contract = award_commissioned(project, chosen, [chosen])
    assert contract.amount == 1_000_000
    assert contract.contractor_id == PROVIDER_ID
    assert contract.application_id == chosen.id


def test_a_commissioned_award_takes_a_given_amount():
    project = published()
    chosen = application(project, amount=1_100_000)
    contract = award_commissioned(project, chosen, [chosen], amount=1_000_000)
    assert contract.amount == 1_000_000


def test_a_commissioned_award_goes_to_the_application_and_the_others_lose():
    project = published()
    losers = [application(project, OTHER_PROVIDER_ID), application(project, PARTNER_ID)]
    chosen = application(project)
    contract = award_commissioned(
        project, chosen, [losers[0], chosen, losers[1]], milestones=schedule()
    )
    assert chosen.status == "awarded"
    assert [a.status for a in losers] == ["not_awarded", "not_awarded"]
    assert project.status == "awarded"
    assert project.contract_id == contract.id
    assert project.contractor_id == PROVIDER_ID
    assert project.version == 3
    assert contract.status == "active"
    assert contract.commitment_status == "pending"


def test_a_commissioned_award_checks_the_provider_again():
    project = published()
    chosen = application(project)
    with pytest.raises(ProviderNotEligible) as caught:
        award(
            project,
            application=chosen,
            contractor_id=PROVIDER_ID,
            contractor={"kind": "service_provider", "status": "suspended"},
            amount=None,
            milestones=schedule(),
            applications=[chosen],
            actor=STAFF,
            at=AT,
        )
    assert caught.value.details["provider_status"] == "suspended"
    assert project.status == "published"
    assert chosen.status == "submitted"


def test_a_failed_award_changes_nothing():
    project = published()
    chosen, other = application(project), application(project, OTHER_PROVIDER_ID)
    with pytest.raises(RuleBroken):
        award_commissioned(project, chosen, [chosen, other], milestones=schedule((1, ENDS_ON)))
    assert project.status == "published"
    assert project.version == 2
    assert project.contract_id is None
    assert (chosen.status, other.status) == ("submitted", "submitted")


def test_the_contract_awarded_event_outlines_the_milestones():
    project = published()
    chosen = application(project)
    contract = award_commissioned(project, chosen, [chosen])
    [(name, data)] = events_of(contract)
    assert name == "contract_awarded"
    outline = data.pop("milestones")
    assert data == {
        "contract_id": contract.id,
        "project_id": project.id,
        "contractor_id": PROVIDER_ID,
        "purchaser_id": FEDERATION_ID,
        "funding_source_id": FUNDING_SOURCE_ID,
        "amount": APPLIED_AMOUNT,
        "actor_id": STAFF.user_id,
        "occurred_at": AT,
    }
    assert outline == [
        {"milestone_id": m.id, "title": m.title, "due_on": m.due_on, "amount": m.amount}
        for m in contract.milestones
    ]
    assert sum(item["amount"] for item in outline) == APPLIED_AMOUNT
    assert [item["title"] for item in outline] == ["需求评估", "服务实施", "结项"]


def test_a_self_run_award_refuses_an_application():
    project = new_project("self_run")
    with pytest.raises(RuleBroken) as caught:
        award(
            project,
            application=application(project),
            contractor_id=PROVIDER_ID,
            contractor=VERIFIED,
            amount=1_000_000,
            milestones=schedule(),
            applications=[],
            actor=STAFF,
            at=AT,
        )
    assert caught.value.details == {
        "field": "application_id",
        "rule": "self_run_has_no_applications",
    }
    assert project.status == "draft"


@pytest.mark.parametrize("entry", [None, {"kind": "federation", "status": "registered"}])
def test_a_self_run_award_to_the_purchaser_needs_no_eligibility(entry):
    project = new_project("self_run")
    contract = award_self_run(project, contractor_id=FEDERATION_ID, contractor=entry)
    assert contract.contractor_id == FEDERATION_ID
    assert contract.application_id is None
    assert project.contractor_id == FEDERATION_ID
    assert project.status == "awarded"


@pytest.mark.parametrize(
    "entry",
    [
        None,
        {"kind": "service_provider", "status": "suspended"},
        {"kind": "host_unit", "status": "verified"},
    ],
)
def test_a_self_run_award_checks_a_partner(entry):
    project = new_project("self_run")
    with pytest.raises(ProviderNotEligible) as caught:
        award_self_run(project, contractor_id=PARTNER_ID, contractor=entry)
    assert caught.value.details["provider_id"] == PARTNER_ID
    assert project.status == "draft"


def test_a_self_run_award_to_an_eligible_partner():
    contract = award_self_run(
        new_project("self_run"),
        contractor_id=PARTNER_ID,
        contractor={"kind": "service_provider", "status": "reinstated"},
    )
    assert contract.contractor_id == PARTNER_ID


def test_a_self_run_award_needs_an_amount():
    project = new_project("self_run")
    with pytest.raises(RuleBroken) as caught:
        award_self_run(project, amount=None)
    assert caught.value.details == {"field": "amount", "rule": "required"}
    assert project.status == "draft"


# --- the milestone machine ----------------------------------------------------------------


def reported(contract, milestone, *, at=LATER, beneficiaries=10, values=None):
    return contract.report(
        milestone,
        summary="完成本阶段服务",
        beneficiaries_served=beneficiaries,
        evidence=[{"name": "签到表.pdf"}],
        indicator_values=values or {},
        actor=CONTRACTOR,
        at=at,
    )


def test_a_pending_milestone_is_reported():
    _, contract = awarded()
    milestone = contract.milestones[0]
    report = reported(contract, milestone, beneficiaries=42)
    assert milestone.status == "reported"
    assert milestone.reported_at == LATER
    assert report.milestone_id == milestone.id
    assert report.decision == "pending"
    assert report.reported_by == CONTRACTOR.user_id
    assert events_of(contract) == [
        (
            "milestone_reported",
            {
                "contract_id": contract.id,
                "milestone_id": milestone.id,
                "project_id": contract.project_id,
                "report_id": report.id,
                "beneficiaries_served": 42,
                "actor_id": CONTRACTOR.user_id,
                "occurred_at": LATER,
            },
        )
    ]


def test_a_rejected_milestone_is_reported_again():
    _, contract = awarded()
    milestone = contract.milestones[0]
    first = reported(contract, milestone)
    contract.reject(milestone, first, "缺少签到表", STAFF, LATER)
    second = reported(contract, milestone, at=LATER + timedelta(days=3))
    assert milestone.status == "reported"
    assert milestone.reported_at == LATER + timedelta(days=3)
    assert second.id != first.id
    assert first.decision == "rejected"


@pytest.mark.parametrize("status", ["reported", "accepted"])
def test_a_milestone_is_reported_only_when_pending_or_rejected(status):
    project, contract = awarded()
    milestone = contract.milestones[0]
    report = reported(contract, milestone)
    if status == "accepted":
        contract.accept(milestone, report, project, STAFF, LATER)
    contract.pull_events()
    with pytest.raises(InvalidTransition) as caught:
        reported(contract, milestone)
    assert caught.value.details["entity"] == "milestone"
    assert caught.value.details["current_status"] == status
    assert caught.value.details["allowed_from"] == ["pending", "rejected"]
    assert milestone.status == status
    assert contract.pull_events() == []


@pytest.mark.parametrize("status", ["pending", "rejected", "accepted"])
def test_a_milestone_is_accepted_only_when_reported(status):
    project, contract = awarded()
    milestone = contract.milestones[0]
    report = None
    if status != "pending":
        report = reported(contract, milestone)
        if status == "rejected":
            contract.reject(milestone, report, "材料不全", STAFF, LATER)
        else:
            contract.accept(milestone, report, project, STAFF, LATER)
    served = project.beneficiaries_served
    with pytest.raises(InvalidTransition) as caught:
        contract.accept(milestone, report or object(), project, STAFF, LATER)
    assert caught.value.details["current_status"] == status
    assert caught.value.details["allowed_from"] == ["reported"]
    assert project.beneficiaries_served == served


@pytest.mark.parametrize("status", ["pending", "rejected", "accepted"])
def test_a_milestone_is_rejected_only_when_reported(status):
    project, contract = awarded()
    milestone = contract.milestones[0]
    report = None
    if status != "pending":
        report = reported(contract, milestone)
        if status == "rejected":
            contract.reject(milestone, report, "材料不全", STAFF, LATER)
        else:
            contract.accept(milestone, report, project, STAFF, LATER)
    with pytest.raises(InvalidTransition) as caught:
        contract.reject(milestone, report or object(), "理由", STAFF, LATER)
    assert caught.value.details["current_status"] == status
    assert milestone.status == status


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_a_rejection_needs_a_reason(reason):
    _, contract = awarded()
    milestone = contract.milestones[0]
    report = reported(contract, milestone)
    contract.pull_events()
    with pytest.raises(RuleBroken) as caught:
        contract.reject(milestone, report, reason, STAFF, LATER)
    assert caught.value.details == {"field": "reason", "rule": "required"}
    assert milestone.status == "reported"
    assert report.decision == "pending"
    assert contract.pull_events() == []


def test_a_rejection_is_recorded_with_its_reason():
    _, contract = awarded()
    milestone = contract.milestones[0]
    report = reported(contract, milestone)
    contract.pull_events()
    contract.reject(milestone, report, " 缺少服务对象签字 ", STAFF, LATER)
    assert milestone.status == "rejected"
    assert (report.decision, report.decided_by, report.reason) == (
        "rejected",
        STAFF.user_id,
        "缺少服务对象签字",
    )
    [(name, data)] = events_of(contract)
    assert name == "milestone_rejected"
    assert data["reason"] == "缺少服务对象签字"
    assert data["rejected_by"] == STAFF.user_id


def test_acceptance_adds_beneficiaries_and_exact_indicator_values():
    project, contract = awarded()
    first, second = contract.milestones[:2]
    first_report = reported(
        contract, first, beneficiaries=120, values={"满意度": 0.1, "服务人次": 200}
    )
    contract.accept(first, first_report, project, STAFF, LATER)
    second_report = reported(
        contract, second, beneficiaries=80, values={"满意度": 0.2, "新指标": 1}
    )
    contract.accept(second, second_report, project, STAFF, LATER)
    assert project.beneficiaries_served == 200
    assert project.indicator_actuals == {"满意度": 0.3, "服务人次": 200.0, "新指标": 1.0}
    assert first.accepted_by == STAFF.user_id
    assert first.accepted_at == LATER


def test_add_indicator_values_sums_exactly():
    assert add_indicator_values({"a": 0.1}, {"a": 0.2}) == {"a": 0.3}
    assert add_indicator_values({}, {"b": 1.1, "c": 3}) == {"b": 1.1, "c": 3.0}
    actuals = {}
    for _ in range(10):
        actuals = add_indicator_values(actuals, {"d": 0.1})
    assert actuals == {"d": 1.0}
    original = {"a": 1}
    add_indicator_values(original, {"a": 1})
    assert original == {"a": 1}


@pytest.mark.parametrize(
    ("reported_at", "on_time"),
    [
        (datetime(2027, 3, 31, 15, 59, tzinfo=UTC), True),  # 23:59 in Beijing
        (datetime(2027, 3, 31, 16, 0, tzinfo=UTC), False),  # midnight in Beijing: next day
        (datetime(2027, 3, 31, 16, 30, tzinfo=UTC), False),
        (datetime(2027, 3, 30, 17, 0, tzinfo=UTC), True),  # 31 March 01:00 in Beijing
    ],
)
def test_on_time_is_judged_by_the_date_in_china(reported_at, on_time):
    project, contract = awarded()
    milestone = contract.milestones[0]
    assert milestone.due_on == date(2027, 3, 31)
    report = reported(contract, milestone, at=reported_at)
    contract.accept(milestone, report, project, STAFF, datetime(2027, 4, 10, tzinfo=UTC))
    assert milestone.accepted_on_time is on_time


def test_the_milestone_accepted_event_names_payee_and_source():
    project, contract = awarded()
    milestone = contract.milestones[2]
    report = reported(contract, milestone)
    contract.pull_events()
    contract.accept(milestone, report, project, STAFF, LATER)
    assert (report.decision, report.decided_by, report.decided_at) == (
        "accepted",
        STAFF.user_id,
        LATER,
    )
    assert events_of(contract) == [
        (
            "milestone_accepted",
            {
                "contract_id": contract.id,
                "milestone_id": milestone.id,
                "project_id": project.id,
                "amount": 400_000,
                "payee_id": PROVIDER_ID,
                "funding_source_id": FUNDING_SOURCE_ID,
                "accepted_by": STAFF.user_id,
                "actor_id": STAFF.user_id,
                "occurred_at": LATER,
            },
        )
    ]


def test_a_suspended_contract_takes_no_reports():
    _, contract = awarded()
    contract.contractor_standing_changed(True, 1, LATER)
    milestone = contract.milestones[0]
    with pytest.raises(InvalidTransition) as caught:
        reported(contract, milestone)
    assert caught.value.details["entity"] == "contract"
    assert caught.value.details["current_status"] == "suspended"
    assert milestone.status == "pending"


def test_a_suspended_contract_takes_no_acceptances():
    project, contract = awarded()
    milestone = contract.milestones[0]
    report = reported(contract, milestone, beneficiaries=5)
    contract.contractor_standing_changed(True, 1, LATER)
    with pytest.raises(InvalidTransition) as caught:
        contract.accept(milestone, report, project, STAFF, LATER)
    assert caught.value.details["current_status"] == "suspended"
    assert milestone.status == "reported"
    assert project.beneficiaries_served == 0


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_a_finished_contract_takes_no_reports(status):
    project, contract = awarded()
    if status == "completed":
        contract.complete(LATER)
    else:
        project.cancel("退出", STAFF, LATER, contract)
    with pytest.raises(InvalidTransition) as caught:
        reported(contract, contract.milestones[0])
    assert caught.value.details["current_status"] == status


def test_the_reporter_neither_accepts_nor_rejects_her_own_report():
    project, contract = awarded("self_run")
    milestone = contract.milestones[0]
    colleague = Actor(str(uuid.uuid4()), "colleague", "federation_staff", FEDERATION_ID)
    report = contract.report(
        milestone,
        summary="自办活动",
        beneficiaries_served=3,
        evidence=[],
        indicator_values={},
        actor=colleague,
        at=LATER,
    )
    for decide in (
        lambda: contract.accept(milestone, report, project, colleague, LATER),
        lambda: contract.reject(milestone, report, "补充", colleague, LATER),
    ):
        with pytest.raises(SelfAcceptance) as caught:
            decide()
        assert caught.value.code == "SELF_ACCEPTANCE"
        assert milestone.status == "reported" and report.decision == "pending"
    contract.accept(milestone, report, project, STAFF, LATER)
    assert milestone.status == "accepted"


# --- contractor standing ------------------------------------------------------------------


def test_a_deregistration_terminates_the_contract_for_good():
    project, contract = awarded()
    milestone = contract.milestones[0]
    contract.contractor_standing_changed(True, 2, LATER)
    assert contract.contractor_deregistered("service_provider", 3, LATER) is True
    assert (contract.status, contract.termination_reason) == (
        "terminated",
        "provider_deregistered",
    )
    assert contract.contractor_deregistered("service_provider", 4, LATER) is False
    assert contract.contractor_standing_changed(False, 5, LATER) is False  # nothing revives it
    assert contract.status == "terminated"
    with pytest.raises(InvalidTransition) as caught:
        reported(contract, milestone)
    assert caught.value.details["current_status"] == "terminated"
    project.cancel("承接方注销", STAFF, LATER, contract)  # nothing accepted: the project ends
    assert (project.status, contract.status) == ("cancelled", "terminated")


def test_a_stale_deregistration_and_a_finished_contract_change_nothing():
    _, contract = awarded()
    contract.contractor_standing_changed(True, 5, LATER)
    assert contract.contractor_deregistered("service_provider", 4, LATER) is False
    assert contract.status == "suspended"
    _, done = awarded()
    done.complete(LATER)
    assert done.contractor_deregistered("service_provider", 2, LATER) is False
    assert done.status == "completed" and done.termination_reason is None


def test_a_suspension_and_a_reinstatement_change_the_contract():
    _, contract = awarded()
    assert contract.contractor_standing_changed(True, 3, LATER) is True
    assert contract.status == "suspended"
    assert contract.contractor_status_version == 3
    assert contract.updated_at == LATER
    assert contract.contractor_standing_changed(False, 4, LATER) is True
    assert contract.status == "active"


def test_stale_standing_versions_are_ignored():
    _, contract = awarded()
    assert contract.contractor_standing_changed(True, 5, LATER) is True
    assert contract.contractor_standing_changed(False, 4, LATER) is False
    assert contract.contractor_standing_changed(False, 5, LATER) is False
    assert contract.status == "suspended"
    assert contract.contractor_status_version == 5


def test_a_reinstatement_that_overtakes_its_suspension_leaves_the_contract_active():
    _, contract = awarded()
    assert contract.contractor_standing_changed(False, 2, LATER) is False
    assert contract.contractor_standing_changed(True, 1, LATER) is False
    assert contract.status == "active"


def test_standing_news_that_changes_nothing_says_so():
    _, contract = awarded()
    contract.contractor_standing_changed(True, 1, LATER)
    assert contract.contractor_standing_changed(True, 2, LATER) is False
    assert contract.status == "suspended"
    contract.complete(LATER)
    assert contract.contractor_standing_changed(False, 3, LATER) is False
    assert contract.contractor_standing_changed(True, 4, LATER) is False
    assert contract.status == "completed"


# --- money --------------------------------------------------------------------------------

T1, T2, T3, T4 = (AT + timedelta(hours=hours) for hours in (1, 2, 3, 4))


def disbursement_event(occurred_at, amount=300_000, disbursement_id="d-1"):
    return Disbursement(
        disbursement_id=disbursement_id,
        occurred_at=occurred_at,
        amount=amount,
        payment_reference="BANK-001",
    )


def feed(contract, milestone, project, events):
    for event_type, occurred_at in events:
        payment_progressed(
            contract, milestone, project, event_type, disbursement_event(occurred_at)
        )


FULL_RUN = [
    ("disbursement_requested", T1),
    ("disbursement_held", T2),
    ("disbursement_approved", T3),
    ("disbursement_paid", T4),
]


@pytest.mark.parametrize("order", list(itertools.permutations(FULL_RUN)))
def test_payment_events_in_any_order_end_paid(order):
    project, contract = awarded()
    milestone = contract.milestones[0]
    feed(contract, milestone, project, order)
    assert milestone.payment_status == "paid"
    assert milestone.payment_updated_at == T4
    assert milestone.paid_amount == 300_000
    assert milestone.paid_at == T4
    assert milestone.payment_reference == "BANK-001"
    assert milestone.disbursement_id == "d-1"
    assert project.amount_approved == 300_000
    assert project.amount_paid == 300_000


@pytest.mark.parametrize("order", list(itertools.permutations(FULL_RUN[:3])))
def test_payment_events_in_any_order_end_in_the_newest_state(order):
    project, contract = awarded()
    milestone = contract.milestones[0]
    feed(contract, milestone, project, order)
    assert milestone.payment_status == "approved"
    assert milestone.payment_updated_at == T3
    assert project.amount_approved == 300_000
    assert project.amount_paid == 0


def test_a_hold_after_the_request_is_the_state():
    project, contract = awarded()
    milestone = contract.milestones[0]
    feed(contract, milestone, project, [("disbursement_held", T2), ("disbursement_requested", T1)])
    assert milestone.payment_status == "held"
    assert project.amount_approved == 0


def test_paid_is_final():
    project, contract = awarded()
    milestone = contract.milestones[0]
    feed(contract, milestone, project, [("disbursement_paid", T2)])
    newer = payment_progressed(
        contract, milestone, project, "disbursement_held", disbursement_event(T3)
    )
    assert newer is True  # the event was newer, yet it cannot undo a payment
    payment_progressed(
        contract, milestone, project, "disbursement_rejected", disbursement_event(T4)
    )
    assert milestone.payment_status == "paid"
    assert project.amount_paid == 300_000


def test_a_milestone_of_an_unfunded_contract_shows_its_payment_rejected_with_no_disbursement():
    project, contract = awarded()
    milestone = contract.milestones[0]
    unfunded = replace(disbursement_event(T1), disbursement_id=None)
    assert payment_progressed(contract, milestone, project, "disbursement_rejected", unfunded)
    assert (milestone.payment_status, milestone.disbursement_id) == ("rejected", None)
    assert (project.amount_approved, project.amount_paid) == (0, 0)


def test_payment_progressed_says_whether_the_event_was_newer():
    project, contract = awarded()
    milestone = contract.milestones[0]
    assert (
        payment_progressed(
            contract, milestone, project, "disbursement_approved", disbursement_event(T2)
        )
        is True
    )
    assert (
        payment_progressed(
            contract, milestone, project, "disbursement_requested", disbursement_event(T1)
        )
        is False
    )
    assert milestone.payment_status == "approved"


def test_project_money_is_derived_from_all_milestones():
    project, contract = awarded()
    first, second, third = contract.milestones
    feed(contract, first, project, [("disbursement_approved", T1)])
    payment_progressed(
        contract, second, project, "disbursement_paid", disbursement_event(T2, 299_000, "d-2")
    )
    feed(contract, third, project, [("disbursement_requested", T3)])
    assert project.amount_approved == 300_000 + 300_000
    assert project.amount_paid == 299_000


def test_a_commitment_is_committed():
    project, contract = awarded()
    commitment_decided(contract, project, False, amount=1_000_000, shortfall=5, reason="x")
    commitment_decided(contract, project, True, amount=1_000_000)
    assert contract.commitment_status == "committed"
    assert contract.commitment_shortfall is None
    assert contract.commitment_reason is None
    assert project.amount_committed == 1_000_000


def test_a_commitment_is_rejected_with_shortfall_and_reason():
    project, contract = awarded()
    commitment_decided(
        contract,
        project,
        False,
        amount=1_000_000,
        shortfall=250_000,
        reason="资金来源余额不足",
    )
    assert contract.commitment_status == "rejected"
    assert contract.commitment_shortfall == 250_000
    assert contract.commitment_reason == "资金来源余额不足"
    assert project.amount_committed == 0


# --- evaluation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "mean"),
    [
        ((("服务人次", 90, 60), ("满意度", 75, 40)), 84.0),
        ((("服务人次", 95, 70), ("满意度", 80, 30)), 90.5),
        ((("服务人次", 80.5, 1), ("满意度", 80, 1)), 80.3),  # 80.25: half up, not to even
        ((("服务人次", 84.4, 1), ("满意度", 84.5, 1)), 84.5),  # 84.45: half up, not to even
        ((("服务人次", 90, 1), ("满意度", 80, 2)), 83.3),
        ((("服务人次", 88, 100),), 88.0),
    ],
)
def test_the_overall_score_is_the_weighted_mean_rounded_half_up(scores, mean):
    project, _ = awarded()
    result = project.evaluate(evaluation(*scores), STAFF, LATER)
    assert result["weighted_mean"] == mean
    assert result["overall"] == mean
    assert project.evaluation == result
    assert project.status == "evaluated"


def test_an_evaluation_records_who_and_when():
    project, _ = awarded()
    result = project.evaluate(evaluation(), STAFF, LATER)
    assert result == {
        "scores": [
            {"indicator": "服务人次", "score": 90.0, "weight": 60.0},
            {"indicator": "满意度", "score": 75.0, "weight": 40.0},
        ],
        "weighted_mean": 84.0,
        "overall": 84.0,
        "evaluator": "第三方评估机构",
        "evaluated_on": "2027-12-20",
        "recorded_by": STAFF.user_id,
        "recorded_at": LATER.isoformat(),
    }


def test_a_given_overall_score_is_kept():
    project, _ = awarded()
    result = project.evaluate(evaluation(overall=88), STAFF, LATER)
    assert result["overall"] == 88.0
    assert result["weighted_mean"] == 84.0


def evaluation_refused(project, data):
    version = project.version
    with pytest.raises(RuleBroken) as caught:
        project.evaluate(data, STAFF, LATER)
    assert project.status == "awarded"
    assert project.evaluation is None
    assert project.version == version
    return caught.value.details


def test_scores_of_unknown_indicators_are_refused():
    project, _ = awarded()
    details = evaluation_refused(project, evaluation(("服务人次", 90, 50), ("就业人数", 80, 50)))
    assert details == {
        "field": "scores[1].indicator",
        "rule": "project_indicator",
        "indicators": ["服务人次", "满意度"],
    }


def test_each_indicator_is_scored_once():
    project, _ = awarded()
    details = evaluation_refused(project, evaluation(("满意度", 90, 50), ("满意度", 80, 50)))
    assert details == {"field": "scores", "rule": "unique_indicators"}


def test_an_evaluation_scores_at_least_one_indicator():
    project, _ = awarded()
    data = evaluation()
    data["scores"] = []
    assert evaluation_refused(project, data) == {"field": "scores", "rule": "required"}


def test_an_evaluation_cannot_predate_the_project():
    project, _ = awarded()
    details = evaluation_refused(project, evaluation(evaluated_on=STARTS_ON - timedelta(days=1)))
    assert details == {"field": "evaluated_on", "rule": "after_project_start"}
    result = project.evaluate(evaluation(evaluated_on=STARTS_ON), STAFF, LATER)
    assert result["evaluated_on"] == "2027-01-01"


# --- delivery -----------------------------------------------------------------------------

TODAY = date(2027, 7, 15)


def test_the_delivery_report_compares_targets_with_actuals():
    project, contract = awarded()
    extra = Milestone(
        contract_id=contract.id, seq=4, title="回访", deliverables="", due_on=TODAY, amount=0
    )
    early = Milestone(
        contract_id=contract.id,
        seq=5,
        title="中期",
        deliverables="",
        due_on=date(2027, 5, 31),
        amount=0,
    )
    contract.milestones += [extra, early]
    first, second, third = contract.milestones[:3]
    # first: accepted on time; second: accepted late; early: reported, due before today
    contract.accept(
        first,
        reported(
            contract,
            first,
            at=datetime(2027, 3, 1, tzinfo=UTC),
            beneficiaries=150,
            values={"服务人次": 150},
        ),
        project,
        STAFF,
        LATER,
    )
    contract.accept(
        second,
        reported(
            contract,
            second,
            at=datetime(2027, 7, 2, tzinfo=UTC),
            beneficiaries=100,
            values={"服务人次": 120.5},
        ),
        project,
        STAFF,
        LATER,
    )
    reported(contract, early)
    project.add_volunteer_minutes(100)
    project.add_volunteer_minutes(5)
    commitment_decided(contract, project, True, amount=APPLIED_AMOUNT)
    payment_progressed(contract, first, project, "disbursement_paid", disbursement_event(T1))
    payment_progressed(
        contract,
        second,
        project,
        "disbursement_approved",
        disbursement_event(T2, disbursement_id="d-2"),
    )

    report = delivery_report(project, contract, TODAY)

    assert report["project_id"] == project.id
    assert report["status"] == "awarded"
    assert report["beneficiaries"] == {"target": 500, "served": 250}
    assert report["indicators"] == [
        {"name": "服务人次", "unit": "人次", "target": 500, "actual": 270.5, "score": None},
        {"name": "满意度", "unit": "%", "target": 90, "actual": 0, "score": None},
    ]
    assert report["volunteer_hours"] == 1.75
    assert report["money"] == {
        "budget": BUDGET,
        "contracted": APPLIED_AMOUNT,
        "committed": APPLIED_AMOUNT,
        "disbursed": 600_000,
        "paid": 300_000,
    }
    # third (due 31 Dec) and extra (due today) are not overdue yet
    assert report["milestones"] == {
        "total": 5,
        "accepted": 2,
        "on_time": 1,
        "late": 1,
        "overdue": 1,
    }
    assert third.status == "pending"
    assert report["evaluation"] is None


def test_the_delivery_report_counts_overdue_against_the_given_day():
    project, contract = awarded()
    assert delivery_report(project, contract, date(2027, 3, 31))["milestones"]["overdue"] == 0
    assert delivery_report(project, contract, date(2027, 4, 1))["milestones"]["overdue"] == 1
    assert delivery_report(project, contract, date(2028, 1, 1))["milestones"]["overdue"] == 3


def test_the_delivery_report_shows_evaluation_scores():
    project, contract = awarded()
    project.evaluate(evaluation(), STAFF, LATER)
    report = delivery_report(project, contract, TODAY)
    assert [i["score"] for i in report["indicators"]] == [90.0, 75.0]
    assert report["evaluation"]["overall"] == 84.0
    assert report["status"] == "evaluated"


@pytest.mark.parametrize(
    ("minutes", "hours"), [(0, 0), (90, 1.5), (100, 1.67), (10, 0.17), (61, 1.02)]
)
def test_volunteer_hours_are_minutes_over_sixty_to_two_decimals(minutes, hours):
    project = new_project()
    project.add_volunteer_minutes(minutes)
    assert delivery_report(project, None, TODAY)["volunteer_hours"] == hours


def test_a_project_without_a_live_contract_has_nothing_contracted():
    project = published()
    report = delivery_report(project, None, TODAY)
    assert report["money"]["contracted"] == 0
    assert report["milestones"] == {
        "total": 0,
        "accepted": 0,
        "on_time": 0,
        "late": 0,
        "overdue": 0,
    }
    project, contract = awarded()
    project.cancel("退出", STAFF, LATER, contract)
    assert delivery_report(project, contract, TODAY)["money"]["contracted"] == 0


# --- scope --------------------------------------------------------------------------------

DISTRICT = "/city/district/"


@pytest.mark.parametrize(
    ("actor", "federation_path", "purchaser_path", "covered"),
    [
        (ADMIN, None, "/elsewhere/", True),
        (ADMIN, None, None, True),
        (STAFF, DISTRICT, DISTRICT, True),
        (STAFF, DISTRICT, "/city/district/street/", True),
        (STAFF, DISTRICT, "/city/district/street/community/", True),
        (STAFF, DISTRICT, "/city/", False),
        (STAFF, DISTRICT, "/city/other/", False),
        (STAFF, DISTRICT, "/city/district2/", False),
        (STAFF, DISTRICT, None, False),
        (STAFF, None, DISTRICT, False),
        (CONTRACTOR, DISTRICT, DISTRICT, False),
        (FINANCE, DISTRICT, DISTRICT, False),
        (OPS, DISTRICT, DISTRICT, False),
    ],
)
def test_covers(actor, federation_path, purchaser_path, covered):
    assert Scope(actor, federation_path).covers(purchaser_path) is covered


def test_admin_and_staff_in_scope_manage_projects():
    project = new_project()
    Scope(ADMIN).ensure_manages(project, "/anywhere/")
    Scope(STAFF, DISTRICT).ensure_manages(project, "/city/district/street/")


def test_staff_outside_the_subtree_do_not_manage_the_project():
    project = new_project()
    with pytest.raises(OutOfScope) as caught:
        Scope(STAFF, DISTRICT).ensure_manages(project, "/city/other/")
    assert caught.value.details == {"project_id": project.id, "purchaser_id": FEDERATION_ID}


@pytest.mark.parametrize("actor", [CONTRACTOR, FINANCE, OPS])
def test_other_roles_do_not_manage_projects(actor):
    with pytest.raises(OutOfScope) as caught:
        Scope(actor, DISTRICT).ensure_manages(new_project(), DISTRICT)
    assert caught.value.details == {"role": actor.role}


def never_asked():
    raise AssertionError("the purchaser's path was asked for without need")


LEADER = Actor(str(uuid.uuid4()), "leader", "team_leader", FEDERATION_ID)


@pytest.mark.parametrize(
    ("actor", "federation_path", "purchaser_path", "draft_visible"),
    [
        (ADMIN, None, "/elsewhere/", True),
        (FINANCE, DISTRICT, "/city/district/street/", True),
        (FINANCE, DISTRICT, "/city/other/", False),
        (FINANCE, None, "/elsewhere/", False),
        (OPS, None, "/elsewhere/", False),
        (OPS, DISTRICT, DISTRICT, False),
        (LEADER, DISTRICT, DISTRICT, False),
        (STAFF, DISTRICT, "/city/district/street/", True),
        (STAFF, DISTRICT, "/city/other/", False),
        (STAFF, None, DISTRICT, False),
        (CONTRACTOR, None, DISTRICT, False),
        (CONTRACTOR, DISTRICT, DISTRICT, False),
    ],
)
def test_drafts_are_visible_to_admin_and_to_staff_and_finance_of_the_purchasers_line(
    actor, federation_path, purchaser_path, draft_visible
):
    draft = new_project()
    assert Scope(actor, federation_path).can_read(draft, lambda: purchaser_path) is draft_visible


@pytest.mark.parametrize(
    "actor", [ADMIN, FINANCE, OPS, STAFF, CONTRACTOR, OTHER_CONTRACTOR, LEADER]
)
def test_published_projects_are_visible_to_everybody(actor):
    for status in ("published", "awarded", "closed"):
        project, _ = reach(status)
        assert Scope(actor, "/somewhere/else/").can_read(project, never_asked) is True


def test_admin_is_not_asked_for_the_path():
    assert Scope(ADMIN).can_read(new_project(), never_asked) is True


@pytest.mark.parametrize(
    ("actor", "federation_path", "reads"),
    [
        (ADMIN, None, True),
        (STAFF, DISTRICT, True),
        (FINANCE, DISTRICT, True),
        (STAFF, "/city/other/", False),
        (FINANCE, "/city/other/", False),
        (FINANCE, None, False),
        (CONTRACTOR, None, True),
        (OTHER_CONTRACTOR, None, False),
        (OPS, None, False),
        (LEADER, DISTRICT, False),
    ],
)
def test_who_reads_a_contract(actor, federation_path, reads):
    _, contract = awarded()
    assert Scope(actor, federation_path).reads_contract(contract, lambda: DISTRICT) is reads


@pytest.mark.parametrize(
    ("actor", "federation_path", "sees"),
    [
        (ADMIN, None, True),
        (STAFF, DISTRICT, True),
        (STAFF, "/city/other/", False),
        (FINANCE, DISTRICT, False),
        (CONTRACTOR, None, False),
        (OPS, None, False),
        (LEADER, DISTRICT, False),
    ],
)
def test_tenderers_before_the_award_are_the_managers_only(actor, federation_path, sees):
    project, _ = reach("published")
    assert Scope(actor, federation_path).sees_tenderers(project, lambda: DISTRICT) is sees
    awarded_project, _ = reach("awarded")
    assert Scope(actor, federation_path).sees_tenderers(awarded_project, never_asked) is True


def test_a_contract_is_reported_by_its_contractor_and_a_self_run_one_by_the_purchasers_staff():
    _, contract = awarded()
    Scope(CONTRACTOR).ensure_may_report(contract, DISTRICT)
    for actor in (STAFF, ADMIN, FINANCE):
        with pytest.raises(OutOfScope):
            Scope(actor, DISTRICT).ensure_may_report(contract, DISTRICT)
    _, own = awarded("self_run")
    assert own.delivered_by_purchaser
    Scope(STAFF, DISTRICT).ensure_may_report(own, "/city/district/street/")
    Scope(ADMIN).ensure_may_report(own, DISTRICT)
    for actor, path in ((STAFF, "/city/other/"), (CONTRACTOR, None), (FINANCE, DISTRICT)):
        with pytest.raises(OutOfScope):
            Scope(actor, path).ensure_may_report(own, DISTRICT)


def test_a_cancelled_draft_stays_hidden_from_contractors():
    project, _ = reach("cancelled")
    assert Scope(CONTRACTOR).can_read(project, lambda: DISTRICT) is False
    assert Scope(STAFF, DISTRICT).can_read(project, lambda: DISTRICT) is True


# --- whose money a project may draw on -----------------------------------------------------


@pytest.mark.parametrize(
    ("owner_id", "purchaser_path"),
    [
        ("city", "/city/"),  # the purchaser's own source
        ("city", "/city/district/"),  # a source of a federation above the purchaser
        ("province", "/province/city/district/"),
    ],
)
def test_a_project_draws_on_its_purchasers_source_or_one_from_above(owner_id, purchaser_path):
    ensure_source_available(FUNDING_SOURCE_ID, owner_id, purchaser_path)


@pytest.mark.parametrize(
    ("owner_id", "purchaser_path"),
    [
        ("other-city", "/city/"),  # another federation's money
        ("district", "/city/"),  # a federation below the purchaser
        ("district-2", "/city/district/"),  # a sibling's
        (None, "/city/"),  # a source funding does not know
        ("city", None),  # a purchaser nobody knows
        ("ity", "/city/"),  # ids match whole
    ],
)
def test_any_other_source_is_not_available(owner_id, purchaser_path):
    with pytest.raises(RuleBroken) as raised:
        ensure_source_available(FUNDING_SOURCE_ID, owner_id, purchaser_path)

    assert raised.value.details["field"] == "funding_source_id"
    assert raised.value.details["rule"] == "source_not_available"


# --- what finance reads beside a contract's money -------------------------------------------


def test_a_contract_brief_gives_each_milestone_its_latest_report():
    project, contract = awarded()
    first, second = sorted(contract.milestones, key=lambda m: m.seq)[:2]
    rejected = reported(contract, first, beneficiaries=5)
    contract.reject(first, rejected, "缺少签到表", STAFF, LATER)
    again = reported(contract, first, at=LATER + timedelta(days=1), beneficiaries=42)
    brief = contract_brief(contract, project, {first.id: [rejected, again]})
    assert (brief["contract_id"], brief["project_title"], brief["contractor_id"]) == (
        contract.id,
        "单亲母亲家庭服务项目",
        PROVIDER_ID,
    )
    by_id = {m["id"]: m for m in brief["milestones"]}
    assert [m["seq"] for m in brief["milestones"]] == sorted(m.seq for m in contract.milestones)
    latest = by_id[first.id]["report"]
    assert (latest["id"], latest["beneficiaries_served"], latest["decision"]) == (
        again.id,
        42,
        "pending",
    )
    assert latest["evidence"] == [{"name": "签到表.pdf"}]
    assert by_id[second.id]["report"] is None
