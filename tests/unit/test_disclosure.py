"""Public disclosure (信息公开): the public use cases over the fakes. They take no actor and
read only the public record: no draft, no project cancelled before publication, no application
(the winner only, as the award, after it), no person, masked free text; the OCDS package and
every page of the feed validate against the 1.1.5 release-package schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kit.paging import page_request
from projects import commands as c
from projects import handlers, ocds
from projects import public_schemas as schemas
from projects.context import PublicContext
from projects.domain.disclosure import mask_personal, masked_release
from projects.domain.payments import Disbursement
from projects.exceptions import ProjectNotFound
from projects.handlers import disclosure
from projects.public_record import ANNOUNCEMENT_ORDER, AWARD_ORDER, FEED_ORDER
from tests.unit.fakes.public_record import FakePublicRecord
from tests.unit.test_projects_usecases import MILESTONES, World

PHONE = "13812345678"
ID_NUMBER = "11010119900307123X"


@pytest.fixture
def world() -> World:
    w = World()
    w.directory.entries[w.city]["name"] = "某市妇女联合会"
    w.directory.entries[w.provider]["name"] = "馨和社会工作服务中心"
    w.directory.entries[w.provider2]["name"] = "巾帼家政培训学校"
    return w


def visit(world: World, use_case: Any, command: Any) -> Any:
    """As ``PublicEntrypoints.disclose``: a context with the public record and no actor."""
    ctx = PublicContext(record=FakePublicRecord(world.repo, world.directory), clock=world.clock)
    return use_case(ctx, command)


def announcements(world: World, **filters: Any) -> dict[str, Any]:
    page = page_request(
        filters.pop("limit", 50), None, ordering=ANNOUNCEMENT_ORDER, sort=filters.pop("sort", None)
    )
    result = visit(world, disclosure.list_announcements, c.ListAnnouncements(page, **filters))
    return schemas.AnnouncementPage().dump(result)


def awards(world: World, **filters: Any) -> dict[str, Any]:
    page = page_request(50, None, ordering=AWARD_ORDER)
    result = visit(world, disclosure.list_awards, c.ListAwards(page, **filters))
    return schemas.AwardPage().dump(result)


def project_page(world: World, project_id: str) -> dict[str, Any]:
    result = visit(world, disclosure.get_announcement, c.GetAnnouncement(project_id))
    return schemas.PublicProjectOut().dump(result)


def paid(world: World, contract: Any, seq: int = 1) -> None:
    milestone = contract.milestones[seq - 1]
    at = datetime(2027, 4, 1, 3, tzinfo=UTC)
    disbursement = Disbursement(
        occurred_at=at,
        disbursement_id=f"d-{seq}",
        amount=milestone.amount,
        payment_reference=f"BANK-{seq}",
    )
    world.react(
        handlers.payment,
        c.DisbursementReported("disbursement_paid", contract.id, milestone.id, disbursement),
    )


def the_process(world: World) -> dict[str, Any]:
    """A draft, a project cancelled before publication, one published, one awarded (two
    applicants) with a tranche paid, one cancelled after publication."""
    draft = world.draft(title="草稿项目")
    cancelled_draft = world.draft(title="未发布即撤销")
    world.execute(
        world.staff, handlers.cancel_project, c.CancelProject(cancelled_draft.id, "内部原因")
    )
    published = world.published(title="家庭教育讲座")
    world.applied(published)  # an application before the award: nobody sees it
    project, contract = world.awarded()
    paid(world, contract)
    withdrawn = world.published(title="已撤销的公告")
    world.execute(
        world.staff, handlers.cancel_project, c.CancelProject(withdrawn.id, "预算调整，联系人王芳")
    )
    return {
        "draft": draft,
        "cancelled_draft": cancelled_draft,
        "published": published,
        "awarded": project,
        "contract": contract,
        "withdrawn": withdrawn,
    }


def test_the_announcements_are_the_published_projects_only(world):
    p = the_process(world)
    listed = announcements(world)
    ids = {item["id"] for item in listed["items"]}
    assert ids == {p["published"].id, p["awarded"].id, p["withdrawn"].id}
    assert listed["total"] == 3
    item = next(i for i in listed["items"] if i["id"] == p["published"].id)
    assert set(item) == {
        "id",
        "title",
        "category",
        "model",
        "purchaser_id",
        "purchaser_name",
        "budget",
        "starts_on",
        "ends_on",
        "status",
        "published_at",
    }
    assert (item["purchaser_name"], item["budget"], item["status"]) == (
        "某市妇女联合会",
        1_000_000,
        "published",
    )


def test_announcements_filter_and_sort(world):
    p = the_process(world)
    assert [i["id"] for i in announcements(world, status="cancelled")["items"]] == [
        p["withdrawn"].id
    ]
    assert [i["id"] for i in announcements(world, q="家庭教育")["items"]] == [p["published"].id]
    assert announcements(world, status="draft")["items"] == []
    assert announcements(world, purchaser_id=world.other_city)["items"] == []
    by_title = [i["title"] for i in announcements(world, sort="title")["items"]]
    assert by_title == sorted(by_title)


@pytest.mark.parametrize("which", ["draft", "cancelled_draft"])
def test_a_project_never_published_is_not_there(world, which):
    p = the_process(world)
    with pytest.raises(ProjectNotFound):
        project_page(world, p[which].id)
    with pytest.raises(ProjectNotFound):
        visit(world, disclosure.public_release, c.PublicRelease(p[which].id))


def test_a_published_project_before_award_names_no_bidder(world):
    p = the_process(world)
    page = project_page(world, p["published"].id)
    assert page["award"] is None and page["tranches"] == [] and page["amount_paid"] == 0
    text = json.dumps(page, ensure_ascii=False, default=str)
    for organization in (world.provider, world.provider2, "馨和", "巾帼家政"):
        assert organization not in text
    package = visit(world, disclosure.public_release, c.PublicRelease(p["published"].id))
    release = package["releases"][0]
    assert "tenderers" not in release["tender"] and "numberOfTenderers" not in release["tender"]
    assert [party["roles"] for party in release["parties"]] == [
        ["buyer", "procuringEntity", "payer"]
    ]


def test_after_the_award_only_the_winner_appears_with_the_money_paid(world):
    p = the_process(world)
    page = project_page(world, p["awarded"].id)
    award = page["award"]
    assert (award["contractor_id"], award["contractor_name"]) == (
        world.provider,
        "馨和社会工作服务中心",
    )
    assert (award["amount"], award["status"], award["amount_paid"]) == (900_000, "active", 400_000)
    assert page["amount_paid"] == 400_000
    assert [(t["seq"], t["amount"], t["paid_amount"]) for t in page["tranches"]] == [
        (1, 400_000, 400_000),
        (2, 500_000, 0),
    ]
    text = json.dumps(page, ensure_ascii=False, default=str)
    assert world.provider2 not in text and "巾帼家政" not in text  # the losing bidder
    package = visit(world, disclosure.public_release, c.PublicRelease(p["awarded"].id))
    release = package["releases"][0]
    assert "tenderers" not in release["tender"]
    assert {party["id"] for party in release["parties"]} == {world.city, world.provider}
    assert release["awards"][0]["suppliers"] == [
        {"id": world.provider, "name": "馨和社会工作服务中心"}
    ]
    assert release["contracts"][0]["implementation"]["transactions"][0]["value"]["amount"] == 4000.0


def test_no_person_and_no_internal_note_in_any_public_answer(world):
    p = the_process(world)
    answers = [announcements(world), awards(world)]
    answers += [project_page(world, p[k].id) for k in ("published", "awarded", "withdrawn")]
    text = json.dumps(answers, ensure_ascii=False, default=str)
    people = [world.staff, world.staff2, world.contractor, world.contractor2, world.admin]
    for person in people:
        assert person.user_id not in text and person.username not in text
    for secret in ("内部原因", "王芳", "方案", "BANK-1", "created_by", "cancel_reason", "proposal"):
        assert secret not in text


def test_the_awards_list_the_winners_of_published_projects(world):
    p = the_process(world)
    listed = awards(world)
    assert [(a["project_id"], a["contractor_name"], a["amount"]) for a in listed["items"]] == [
        (p["awarded"].id, "馨和社会工作服务中心", 900_000)
    ]
    assert awards(world, contractor_id=world.provider2)["items"] == []
    assert awards(world, q="不存在")["total"] == 0


def test_phone_and_id_numbers_typed_into_free_text_are_masked(world):
    project = world.published(
        title=f"热线 {PHONE}",
        description=f"联系人手机{PHONE}，身份证{ID_NUMBER}",
        indicators=[{"name": f"回访{PHONE}", "target": 1, "unit": "次"}],
    )
    page = project_page(world, project.id)
    package = visit(world, disclosure.public_release, c.PublicRelease(project.id))
    text = json.dumps([page, announcements(world), package], ensure_ascii=False, default=str)
    assert PHONE not in text and ID_NUMBER not in text
    assert "138****5678" in page["title"] and "110101********123X" in page["description"]


def test_mask_personal_leaves_ids_and_codes_alone():
    assert mask_personal("电话13812345678。") == "电话138****5678。"
    assert mask_personal("a13812345678") == "a13812345678"  # part of a code, not a number
    assert mask_personal("91350100M000100Y43") == "91350100M000100Y43"
    assert masked_release({"id": "13812345678", "title": "13812345678"}) == {
        "id": "13812345678",
        "title": "138****5678",
    }


def test_every_page_of_the_feed_validates_and_links_the_next(world):
    p = the_process(world)
    for n in range(3):
        world.published(title=f"项目{n}")
    validator = ocds.load_schema_validator()
    seen, texts, cursor, pages = [], [], None, 0
    while True:
        page = page_request(2, cursor, ordering=FEED_ORDER)
        result = visit(
            world, disclosure.public_releases, c.PublicReleases(page, uri="https://x/feed")
        )
        package = result["package"]
        validator.validate(package)
        seen += [r["tender"]["id"] for r in package["releases"]]
        texts.append(json.dumps(package, ensure_ascii=False))
        pages += 1
        assert result["total"] == 6
        cursor = result["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 6
    assert p["draft"].id not in seen and p["cancelled_draft"].id not in seen
    assert not any(world.provider2 in text for text in texts)  # the losing bidder


def test_the_feed_is_the_same_package_while_nothing_changes(world):
    the_process(world)
    page = page_request(50, None, ordering=FEED_ORDER)
    first = visit(world, disclosure.public_releases, c.PublicReleases(page, uri="https://x/feed"))
    world.clock.advance(hours=5)
    again = visit(world, disclosure.public_releases, c.PublicReleases(page, uri="https://x/feed"))
    assert first == again  # publishedDate is the latest release's: an ETag holds


def test_milestones_of_the_award_are_in_the_plan(world):
    p = the_process(world)
    page = project_page(world, p["awarded"].id)
    assert [t["title"] for t in page["tranches"]] == [m["title"] for m in MILESTONES]
