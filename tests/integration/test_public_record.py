"""The public record's SQL (信息公开) against both databases: published projects only, the
names from the directory copy, sort orders with their cursors, the awards and tranches, and
the OCDS feed's pages."""

import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from kit.db import DatabaseResource
from kit.paging import page_request
from language.actor import SYSTEM
from language.directory import organizations
from projects.domain.award import award
from projects.domain.project import Project
from projects.public_record import ANNOUNCEMENT_ORDER, AWARD_ORDER, FEED_ORDER, PublicRecord

T0 = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)


def _project(purchaser: str, title: str, budget: int) -> Project:
    return Project(
        title=title,
        category="family_education",
        model="self_run",
        purchaser_id=purchaser,
        funding_source_id=str(uuid.uuid4()),
        budget=budget,
        starts_on=date(2027, 1, 1),
        ends_on=date(2027, 12, 31),
        target_beneficiaries=10,
        indicators=[{"name": "讲座", "target": 4, "unit": "场"}],
        description="面向家长的讲座",
        created_by=SYSTEM.user_id,
        created_at=T0,
    )


def _world(db: DatabaseResource) -> dict:
    city = str(uuid.uuid4())
    with db.begin() as connection:
        connection.execute(
            sa.insert(organizations).values(
                id=city,
                kind="federation",
                name="某市妇女联合会",
                uscc="13350100MB01987658",
                path=f"/{city}/",
                status="verified",
                details_version=1,
                updated_at=T0,
            )
        )
    made: dict = {"city": city}
    with db() as uow:
        PublicRecord(uow.session)  # maps the classes
        made["draft"] = _project(city, "草稿", 100)
        uow.session.add(made["draft"])
        for n in range(5):
            project = _project(city, f"公告{n}", 1000 * (n + 1))
            project.publish(SYSTEM, T0 + timedelta(hours=n))
            uow.session.add(project)
            made[f"p{n}"] = project
        uow.session.flush()
        contract = award(
            made["p4"],
            application=None,
            contractor_id=city,
            contractor=None,
            amount=5000,
            milestones=[
                {"title": f"m{i}", "due_on": date(2027, 6, i), "amount": 2500, "deliverables": ""}
                for i in (1, 2)
            ],
            applications=[],
            actor=SYSTEM,
            at=T0 + timedelta(days=1),
        )
        uow.session.add(contract)
        uow.commit()
        made["contract"] = contract.id
        made = {k: (v.id if isinstance(v, Project) else v) for k, v in made.items()}
    return made


def test_the_public_record_reads_published_projects_only(projects_db):
    db = DatabaseResource(projects_db, service_name="projects")
    try:
        made = _world(db)
        with db(readonly=True) as uow:
            record = PublicRecord(uow.session)
            first = record.announcements(page_request(2, None, ordering=ANNOUNCEMENT_ORDER))
            assert first.total == 5
            assert [row.title for row in first.rows] == ["公告4", "公告3", "公告2"]
            assert first.rows[0].purchaser_name == "某市妇女联合会"
            by_budget = record.announcements(
                page_request(10, None, ordering=ANNOUNCEMENT_ORDER, sort="-budget"), q="公告"
            )
            assert [row.budget for row in by_budget.rows] == [5000, 4000, 3000, 2000, 1000]
            assert (
                record.announcements(
                    page_request(10, None, ordering=ANNOUNCEMENT_ORDER), status="awarded"
                ).total
                == 1
            )
            assert record.announcement(made["draft"]) is None
            detail = record.announcement(made["p4"])
            assert (detail.contract_id, detail.indicators[0]["name"]) == (made["contract"], "讲座")

            awards = record.awards(page_request(10, None, ordering=AWARD_ORDER))
            assert [(a.project_id, a.contractor_name, a.amount) for a in awards.rows] == [
                (made["p4"], "某市妇女联合会", 5000)
            ]
            assert record.award_of(made["p0"]) is None
            assert [
                (t.seq, t.amount, t.paid_amount) for t in record.tranches(made["contract"])
            ] == [
                (1, 2500, 0),
                (2, 2500, 0),
            ]
            assert record.parties([made["city"]])[made["city"]]["uscc"] == "13350100MB01987658"
            assert record.process(made["draft"]) == (None, None)
    finally:
        db.dispose()


def test_the_feed_pages_through_every_published_project_oldest_first(projects_db):
    from kit.paging import fetched_page

    db = DatabaseResource(projects_db, service_name="projects")
    try:
        made = _world(db)
        seen, cursor = [], None
        with db(readonly=True) as uow:
            record = PublicRecord(uow.session)
            while True:
                request = page_request(2, cursor, ordering=FEED_ORDER)
                fetched, contracts = record.processes(request)
                page = fetched_page(fetched, request)
                seen += [project.id for project in page["items"]]
                for project in page["items"]:
                    if project.contract_id:
                        assert contracts[project.contract_id].milestones[0].seq == 1
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        assert seen == [made[f"p{n}"] for n in range(5)]
    finally:
        db.dispose()
