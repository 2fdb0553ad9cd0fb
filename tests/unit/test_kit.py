"""The service kit: paging, the event catalogue, aggregates, errors, RPC error mapping, config,
actors, metric outcomes and the shared marshmallow fields."""

import base64
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from marshmallow import Schema, ValidationError, validate
from nameko.exceptions import deserialize, serialize
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from kit import config as kit_config
from kit import paging
from kit.aggregate import Aggregate, DomainEvent
from kit.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Unavailable,
)
from kit.fields import Id, Money, Text
from kit.operations import outcome_of
from kit.rpc import RemoteFailure, as_service_error, to_remote_failure
from language import events
from language.actor import Actor


def invalid(callable_, *args, **kwargs):
    with pytest.raises(InvalidInput) as failure:
        callable_(*args, **kwargs)
    return failure.value


# --- paging -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        ("2024-03-01T09:30:00+00:00", "3f0b6c1e-6a7e-4c63-9d0e-0c7f4d7b2a11"),
        ("福州市妇女联合会", 42),
        ("婦聯 / YWCA ✓", None, 1.5, True),
        (0,),
    ],
)
def test_a_cursor_round_trips(key):
    cursor = paging.encode_cursor(key)

    assert paging.decode_cursor(cursor, len(key)) == key


def test_a_cursor_is_url_safe_and_unpadded():
    cursor = paging.encode_cursor(["妇联？&=/+", 1])

    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)


def test_a_list_key_decodes_as_a_tuple():
    assert paging.decode_cursor(paging.encode_cursor(["a", 1]), 2) == ("a", 1)


def cursor_of(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "a",  # one character more than a multiple of four: not base64
        "中文",
        cursor_of(b"not json"),
        cursor_of(b"\xff\xfe[1]"),  # not UTF-8
        cursor_of(b'{"a": 1}'),  # JSON, but not a list
        cursor_of(b"1"),
        cursor_of(b"null"),
        cursor_of(b"[]"),  # wrong arity
        cursor_of(b'["a", 1]'),  # wrong arity
    ],
)
def test_a_bad_cursor_is_invalid_input_on_the_cursor_field(cursor):
    error = invalid(paging.decode_cursor, cursor, 1)

    assert error.details == {"field": "cursor", "rule": "opaque"}
    assert error.code == "VALIDATION_FAILED"


def test_page_request_defaults():
    request = paging.page_request(None, None, 2)

    assert request == paging.PageRequest(limit=50, after=None)


@pytest.mark.parametrize("limit", [1, 50, 500])
def test_page_request_accepts_limits_from_1_to_500(limit):
    assert paging.page_request(limit, None, 1).limit == limit


@pytest.mark.parametrize("limit", [0, -1, 501, 10_000, True, False, "10", 10.0])
def test_page_request_refuses_other_limits(limit):
    error = invalid(paging.page_request, limit, None, 1)

    assert error.details == {"field": "limit", "rule": "range"}


def test_page_request_decodes_the_cursor():
    cursor = paging.encode_cursor(["妇联", 7])

    assert paging.page_request(10, cursor, 2).after == ("妇联", 7)
    assert paging.page_request(10, "", 2).after is None
    assert invalid(paging.page_request, 10, cursor, 3).details["field"] == "cursor"


def test_page_cuts_the_extra_row_and_points_at_the_last_item():
    rows = [{"name": f"组织{n}", "id": n} for n in range(4)]  # fetched with limit + 1

    result = paging.page(rows, paging.PageRequest(limit=3), lambda row: (row["name"], row["id"]))

    assert result["items"] == rows[:3]
    assert paging.decode_cursor(result["next_cursor"], 2) == ("组织2", 2)


@pytest.mark.parametrize("count", [0, 2, 3])
def test_the_last_page_has_no_next_cursor(count):
    rows = list(range(count))

    result = paging.page(rows, paging.PageRequest(limit=3), lambda row: (row,))

    assert result == {"items": rows, "next_cursor": None}


