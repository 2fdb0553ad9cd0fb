"""The projects repository's locking reads against both databases."""

import uuid
from datetime import UTC, date, datetime

import eventlet
import pytest

from kit.db import DatabaseResource
from language.actor import SYSTEM
from projects.domain.award import award
from projects.domain.project import Project
from projects.repository import ProjectRepository


def _contract(db: DatabaseResource) -> str:
    purchaser = str(uuid.uuid4())
    now = datetime.now(UTC)
    with db() as uow:
        ProjectRepository(uow.session)  # maps the classes
        project = Project(
            title="项目",
            category="other",
            model="self_run",
            purchaser_id=purchaser,
            funding_source_id=str(uuid.uuid4()),
            budget=100,
            starts_on=date(2027, 1, 1),
            ends_on=date(2027, 12, 31),
            target_beneficiaries=0,
            indicators=[],
            description=None,
            created_by=SYSTEM.user_id,
            created_at=now,
        )
        milestones = [
            {"title": f"m{i}", "due_on": date(2027, 6, i), "amount": 50, "deliverables": ""}
            for i in (1, 2)
        ]
        contract = award(
            project,
            application=None,
            contractor_id=purchaser,
            contractor=None,
            amount=100,
            milestones=milestones,
            applications=[],
            actor=SYSTEM,
            at=now,
        )
        uow.session.add(project)
        uow.session.flush()  # the mappers know no relationship that orders the inserts
        uow.session.add(contract)
        uow.commit()
    return contract.id


def test_a_contract_locked_after_a_wait_has_its_milestones_as_the_holder_left_them(projects_db):
    """One statement reads the contract and its milestones: the milestones must come as the
    transaction that held the lock left them, not as they were before the wait (PostgreSQL
    rechecks only the rows a statement locks)."""
    db = DatabaseResource(projects_db, service_name="projects")
    try:
        contract_id = _contract(db)

        def second() -> list[str]:
            with db() as uow:
                contract = ProjectRepository(uow.session).contract(contract_id, for_update=True)
                return [milestone.status for milestone in contract.milestones]

        with db() as first:
            contract = ProjectRepository(first.session).contract(contract_id, for_update=True)
            contract.milestones[0].status = "reported"
            first.session.flush()
            waiting = eventlet.spawn(second)
            eventlet.sleep(0.3)  # the second is waiting for the lock (or the SQLite writer)
            first.commit()
        assert waiting.wait() == ["reported", "pending"]

        with db(readonly=True) as uow:
            repository = ProjectRepository(uow.session)
            contract, purchaser = repository.contract_and_purchaser(contract_id)
            assert [m.seq for m in contract.milestones] == [1, 2]
            assert purchaser is None  # the purchaser is not in this directory
    finally:
        db.dispose()


def test_a_contract_without_milestones_is_still_found(projects_db):
    """The domain never makes one; the join that brings milestones must not hide it anyway."""
    import sqlalchemy as sa

    from projects.exceptions import ContractNotFound
    from projects.models import milestones

    db = DatabaseResource(projects_db, service_name="projects")
    try:
        contract_id = _contract(db)
        with db.begin() as connection:
            connection.execute(sa.delete(milestones).where(milestones.c.contract_id == contract_id))
        for for_update in (False, True):
            with db() as uow:
                repository = ProjectRepository(uow.session)
                contract, purchaser = repository.contract_and_purchaser(
                    contract_id, for_update=for_update
                )
                assert (contract.id, contract.milestones, purchaser) == (contract_id, [], None)
                assert repository.contract(contract_id, for_update=for_update).milestones == []
        with db() as uow, pytest.raises(ContractNotFound):
            ProjectRepository(uow.session).contract(str(uuid.uuid4()))
    finally:
        db.dispose()
