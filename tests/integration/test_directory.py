"""A service's copy of the registry (language.directory) gets every fact right in any order."""

import itertools
import uuid

import eventlet
import pytest
import sqlalchemy as sa

from kit.db import connect
from kit.migrate import upgrade
from language.directory import apply_details, apply_status, organizations


@pytest.fixture
def db(database_url):
    upgrade("projects", database_url)  # a service that keeps a directory
    with connect(database_url, service_name="projects") as resource:
        yield resource


def registered(organization_id, kind, name, parent_id=None, version=1):
    return {
        "organization_id": organization_id,
        "kind": kind,
        "name": name,
        "parent_id": parent_id,
        "uscc": None,
        "version": version,
        "status": "registered",
    }


def status(organization_id, kind, value, version):
    return {"organization_id": organization_id, "kind": kind, "status": value, "version": version}


def apply(db, facts):
    for fact in facts:
        with db() as uow:
            (apply_details if "name" in fact else apply_status)(uow, fact)
            uow.commit()


def rows(db):
    with db.begin(write=False) as connection:
        return {r.id: r for r in connection.execute(sa.select(organizations))}


def test_every_order_of_the_facts_gives_the_same_directory(db):
    city, district, provider = (str(uuid.uuid4()) for _ in range(3))
    facts = [
        registered(city, "federation", "市妇联"),
        registered(district, "federation", "区妇联", city),
        registered(provider, "service_provider", "社工所", district),
        status(provider, "service_provider", "verified", 2),
        status(provider, "service_provider", "suspended", 3),
    ]
    results = set()
    for order in itertools.permutations(facts):
        with db.begin() as connection:
            connection.execute(sa.delete(organizations))
        apply(db, order)
        found = rows(db)
        results.add(tuple(sorted((r.id, r.name, r.path, r.status) for r in found.values())))
    assert len(results) == 1
    found = rows(db)
    assert found[provider].path == f"/{city}/{district}/{provider}/"
    assert found[provider].status == "suspended" and found[provider].name == "社工所"


def test_facts_applied_at_once_by_many_workers_keep_the_newest(db, database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time; the race is PostgreSQL's")
    provider = str(uuid.uuid4())
    apply(db, [registered(provider, "service_provider", "社工所")])
    facts = [
        status(provider, "service_provider", s, v)
        for v, s in enumerate(["verified", "suspended", "reinstated"] * 7, start=2)
    ]
    pool = eventlet.GreenPool(10)
    list(pool.imap(lambda fact: apply(db, [fact]), reversed(facts)))
    found = rows(db)[provider]
    newest = facts[-1]
    assert (newest["status"], newest["version"]) == ("reinstated", 22)
    assert (found.status, found.status_version) == ("reinstated", 22)


def test_a_miss_asks_once_records_the_unknown_ancestors_and_answers_from_the_copy_after(db):
    from language.directory import Directory

    city, street, unit = (str(uuid.uuid4()) for _ in range(3))
    registry = {
        city: registered(city, "federation", "市妇联"),
        street: registered(street, "federation", "街道妇联", city, version=2),
        unit: {
            **registered(unit, "host_unit", "和平社区", street, version=3),
            "status": "verified",
        },
    }
    asked = []

    def lookup(organization_id):
        asked.append(organization_id)
        return registry.get(organization_id)

    apply(db, [registered(city, "federation", "市妇联")])  # the copy knows the city only
    for readonly in (True, False):  # a read records in a unit of work of its own
        with db(readonly=readonly) as uow:
            found = Directory(uow, lookup).get(unit)
            assert (found["name"], found["status"], found["path"]) == (
                "和平社区",
                "verified",
                f"/{city}/{street}/{unit}/",
            )
            assert Directory(uow, lookup).get(str(uuid.uuid4())) is None
            if not readonly:
                uow.commit()
        if readonly:
            assert asked[:2] == [unit, street]  # not the city: the copy knew it
    assert asked.count(unit) == 1  # recorded: the second read did not ask again
    assert rows(db)[street].path == f"/{city}/{street}/"
    # a later event is applied over the answer as over any fact of an older version
    apply(db, [status(unit, "host_unit", "suspended", 4)])
    assert rows(db)[unit].status == "suspended"