# --- the event catalogue ------------------------------------------------------------------


def status_change(**overrides):
    data = {
        "organization_id": str(uuid.uuid4()),
        "kind": "service_provider",
        "version": 2,
        "status": "verified",
    }
    data.update(overrides)
    return data


def test_outgoing_fills_in_event_id_and_occurred_at():
    before = datetime.now(UTC)

    body = events.outgoing("registry", "organization_verified", status_change())

    assert uuid.UUID(body["event_id"]).version == 4
    occurred_at = datetime.fromisoformat(body["occurred_at"])
    assert occurred_at.utcoffset() == timedelta(0)
    assert before <= occurred_at <= datetime.now(UTC)


def test_outgoing_keeps_what_the_producer_set():
    event_id = uuid.uuid4()
    at = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    organization_id = uuid.uuid4()

    body = events.outgoing(
        "registry",
        "organization_suspended",
        status_change(
            event_id=event_id,
            occurred_at=at,
            organization_id=organization_id,
            reason="违规",
            actor_id="u-1",
        ),
    )

    assert body == {
        "event_id": str(event_id),
        "occurred_at": "2024-03-01T09:30:00+00:00",
        "organization_id": str(organization_id),
        "kind": "service_provider",
        "version": 2,
        "status": "verified",
        "reason": "违规",
        "actor_id": "u-1",
    }


def test_outgoing_writes_nested_money_and_dates_as_json():
    milestone_id = uuid.uuid4()
    body = events.outgoing(
        "projects",
        "contract_awarded",
        {
            "contract_id": uuid.uuid4(),
            "project_id": uuid.uuid4(),
            "contractor_id": uuid.uuid4(),
            "purchaser_id": uuid.uuid4(),
            "funding_source_id": uuid.uuid4(),
            "amount": 12_000_000,
            "milestones": [
                {
                    "milestone_id": milestone_id,
                    "title": "第一期",
                    "due_on": date(2024, 6, 30),
                    "amount": 6_000_000,
                }
            ],
        },
    )

    assert body["milestones"] == [
        {
            "milestone_id": str(milestone_id),
            "title": "第一期",
            "due_on": "2024-06-30",
            "amount": 6_000_000,
        }
    ]


def test_outgoing_refuses_an_unknown_field():
    with pytest.raises(events.EventInvalid) as failure:
        events.outgoing("registry", "organization_verified", status_change(colour="red"))

    assert failure.value.code == "EVENT_INVALID"
    assert failure.value.details["event_type"] == "organization_verified"
    assert list(failure.value.details["fields"]) == ["colour"]


def test_outgoing_names_every_missing_field():
    data = status_change()
    del data["organization_id"], data["version"]

    with pytest.raises(events.EventInvalid) as failure:
        events.outgoing("registry", "organization_verified", data)

    assert set(failure.value.details["fields"]) == {"organization_id", "version"}


@pytest.mark.parametrize(
    "field, value",
    [("kind", "galaxy"), ("version", 0), ("version", "2"), ("organization_id", "not-a-uuid")],
)
def test_outgoing_refuses_a_wrong_value(field, value):
    with pytest.raises(events.EventInvalid) as failure:
        events.outgoing("registry", "organization_verified", status_change(**{field: value}))

    assert list(failure.value.details["fields"]) == [field]


@pytest.mark.parametrize("budget", [-1, 1.5, "100"])
def test_money_in_events_is_non_negative_integer_fen(budget):
    data = {
        "project_id": uuid.uuid4(),
        "purchaser_id": uuid.uuid4(),
        "funding_source_id": uuid.uuid4(),
        "title": "春蕾计划",
        "category": "education",
        "model": "commissioned",
        "budget": budget,
    }

    with pytest.raises(events.EventInvalid) as failure:
        events.outgoing("projects", "project_published", data)

    assert list(failure.value.details["fields"]) == ["budget"]


