"""The kit checks events against the catalogue it is handed, or the one ``language`` registered,
and checks nothing without one (``kit.catalogue``)."""

from __future__ import annotations

import uuid

import pytest

from kit import catalogue, tables
from kit.catalogue import CatalogueMissing, EventInvalid
from kit.db import DatabaseResource
from language import events


class Refusing:
    """A catalogue that knows no event."""

    def outgoing(self, source, event_type, data):
        raise EventInvalid(f"{event_type} is not known here", event_type=event_type)

    def incoming(self, source, event_type, body):
        raise EventInvalid(f"{event_type} is not known here", event_type=event_type)


@pytest.fixture
def resource():
    made = []

    def make(**options):
        made.append(DatabaseResource("sqlite://", service_name="registry", **options))
        tables.metadata.create_all(made[-1].engine)  # one in-memory database per resource
        return made[-1]

    yield make
    for each in made:
        each.dispose()


def registered_event(uow):
    uow.emit(
        "organization_registered",
        organization_id=str(uuid.uuid4()),
        kind="federation",
        version=1,
        status="registered",
        name="某市妇女联合会",
    )


def test_importing_the_language_registers_its_catalogue():
    assert catalogue.registered() is events


def test_a_unit_of_work_checks_its_events_against_the_registered_catalogue(resource):
    with resource()() as uow:
        registered_event(uow)
        (body,) = uow.commit()
    assert body["name"] == "某市妇女联合会"
    with resource()() as uow, pytest.raises(EventInvalid):
        uow.emit("organization_registered", organization_id=str(uuid.uuid4()))
        uow.commit()


def test_a_catalogue_handed_to_the_database_is_the_one_used(resource):
    with resource(catalogue=Refusing())() as uow, pytest.raises(EventInvalid):
        registered_event(uow)
        uow.commit()


def test_without_a_catalogue_nothing_is_written_unchecked(resource, monkeypatch):
    monkeypatch.setattr(catalogue, "_registered", None)
    with resource()() as uow:
        assert uow.commit() == []  # no events: nothing to check
    with resource()() as uow, pytest.raises(CatalogueMissing):
        registered_event(uow)
        uow.commit()
