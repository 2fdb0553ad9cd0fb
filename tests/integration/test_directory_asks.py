"""What was just created can be used at once: a service whose copy of the registry has not
heard of an organization yet (its events are held up) asks the registry before refusing, and
keeps the answer.

The organizations are registered while the volunteers and projects services are not running:
their events find no queue of theirs and never reach them (held for good — the hardest case of
an event still on its way). Then a team is created under the new host unit and a project is
drafted for the new federation, as a person clicking through the console would do at once.
"""

import base64
import os
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from kit.config import load_config
from kit.db import connect
from kit.migrate import upgrade
from kit.tables import outbox
from language.directory import organizations as directory
from projects.models import funding_sources
from projects.service import ProjectsService
from registry.service import RegistryService
from tests.conftest import free_port
from tests.integration.conftest import ROOT
from tests.support.infra import scratch_postgres_database
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import wait_until
from volunteers.service import VolunteersService

ADMIN = {"user_id": str(uuid.uuid4()), "username": "admin", "role": "admin"}
OUTBOX = {"poll_interval": 0.2, "lease_ttl": 3, "confirm_timeout": 5}


@pytest.fixture
def databases(request, database_url, tmp_path):
    """One database per service, of the kind the test runs on."""
    if database_url.startswith("sqlite"):
        yield {
            name: f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
            for name in ("registry", "volunteers", "projects")
        }
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with (
        scratch_postgres_database(admin_url) as registry,
        scratch_postgres_database(admin_url) as volunteers,
        scratch_postgres_database(admin_url) as projects,
    ):
        yield {"registry": registry, "volunteers": volunteers, "projects": projects}


def config(service, rabbit_config, url, **more):
    upgrade(service, url)
    return load_config(
        ROOT / f"services/{service}/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=url,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        JINGUO_ENV="test",
        OUTBOX=OUTBOX,
        **more,
    )


def key():
    return base64.b64encode(os.urandom(32)).decode()


def entry(url, organization_id):
    with connect(url) as db, db.begin(write=False) as connection:
        return connection.execute(
            sa.select(directory).where(directory.c.id == organization_id)
        ).first()


def test_an_organization_registered_a_moment_ago_is_usable_at_once(
    container_factory, rabbit_config, databases
):
    registry_config = config("registry", rabbit_config, databases["registry"])
    container_factory(RegistryService, registry_config).start()
    with ServiceRpcProxy("registry", registry_config) as registry:
        city = registry.register_organization(
            {"name": "乌兰浩特市妇联", "kind": "federation", "level": "county"}, ADMIN
        )
        street = registry.register_organization(
            {
                "name": "和平街道妇联",
                "kind": "federation",
                "level": "township",
                "parent_id": city["id"],
            },
            ADMIN,
        )
        community = registry.register_organization(
            {
                "name": "和平社区",
                "kind": "host_unit",
                "sector": "community",
                "parent_id": street["id"],
            },
            ADMIN,
        )

    def published():
        """the registry's events have gone out, to no queue of volunteers or projects"""
        with connect(databases["registry"]) as db, db.begin(write=False) as connection:
            statuses = connection.execute(sa.select(outbox.c.status)).scalars().all()
        return len(statuses) == 3 and "pending" not in statuses

    wait_until(published)

    volunteers_config = config(
        "volunteers",
        rabbit_config,
        databases["volunteers"],
        VOLUNTEERS_DATA_KEY=key(),
        VOLUNTEERS_HASH_KEY=key(),
    )
    projects_config = config("projects", rabbit_config, databases["projects"])
    container_factory(VolunteersService, volunteers_config).start()
    container_factory(ProjectsService, projects_config).start()
    assert entry(databases["volunteers"], community["id"]) is None  # never heard of it

    staff = {
        "user_id": str(uuid.uuid4()),
        "username": "city.staff",
        "role": "federation_staff",
        "organization_id": city["id"],
    }
    with ServiceRpcProxy("volunteers", volunteers_config) as volunteers:
        team = volunteers.create_team(
            {
                "name": "和平社区巾帼志愿服务队",
                "theme": "low_carbon_living",
                "host_id": community["id"],
            },
            staff,
        )
    assert team["host_id"] == community["id"]
    # the answers are kept, placed in the hierarchy as the events would have placed them
    kept = entry(databases["volunteers"], community["id"])
    assert (kept.name, kept.kind, kept.status, kept.path) == (
        "和平社区",
        "host_unit",
        "registered",
        f"/{city['id']}/{street['id']}/{community['id']}/",
    )

    # the city's funding source, as funding_source_created has told projects (the source is not
    # what this test is about: the city, which projects has not heard of, is)
    source_id = str(uuid.uuid4())
    with connect(databases["projects"]) as db, db.begin() as connection:
        connection.execute(
            sa.insert(funding_sources).values(
                id=source_id, owner_id=city["id"], version=1, updated_at=datetime.now(UTC)
            )
        )
    with ServiceRpcProxy("projects", projects_config) as projects:
        project = projects.draft_project(
            {
                "title": "家庭教育指导服务",
                "category": "family_education",
                "model": "commissioned",
                "funding_source_id": source_id,
                "budget": 1_000_000,
                "starts_on": "2027-01-01",
                "ends_on": "2027-12-31",
                "target_beneficiaries": 100,
            },
            staff,
        )
    assert project["purchaser_id"] == city["id"]
    assert entry(databases["projects"], city["id"]).name == "乌兰浩特市妇联"


def test_an_organization_the_registry_does_not_know_is_still_refused(
    container_factory, rabbit_config, databases
):
    registry_config = config("registry", rabbit_config, databases["registry"])
    container_factory(RegistryService, registry_config).start()
    volunteers_config = config(
        "volunteers",
        rabbit_config,
        databases["volunteers"],
        VOLUNTEERS_DATA_KEY=key(),
        VOLUNTEERS_HASH_KEY=key(),
    )
    container_factory(VolunteersService, volunteers_config).start()
    nowhere = str(uuid.uuid4())
    with ServiceRpcProxy("volunteers", volunteers_config) as volunteers:
        from kit.rpc import RemoteFailure

        with pytest.raises(RemoteFailure) as refused:
            volunteers.create_team(
                {"name": "无主之队", "theme": "other", "host_id": nowhere},
                {**ADMIN, "user_id": str(uuid.uuid4())},
            )
    assert refused.value.details["field"] == "host_id"
    assert entry(databases["volunteers"], nowhere) is None