def test_an_event_is_published_only_by_its_owner():
    with pytest.raises(events.EventInvalid) as failure:
        events.outgoing("projects", "organization_verified", status_change())

    assert failure.value.details == {"event_type": "organization_verified", "source": "projects"}
    assert "published by registry" in failure.value.message


def test_an_event_outside_the_catalogue_is_refused():
    with pytest.raises(events.EventInvalid) as failure:
        events.outgoing("registry", "organization_renamed", status_change())

    assert failure.value.details == {"event_type": "organization_renamed"}


def test_incoming_ignores_unknown_fields_and_loads_types():
    body = events.outgoing("registry", "organization_verified", status_change())
    body["added_later"] = "a producer may add fields"

    loaded = events.incoming("registry", "organization_verified", body)

    assert "added_later" not in loaded
    assert loaded["event_id"] == uuid.UUID(body["event_id"])
    assert loaded["organization_id"] == uuid.UUID(body["organization_id"])
    assert isinstance(loaded["occurred_at"], datetime)
    assert loaded["occurred_at"].tzinfo is not None
    assert loaded["reason"] is None


def test_incoming_still_requires_the_catalogue_fields():
    body = events.outgoing("registry", "organization_verified", status_change())
    del body["status"]

    with pytest.raises(events.EventInvalid) as failure:
        events.incoming("registry", "organization_verified", body)

    assert list(failure.value.details["fields"]) == ["status"]
    assert "from registry" in failure.value.message


def test_incoming_refuses_an_event_from_the_wrong_source():
    body = events.outgoing("registry", "organization_verified", status_change())

    with pytest.raises(events.EventInvalid):
        events.incoming("funding", "organization_verified", body)


def test_every_catalogue_entry_names_a_known_service():
    sources = set()
    for source, _ in events.CATALOGUE.values():
        sources.update(source if isinstance(source, tuple) else (source,))
    assert sources == {
        "registry",
        "projects",
        "funding",
        "volunteers",
    }


# --- aggregates ---------------------------------------------------------------------------


class Contract(Aggregate):
    pass


def test_events_are_pulled_in_the_order_recorded_and_only_once():
    contract = Contract()
    first = contract.record("milestone_reported", milestone_id="m1")
    second = contract.record("milestone_accepted", milestone_id="m1", amount=500)

    assert contract.pull_events() == [first, second]
    assert contract.pull_events() == []
    assert second == DomainEvent("milestone_accepted", {"milestone_id": "m1", "amount": 500})


def test_recording_order_holds_across_aggregates():
    one, other = Contract(), Contract()
    a = one.record("a")
    b = other.record("b")
    c = one.record("c")

    assert a.seq < b.seq < c.seq


def test_an_instance_that_skipped_init_can_record():
    # ORM-loaded instances are built without __init__
    contract = Contract.__new__(Contract)

    contract.record("contract_awarded")

    assert [event.name for event in contract.pull_events()] == ["contract_awarded"]


# --- errors -------------------------------------------------------------------------------


def test_invalid_transition_says_what_and_why():
    error = InvalidTransition("contract", "accept", "draft", contract_id="c-1")

    assert str(error) == error.message == "cannot accept this contract: its status is 'draft'"
    assert error.details == {
        "entity": "contract",
        "action": "accept",
        "current_status": "draft",
        "contract_id": "c-1",
    }
    assert (error.kind, error.code) == ("conflict", "INVALID_TRANSITION")
    assert isinstance(error, Conflict)


@pytest.mark.parametrize(
    "cls, kind, code",
    [
        (InvalidInput, "invalid", "VALIDATION_FAILED"),
        (NotFound, "not_found", "NOT_FOUND"),
        (Conflict, "conflict", "CONFLICT"),
        (Forbidden, "forbidden", "FORBIDDEN"),
        (Unavailable, "unavailable", "UNAVAILABLE"),
    ],
)
def test_each_error_kind(cls, kind, code):
    error = cls("无法处理", field="name")

    assert (error.kind, error.code, error.message, error.details) == (
        kind,
        code,
        "无法处理",
        {"field": "name"},
    )


# --- RPC error mapping --------------------------------------------------------------------


def test_a_service_error_is_passed_through():
    error = NotFound("no contract c-1")

    assert as_service_error(error) is error


def test_a_schema_error_becomes_validation_failed_with_its_fields():
    exc = ValidationError({"name": ["Missing data for required field."]})

    error = as_service_error(exc)

    assert isinstance(error, InvalidInput)
    assert (error.kind, error.code) == ("invalid", "VALIDATION_FAILED")
    assert error.details == {"fields": {"name": ["Missing data for required field."]}}


def test_a_constraint_violation_is_a_conflict():
    exc = IntegrityError("INSERT INTO organizations ...", {}, Exception("duplicate key"))

    error = as_service_error(exc)

    assert (error.kind, error.code) == ("conflict", "CONSTRAINT_VIOLATION")
    assert "duplicate key" not in error.message


def test_the_code_of_one_mapped_error_does_not_leak_into_the_class():
    as_service_error(IntegrityError("x", {}, Exception()))

    assert Conflict("c").code == "CONFLICT"
    assert Unavailable("u").code == "UNAVAILABLE"


def test_a_database_outage_is_unavailable():
    exc = OperationalError("SELECT 1", {}, Exception("could not connect to server"))

    error = as_service_error(exc)

    assert (error.kind, error.code) == ("unavailable", "DATABASE_UNAVAILABLE")


def test_a_dropped_connection_is_unavailable():
    exc = DBAPIError("SELECT 1", {}, Exception("server closed"), connection_invalidated=True)

    assert as_service_error(exc).code == "DATABASE_UNAVAILABLE"


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("boom"),
        KeyError("x"),
        DBAPIError("SELECT 1", {}, Exception("syntax"), connection_invalidated=False),
    ],
)
def test_an_unexpected_error_maps_to_nothing(exc):
    assert as_service_error(exc) is None
    assert to_remote_failure(exc) is None


def test_to_remote_failure_keeps_kind_code_message_and_details():
    error = InvalidTransition("organization", "verify", "suspended", organization_id="o-1")

    failure = to_remote_failure(error)

    assert isinstance(failure, RemoteFailure)
    assert (failure.kind, failure.code, failure.message) == (
        "conflict",
        "INVALID_TRANSITION",
        error.message,
    )
    assert failure.details == error.details
    assert str(failure) == f"INVALID_TRANSITION: {error.message}"


def test_remote_failure_survives_nameko_serialisation():
    failure = RemoteFailure(
        "conflict",
        "VERSION_CONFLICT",
        "组织已被修改",
        {"field": "version", "current_status": "verified", "fields": {"name": ["必填"]}},
    )

    restored = deserialize(serialize(failure))

    assert type(restored) is RemoteFailure
    assert (restored.kind, restored.code, restored.message) == (
        "conflict",
        "VERSION_CONFLICT",
        "组织已被修改",
    )
    assert restored.details == failure.details


def test_remote_failure_details_keep_their_json_types_across_rpc():
    """Clients read numbers as numbers and null as null (e.g. ``current_version``)."""
    details = {"expected_version": 2, "current_version": 3, "parent_id": None, "final": True}
    failure = RemoteFailure("conflict", "VERSION_CONFLICT", "changed meanwhile", details)

    restored = deserialize(serialize(failure))

    assert restored.details == details


# --- config -------------------------------------------------------------------------------

CONFIG_YAML = """\
AMQP_URI: ${JINGUO_T_AMQP:amqp://guest:guest@localhost:5672/}
DB_POOL_SIZE: ${JINGUO_T_POOL:5}
PUBLISH_EVENTS: ${JINGUO_T_FLAG:yes}
JWT_SECRET: !raw_env_var "${JINGUO_T_SECRET:yes}"
GREETING: 你好 ${JINGUO_T_NAME:妇联}
PLAIN: unchanged
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    for name in (
        "JINGUO_T_AMQP",
        "JINGUO_T_POOL",
        "JINGUO_T_FLAG",
        "JINGUO_T_SECRET",
        "JINGUO_T_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG_YAML, encoding="utf-8")
    return path


def test_config_defaults_apply_when_the_environment_is_unset(config_file):
    config = kit_config.load_config(config_file)

    assert config == {
        "AMQP_URI": "amqp://guest:guest@localhost:5672/",
        "DB_POOL_SIZE": 5,
        "PUBLISH_EVENTS": True,
        "JWT_SECRET": "yes",
        "GREETING": "你好 妇联",
        "PLAIN": "unchanged",
    }


def test_config_takes_values_from_the_environment(config_file, monkeypatch):
    monkeypatch.setenv("JINGUO_T_AMQP", "amqp://jinguo:s3cret@rabbit:5672/jinguo")
    monkeypatch.setenv("JINGUO_T_POOL", "20")
    monkeypatch.setenv("JINGUO_T_FLAG", "no")
    monkeypatch.setenv("JINGUO_T_SECRET", "0123")
    monkeypatch.setenv("JINGUO_T_NAME", "福州")

    config = kit_config.load_config(config_file)

    assert config["AMQP_URI"] == "amqp://jinguo:s3cret@rabbit:5672/jinguo"
    assert config["DB_POOL_SIZE"] == 20
    assert config["PUBLISH_EVENTS"] is False  # a plain value is read as YAML
    assert config["JWT_SECRET"] == "0123"  # !raw_env_var keeps it a string
    assert config["GREETING"] == "你好 福州"


def test_config_overrides_win(config_file):
    config = kit_config.load_config(config_file, DB_POOL_SIZE=1, EXTRA="x")

    assert (config["DB_POOL_SIZE"], config["EXTRA"]) == (1, "x")


def test_an_empty_config_file_is_an_empty_config(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")

    assert kit_config.load_config(path) == {}


DEV_SECRET = "dev-only-secret"


@pytest.mark.parametrize("env", ["dev", "development", "test", "DEV", "Test"])
@pytest.mark.parametrize("value", [None, "", DEV_SECRET])
def test_the_dev_default_is_allowed_in_dev_mode(env, value):
    config = {"JINGUO_ENV": env, "JWT_SECRET": value}

    assert kit_config.require_secret(config, "JWT_SECRET", dev_default=DEV_SECRET) == DEV_SECRET


@pytest.mark.parametrize("env", [None, "", "production", "staging"])
@pytest.mark.parametrize("value", [None, "", DEV_SECRET])
def test_the_dev_default_is_refused_outside_dev_mode(env, value):
    config = {"JINGUO_ENV": env, "JWT_SECRET": value}

    with pytest.raises(RuntimeError, match="JWT_SECRET"):
        kit_config.require_secret(config, "JWT_SECRET", dev_default=DEV_SECRET)


def test_dev_mode_is_read_from_config_not_from_the_process_environment(monkeypatch):
    monkeypatch.setenv("JINGUO_ENV", "dev")

    with pytest.raises(RuntimeError):
        kit_config.require_secret({}, "JWT_SECRET", dev_default=DEV_SECRET)


@pytest.mark.parametrize("env", ["dev", "production"])
def test_a_real_secret_is_returned(env):
    config = {"JINGUO_ENV": env, "JWT_SECRET": "a-real-secret-from-the-vault"}

    assert kit_config.require_secret(config, "JWT_SECRET", dev_default=DEV_SECRET) == (
        "a-real-secret-from-the-vault"
    )


# --- actors -------------------------------------------------------------------------------


def test_actor_from_dict_round_trips():
    data = {
        "user_id": "u-1",
        "username": "chen.li",
        "role": "federation_staff",
        "organization_id": "o-1",
    }

    actor = Actor.from_dict(data)

    assert actor == Actor("u-1", "chen.li", "federation_staff", "o-1")
    assert actor.to_dict() == data
    assert not actor.is_admin
    assert Actor.from_dict({**data, "role": "admin", "organization_id": None}).is_admin


def test_actor_fields_become_strings_and_a_blank_organization_none():
    actor = Actor.from_dict(
        {"user_id": 7, "username": "ops1", "role": "ops", "organization_id": ""}
    )

    assert (actor.user_id, actor.organization_id) == ("7", None)


@pytest.mark.parametrize("data", [None, [], "admin", 1])
def test_every_call_names_its_actor(data):
    assert invalid(Actor.from_dict, data).details == {"field": "actor", "rule": "required"}


@pytest.mark.parametrize("missing", ["user_id", "username", "role"])
def test_an_actor_lacking_a_field_is_refused(missing):
    data = {"user_id": "u-1", "username": "chen.li", "role": "admin"}
    del data[missing]

    error = invalid(Actor.from_dict, data)

    assert error.details == {"field": f"actor.{missing}", "rule": "required"}


@pytest.mark.parametrize(
    "role", ["admin", "federation_staff", "contractor", "finance_officer", "ops", "team_leader"]
)
def test_every_role_of_the_platform_is_known(role):
    actor = Actor.from_dict({"user_id": "u", "username": "x", "role": role})

    assert actor.role == role and actor.is_admin == (role == "admin")


@pytest.mark.parametrize("role", ["root", "Admin", "", "Volunteer"])
def test_an_unknown_role_is_refused(role):
    error = invalid(Actor.from_dict, {"user_id": "u", "username": "x", "role": role})

    assert error.details == {"field": "actor.role", "rule": "one_of"}


# --- metric outcomes ----------------------------------------------------------------------


def exc_info(exc):
    return (type(exc), exc, None)


@pytest.mark.parametrize(
    "exc, outcome",
    [
        (InvalidInput("bad"), "rejected"),
        (NotFound("none"), "rejected"),
        (InvalidTransition("organization", "verify", "suspended"), "rejected"),
        (ValidationError({"name": ["bad"]}), "rejected"),
        (IntegrityError("x", {}, Exception()), "rejected"),
        (RemoteFailure("conflict", "C", "m", {}), "rejected"),
        (RemoteFailure("unavailable", "DATABASE_UNAVAILABLE", "m", {}), "error"),
        (Unavailable("down"), "error"),
        (OperationalError("x", {}, Exception()), "error"),
        (RuntimeError("boom"), "error"),
        (ZeroDivisionError(), "error"),
    ],
)
def test_outcome_of_a_failure(exc, outcome):
    assert outcome_of(exc_info(exc)) == outcome


def test_outcome_of_success():
    assert outcome_of(None) == "ok"


# --- fields -------------------------------------------------------------------------------


class Form(Schema):
    name = Text(required=True)
    note = Text()
    organization_id = Id()
    amount = Money()


def test_text_is_stripped():
    assert Form().load({"name": "  福州市妇联 \n", "note": "\t备注 "}) == {
        "name": "福州市妇联",
        "note": "备注",
    }


def test_required_text_may_not_be_blank():
    with pytest.raises(ValidationError) as failure:
        Form().load({"name": " \t "})

    assert failure.value.messages == {"name": ["Must not be blank."]}


def test_optional_text_may_be_blank():
    assert Form().load({"name": "x", "note": "   "})["note"] == ""


@pytest.mark.parametrize(
    "raw",
    [
        "3F0B6C1E-6A7E-4C63-9D0E-0C7F4D7B2A11",
        "3f0b6c1e6a7e4c639d0e0c7f4d7b2a11",
        "{3f0b6c1e-6a7e-4c63-9d0e-0c7f4d7b2a11}",
    ],
)
def test_ids_are_canonical_lowercase_uuids(raw):
    loaded = Form().load({"name": "x", "organization_id": raw})

    assert loaded["organization_id"] == "3f0b6c1e-6a7e-4c63-9d0e-0c7f4d7b2a11"


@pytest.mark.parametrize("raw", ["o-1", "", "3f0b6c1e-6a7e-4c63-9d0e"])
def test_a_bad_id_is_refused(raw):
    with pytest.raises(ValidationError) as failure:
        Form().load({"name": "x", "organization_id": raw})

    assert failure.value.messages == {"organization_id": ["Not a valid UUID."]}


@pytest.mark.parametrize("amount", [0, 1, 12_000_000])
def test_money_is_integer_fen(amount):
    assert Form().load({"name": "x", "amount": amount})["amount"] == amount


@pytest.mark.parametrize("amount", [-1, 1.5, 100.0, "100", True, None])
def test_money_refuses_negatives_floats_strings_and_booleans(amount):
    with pytest.raises(ValidationError) as failure:
        Form().load({"name": "x", "amount": amount})

    assert list(failure.value.messages) == ["amount"]


def test_money_keeps_an_explicit_validator():
    class Budget(Schema):
        amount = Money(validate=validate.Range(min=100))

    with pytest.raises(ValidationError):
        Budget().load({"amount": 99})
    assert Budget().load({"amount": 100}) == {"amount": 100}


class _Container:
    service_name = "projects"


class _Entity:
    def __init__(self, entity_id, published):
        self.id = entity_id
        self.published = published


def test_a_change_notice_that_cannot_be_sent_is_counted_and_never_raises(caplog):
    from kombu import Connection
    from kombu.pools import ProducerPool

    from kit.changes import NOTICES_UNSENT, ChangeNotices

    notices = ChangeNotices(thing=(_Entity, lambda entity: entity.published))
    notices.container = _Container()
    broken = Connection("amqp://guest:guest@127.0.0.1:1//", connect_timeout=0.2)
    notices.producers = ProducerPool(broken.Pool(limit=1), limit=1)
    unsent = NOTICES_UNSENT.labels("projects", "thing")
    before = unsent._value.get()

    notices.notify([_Entity("a", True), _Entity("a", True), _Entity("b", False), object()])

    assert unsent._value.get() == before + 1  # "a" once; "b" is not announced, nor strangers
    assert "change notice thing a not sent" in caplog.text


# --- the one CSV writer -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+86", "'+86"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("低碳生活队", "低碳生活队"),
        ("a=b", "a=b"),
        (150, 150),
        (-150, -150),
        (None, ""),
    ],
)
def test_a_csv_cell_never_starts_a_formula(given, written):
    from kit import csvfile

    assert csvfile.safe_cell(given) == written


def test_a_csv_file_is_utf8_with_a_bom_and_quoted_where_needed():
    from kit import csvfile

    text = csvfile.text(("name", "n"), [('=HYPERLINK("x","点我")', 1), ("a,b", None)])
    assert text == '\ufeffname,n\r\n"\'=HYPERLINK(""x"",""点我"")",1\r\n"a,b",\r\n'


def test_a_csv_stream_reads_rows_only_as_chunks_are_taken():
    from kit import csvfile

    taken = []

    def rows():
        for i in range(10_000):
            taken.append(i)
            yield (i, "x" * 20)

    chunks = csvfile.stream(("i", "x"), rows())
    first = next(chunks)
    assert first.startswith("\ufeffi,x\r\n".encode()) and len(taken) < 10_000
    rest = b"".join(chunks)
    assert (first + rest).decode("utf-8").count("\r\n") == 10_001
