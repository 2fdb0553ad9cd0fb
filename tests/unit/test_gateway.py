"""The gateway's own rules: identity, tokens, passwords, request bodies and the error table."""

import base64
import hashlib
import json
import logging
import time
import uuid

import jwt
import pytest
from amqp.exceptions import ConnectionForced
from kombu.exceptions import OperationalError as BrokerOperationalError
from marshmallow import ValidationError
from nameko.exceptions import UnknownService
from sqlalchemy.exc import OperationalError as DatabaseOperationalError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway import identity
from gateway.auth import Tokens, hash_password, password_matches
from gateway.errors import (
    STATUS_BY_KIND,
    BadRequest,
    BrokerUnavailable,
    Forbidden,
    HttpError,
    PayloadTooLarge,
    ServiceTimeout,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    describe,
    error_body,
)
from gateway.errors import NotFound as HttpNotFound
from gateway.http import error_response, parse_json_object, read_body
from gateway.idempotency import fingerprint
from kit.errors import InvalidInput, InvalidTransition, NotFound
from kit.rpc import RemoteFailure
from language.actor import Actor

# --- identity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    ["abc", "chen.li", "wang_fang@fzfl.org", "user-01", "9lives", "A" + "b" * 63],
)
def test_good_usernames(username):
    identity.check_username(username)


@pytest.mark.parametrize(
    "username",
    [
        "",
        "ab",  # too short
        "a" * 65,  # too long
        "_abc",
        ".abc",
        "-abc",
        "@abc",
        "陈丽",
        "chen li",
        "chen/li",
        "alice\n",  # a trailing newline is not part of a username
    ],
)
def test_bad_usernames(username):
    with pytest.raises(InvalidInput) as failure:
        identity.check_username(username)

    assert failure.value.details == {"field": "username", "rule": "format"}


@pytest.mark.parametrize("password", ["7391-5820-x", "春蕾计划密码密码密码", "p" * 256])
def test_good_passwords(password):
    identity.check_password("chen.li", password)


@pytest.mark.parametrize(
    "username, password, rule",
    [
        ("chen.li", "1234567", "min_length"),
        ("chen.li", "x7Qp#2vLm", "min_length"),
        ("chen.li", "", "min_length"),
        ("chen.li", "p" * 257, "max_length"),
        ("chen.li.2024", "chen.li.2024", "not_username"),
        ("Chen.Li.2024", "chen.li.2024", "not_username"),
        ("chen.li.2024", "CHEN.LI.2024", "not_username"),
    ],
)
def test_bad_passwords(username, password, rule):
    with pytest.raises(InvalidInput) as failure:
        identity.check_password(username, password)

    assert failure.value.details == {"field": "password", "rule": rule}


@pytest.mark.parametrize(
    "role, organization_id, kind",
    [
        ("admin", None, None),
        ("ops", None, None),
        ("federation_staff", "o-1", "federation"),
        ("finance_officer", "o-1", "federation"),
        ("contractor", "o-2", "service_provider"),
        # a volunteer team leader may belong to an organization of any kind, or to none
        ("team_leader", None, None),
        ("team_leader", "o-3", "host_unit"),
        ("team_leader", "o-4", "federation"),
        ("team_leader", "o-5", "womens_organization"),
    ],
)
def test_role_and_organization_that_fit(role, organization_id, kind):
    identity.check_role_organization(role, organization_id, kind)


@pytest.mark.parametrize(
    "role, organization_id, kind, details",
    [
        ("root", None, None, {"field": "role", "rule": "one_of"}),
        ("admin", "o-1", "federation",
         {"field": "organization_id", "rule": "not_allowed_for_role"}),
        # finance officers belong to a federation (they reach only its subtree's money)
        ("finance_officer", None, None,
         {"field": "organization_id", "rule": "required_for_role"}),
        ("finance_officer", "o-1", "service_provider",
         {"field": "organization_id", "rule": "kind_for_role",
          "expected_kind": "federation", "actual_kind": "service_provider"}),
        ("ops", "o-1", "service_provider",
         {"field": "organization_id", "rule": "not_allowed_for_role"}),
        ("federation_staff", None, None,
         {"field": "organization_id", "rule": "required_for_role"}),
        ("contractor", None, None,
         {"field": "organization_id", "rule": "required_for_role"}),
        ("federation_staff", "o-1", "host_unit",
         {"field": "organization_id", "rule": "kind_for_role",
          "expected_kind": "federation", "actual_kind": "host_unit"}),
        ("contractor", "o-1", "federation",
         {"field": "organization_id", "rule": "kind_for_role",
          "expected_kind": "service_provider", "actual_kind": "federation"}),
        ("contractor", "o-1", None,  # the registry does not know the organization
         {"field": "organization_id", "rule": "kind_for_role",
          "expected_kind": "service_provider", "actual_kind": None}),
    ],
)  # fmt: skip
def test_role_and_organization_that_do_not_fit(role, organization_id, kind, details):
    with pytest.raises(InvalidInput) as failure:
        identity.check_role_organization(role, organization_id, kind)

    assert failure.value.details == details


def test_a_user_acts_as_itself():
    user = identity.User(
        username="chen.li",
        password_hash="$argon2id$...",
        role="federation_staff",
        organization_id="o-1",
        created_by=None,
        created_at=None,
    )

    assert user.as_actor() == Actor(user.id, "chen.li", "federation_staff", "o-1")
    uuid.UUID(user.id)
    assert user.disabled is False


# --- tokens -------------------------------------------------------------------------------

SECRET = "s" * 64
STAFF = Actor(
    user_id=str(uuid.uuid4()), username="chen.li", role="federation_staff", organization_id="o-1"
)


@pytest.fixture
def tokens():
    return Tokens(SECRET, ttl_seconds=3600)


def unauthorized(callable_, *args):
    with pytest.raises(Unauthorized) as failure:
        callable_(*args)
    assert failure.value.status == 401
    return failure.value.code


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims(**overrides):
    now = int(time.time())
    values = {"iss": "jinguo", "sub": STAFF.user_id, "name": "chen.li", "role": "admin",
              "org": None, "iat": now, "exp": now + 600}  # fmt: skip
    values.update(overrides)
    return values


def test_a_token_round_trips(tokens):
    assert tokens.verify(tokens.issue(STAFF)) == STAFF


def test_a_token_for_a_user_without_organization(tokens):
    admin = Actor(user_id=str(uuid.uuid4()), username="admin", role="admin")

    assert tokens.verify(tokens.issue(admin)) == admin


def test_a_token_carries_its_lifetime(tokens):
    payload = jwt.decode(tokens.issue(STAFF), SECRET, algorithms=["HS256"], issuer="jinguo")

    assert payload["exp"] - payload["iat"] == 3600
    assert payload["iss"] == "jinguo"


def test_two_tokens_for_the_same_user_differ(tokens):
    assert tokens.issue(STAFF) != tokens.issue(STAFF)


def test_an_expired_token(tokens):
    token = Tokens(SECRET, ttl_seconds=-60).issue(STAFF)

    assert unauthorized(tokens.verify, token) == "TOKEN_EXPIRED"


def test_a_token_signed_with_another_secret(tokens):
    token = Tokens("t" * 64, ttl_seconds=3600).issue(STAFF)

    assert unauthorized(tokens.verify, token) == "INVALID_TOKEN"


def test_a_tampered_payload(tokens):
    header, payload, signature = tokens.issue(STAFF).split(".")
    padded = payload + "=" * (-len(payload) % 4)
    data = json.loads(base64.urlsafe_b64decode(padded))
    data["role"] = "admin"

    forged = ".".join([header, b64(data), signature])

    assert unauthorized(tokens.verify, forged) == "INVALID_TOKEN"


@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"])
def test_an_alg_none_token(tokens, signature):
    token = ".".join([b64({"alg": "none", "typ": "JWT"}), b64(claims()), signature])

    assert unauthorized(tokens.verify, token) == "INVALID_TOKEN"


def test_a_token_signed_hs512_with_the_right_secret(tokens):
    token = jwt.encode(claims(), SECRET, algorithm="HS512")

    assert unauthorized(tokens.verify, token) == "INVALID_TOKEN"


@pytest.mark.parametrize(
    "overrides",
    [{"iss": "someone-else"}, {"exp": None}, {"sub": None}],
)
def test_a_token_with_wrong_or_missing_claims(tokens, overrides):
    values = {key: value for key, value in claims(**overrides).items() if value is not None}
    token = jwt.encode(values, SECRET, algorithm="HS256")

    assert unauthorized(tokens.verify, token) == "INVALID_TOKEN"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_a_garbled_token(tokens, token):
    assert unauthorized(tokens.verify, token) == "INVALID_TOKEN"


def test_the_bearer_header_is_read(tokens):
    token = tokens.issue(STAFF)

    assert tokens.authenticate(f"Bearer {token}") == STAFF
    assert tokens.authenticate(f"bearer   {token}  ") == STAFF


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "Token abc", "abc"],
)
def test_a_missing_or_garbled_authorization_header(tokens, header):
    assert unauthorized(tokens.authenticate, header) == "AUTHENTICATION_REQUIRED"


def test_a_bearer_header_with_a_bad_token(tokens):
    assert unauthorized(tokens.authenticate, "Bearer not.a.token") == "INVALID_TOKEN"


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_a_short_secret_is_refused(secret):
    with pytest.raises(RuntimeError, match="at least 32"):
        Tokens(secret, ttl_seconds=3600)


def test_a_32_character_secret_is_enough():
    tokens = Tokens("k" * 32, ttl_seconds=60)

    assert tokens.verify(tokens.issue(STAFF)) == STAFF


# --- passwords ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored_hash():
    return hash_password("春蕾计划-2024")


def test_a_password_is_stored_as_an_argon2id_hash(stored_hash):
    assert stored_hash.startswith("$argon2id$")
    assert "春蕾计划" not in stored_hash


def test_the_right_password_matches(stored_hash):
    assert password_matches(stored_hash, "春蕾计划-2024") is True


@pytest.mark.parametrize("attempt", ["春蕾计划-2025", "", "春蕾计划-2024 "])
def test_a_wrong_password_does_not_match(stored_hash, attempt):
    assert password_matches(stored_hash, attempt) is False


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$garbled"])
def test_no_usable_hash_never_matches(stored):
    assert password_matches(stored, "春蕾计划-2024") is False


def test_hashes_are_salted():
    assert hash_password("same password") != hash_password("same password")


# --- request bodies -----------------------------------------------------------------------


def test_an_empty_body_is_an_empty_object():
    assert parse_json_object(b"") == {}
    assert parse_json_object(b"  \r\n\t") == {}


def test_a_json_object_is_parsed():
    assert parse_json_object('{"name": "福州市妇联", "n": [1]}'.encode()) == {
        "name": "福州市妇联",
        "n": [1],
    }


def test_malformed_json_says_where():
    with pytest.raises(BadRequest) as failure:
        parse_json_object(b'{\n"a": 1,\n"b" 2\n}')

    error = failure.value
    assert (error.status, error.code) == (400, "MALFORMED_JSON")
    assert error.details == {"line": 3, "column": 5}
    assert "line 3 column 5" in error.message


@pytest.mark.parametrize("raw", [b'{"a": 1,}', b"{", b"{'a': 1}", b'{"a": 1} x'])
def test_other_malformed_json(raw):
    with pytest.raises(BadRequest) as failure:
        parse_json_object(raw)

    assert failure.value.code == "MALFORMED_JSON"
    assert set(failure.value.details) == {"line", "column"}


def test_a_body_that_is_not_utf8():
    with pytest.raises(BadRequest) as failure:
        parse_json_object('{"name": "妇联"}'.encode("gbk"))

    assert failure.value.code == "MALFORMED_JSON"


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_a_body_that_is_not_an_object(raw):
    with pytest.raises(ValidationFailed) as failure:
        parse_json_object(raw)

    assert (failure.value.status, failure.value.code) == (422, "VALIDATION_FAILED")
    assert failure.value.details == {"fields": {"_schema": ["Must be a JSON object."]}}


def request_with(data=b"", content_type="application/json", **environ):
    builder = EnvironBuilder(
        method="POST", path="/api/v1/organizations", data=data, content_type=content_type
    )
    env = builder.get_environ()
    env.update(environ)
    for key in [key for key, value in env.items() if value is None]:
        del env[key]
    return Request(env)


def test_a_json_body_is_read():
    body = '{"name": "福州市妇联"}'.encode()

    assert read_body(request_with(body), limit=1024) == body


def test_a_json_body_with_a_charset_is_read():
    body = b'{"a": 1}'

    assert read_body(request_with(body, "application/json; charset=utf-8"), limit=1024) == body


def test_a_body_exactly_at_the_limit_is_read():
    body = b'{"a": "' + b"x" * 91 + b'"}'
    assert len(body) == 100

    assert read_body(request_with(body), limit=100) == body


def test_a_body_over_the_limit_is_413():
    with pytest.raises(PayloadTooLarge) as failure:
        read_body(request_with(b'{"a": "' + b"x" * 92 + b'"}'), limit=100)

    assert (failure.value.status, failure.value.code) == (413, "PAYLOAD_TOO_LARGE")
    assert failure.value.details == {"limit": 100}
    assert "101 bytes" in failure.value.message


def test_a_streamed_body_over_the_limit_is_413():
    """No Content-Length, the server terminates the stream (``wsgi.input_terminated``)."""
    body = b'{"a": 1}' + b" " * 200
    request = request_with(body, CONTENT_LENGTH=None, **{"wsgi.input_terminated": True})

    with pytest.raises(PayloadTooLarge):
        read_body(request, limit=100)


def test_a_chunked_body_is_not_silently_read_as_empty():
    """As eventlet's server hands it over: Transfer-Encoding chunked, no Content-Length."""
    body = '{"reason": "材料不全"}'.encode()
    request = request_with(body, CONTENT_LENGTH=None, HTTP_TRANSFER_ENCODING="chunked")

    try:
        raw = read_body(request, limit=1024)
    except HttpError:
        return  # refusing it (411 Length Required, say) is a correct answer too
    assert raw == body


@pytest.mark.parametrize(
    "content_type, reported",
    [
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("application/xml; charset=utf-8", "application/xml"),
        (None, ""),
    ],
)
def test_a_body_that_is_not_json_is_415(content_type, reported):
    with pytest.raises(UnsupportedMediaType) as failure:
        read_body(request_with(b'{"a": 1}', content_type), limit=1024)

    assert (failure.value.status, failure.value.code) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert failure.value.details == {"content_type": reported}


def test_no_body_needs_no_content_type():
    assert read_body(request_with(b"", None), limit=1024) == b""


# --- the error table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "error, status, code",
    [
        (BadRequest("bad"), 400, "BAD_REQUEST"),
        (Unauthorized("who?"), 401, "UNAUTHORIZED"),
        (Forbidden("no"), 403, "FORBIDDEN"),
        (HttpNotFound("none"), 404, "NOT_FOUND"),
        (PayloadTooLarge("big", limit=1), 413, "PAYLOAD_TOO_LARGE"),
        (UnsupportedMediaType("xml"), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (ValidationFailed("bad"), 422, "VALIDATION_FAILED"),
        (ServiceUnavailable("registry", "is not running"), 503, "SERVICE_UNAVAILABLE"),
        (ServiceTimeout("registry", 10), 503, "SERVICE_TIMEOUT"),
        (BrokerUnavailable("down"), 503, "BROKER_UNAVAILABLE"),
        (HttpError("custom", code="TEAPOT", status=418), 418, "TEAPOT"),
        (Forbidden("no", code="ROLE_NOT_ALLOWED"), 403, "ROLE_NOT_ALLOWED"),
    ],
)
def test_describe_an_error_the_gateway_raised(error, status, code):
    assert describe(error) == (status, code, error.message, error.details)


def test_service_unavailable_names_the_service():
    assert describe(ServiceUnavailable("registry", "is not running"))[2:] == (
        "the registry service is not running",
        {"service": "registry"},
    )


@pytest.mark.parametrize(
    "kind, status",
    [
        ("invalid", 422),
        ("not_found", 404),
        ("conflict", 409),
        ("forbidden", 403),
        ("unauthorized", 401),
        ("unavailable", 503),
        ("untrusted", 503),
    ],
)
def test_a_remote_failure_is_mapped_by_its_kind(kind, status):
    failure = RemoteFailure(kind, "SOME_CODE", "消息", {"field": "name", "count": 2})

    assert describe(failure) == (status, "SOME_CODE", "消息", {"field": "name", "count": 2})
    assert STATUS_BY_KIND[kind] == status


def test_a_call_refused_for_its_proof_is_a_503_and_logged(caplog):
    failure = RemoteFailure(
        "untrusted", "RPC_UNTRUSTED", "refused", {"service": "funding", "reason": "invalid"}
    )

    with caplog.at_level("ERROR", logger="gateway.errors"):
        status, code, _, details = describe(failure)

    assert (status, code, details["reason"]) == (503, "RPC_UNTRUSTED", "invalid")
    assert "JINGUO_RPC_KEY" in caplog.text and "funding" in caplog.text


def test_a_remote_failure_of_an_unknown_kind_is_500():
    assert describe(RemoteFailure("exotic", "X", "m", {}))[0] == 500


@pytest.mark.parametrize(
    "error, status, code",
    [
        (InvalidInput("bad", field="name"), 422, "VALIDATION_FAILED"),
        (NotFound("none"), 404, "NOT_FOUND"),
        (InvalidTransition("organization", "verify", "suspended"), 409, "INVALID_TRANSITION"),
        (ValidationError({"name": ["bad"]}), 422, "VALIDATION_FAILED"),
        (DatabaseOperationalError("SELECT 1", {}, Exception("down")), 503, "DATABASE_UNAVAILABLE"),
    ],
)
def test_describe_a_local_service_error(error, status, code):
    assert describe(error)[:2] == (status, code)


def test_an_unknown_service_is_503():
    assert describe(UnknownService("projects")) == (
        503,
        "SERVICE_UNAVAILABLE",
        "the projects service is not running",
        {"service": "projects"},
    )


@pytest.mark.parametrize(
    "error",
    [
        OSError("network is unreachable"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        BrokerOperationalError("connection lost"),
        ConnectionForced("broker shut down"),
    ],
)
def test_a_broker_failure_is_503(error):
    assert describe(error) == (
        503,
        "BROKER_UNAVAILABLE",
        "the message broker is unreachable; try again shortly",
        {},
    )


def test_an_unexpected_error_is_500_and_leaks_nothing(caplog):
    error = RuntimeError("password=hunter2 at db.internal:5432")

    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        status, code, message, details = describe(error)

    assert (status, code, details) == (500, "INTERNAL_ERROR", {})
    assert "hunter2" not in message
    assert "db.internal" not in message
    assert any(record.exc_info and record.exc_info[1] is error for record in caplog.records)


def test_error_body_shape():
    assert error_body("NOT_FOUND", "no such thing") == {
        "error": {"code": "NOT_FOUND", "message": "no such thing", "details": {}}
    }
    assert error_body("X", "m", {"field": "a"})["error"]["details"] == {"field": "a"}


def test_an_error_response_is_json_with_the_request_id():
    response = error_response(
        RemoteFailure("conflict", "INVALID_TRANSITION", "不能", {"current_status": "verified"}),
        "req-1",
    )

    assert response.status_code == 409
    assert response.headers["X-Request-Id"] == "req-1"
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == {
        "error": {
            "code": "INVALID_TRANSITION",
            "message": "不能",
            "details": {"current_status": "verified"},
        }
    }
    assert "WWW-Authenticate" not in response.headers


def test_a_401_response_asks_for_a_bearer_token():
    response = error_response(Unauthorized("who?", code="TOKEN_EXPIRED"))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="jinguo"'
    assert "X-Request-Id" not in response.headers


# --- idempotency fingerprints -------------------------------------------------------------


def test_a_fingerprint_is_a_sha256_of_method_path_and_body():
    expected = hashlib.sha256(b"POST\0/api/v1/organizations\0{}").hexdigest()

    assert fingerprint("POST", "/api/v1/organizations", b"{}") == expected


def test_the_same_request_has_the_same_fingerprint():
    body = '{"name": "妇联"}'.encode()

    assert fingerprint("POST", "/api/v1/organizations", body) == fingerprint(
        "POST", "/api/v1/organizations", body
    )


@pytest.mark.parametrize(
    "other",
    [
        ("PATCH", "/api/v1/organizations", b"{}"),
        ("POST", "/api/v1/projects", b"{}"),
        ("POST", "/api/v1/organizations", b'{"a":1}'),
        ("POST", "/api/v1/organizations", b"{} "),
    ],
)
def test_a_different_request_has_a_different_fingerprint(other):
    assert fingerprint(*other) != fingerprint("POST", "/api/v1/organizations", b"{}")


def test_the_parts_of_a_fingerprint_cannot_run_into_each_other():
    assert fingerprint("POST", "/a", b"b") != fingerprint("POST", "/ab", b"")
    assert fingerprint("POST", "/a", b"") != fingerprint("POS", "T/a", b"")


def test_every_schema_of_the_api_document_has_a_name_of_its_own():
    """apispec renames a second schema class of the same name (``ReportOut1``) and warns:
    the document would then name schemas by accident."""
    import warnings

    import gateway.service  # noqa: F401 - registers every route
    from gateway.openapi import document

    document.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = document()
    names = spec["components"]["schemas"]
    assert "HoursReportOut" in names and "ReportOut" in names
    assert not [name for name in names if name[-1].isdigit()]


def test_finance_rows_are_set_beside_their_contracts_briefs():
    from gateway.routes.funding import beside_briefs

    brief = {
        "contract_id": "c1",
        "project_title": "家庭教育讲座",
        "status": "active",
        "milestones": [
            {"id": "m1", "seq": 1, "title": "筹备", "report": {"summary": "完成筹备"}},
            {"id": "m2", "seq": 2, "title": "实施", "report": None},
        ],
    }
    rows = beside_briefs(
        [
            {"id": "d1", "contract_id": "c1", "milestone_id": "m2"},
            {"id": "d2", "contract_id": "unreadable", "milestone_id": "m9"},
            {"id": "k1", "contract_id": "c1"},  # a commitment: no milestone of its own
        ],
        [brief],
    )
    assert (rows[0]["project_title"], rows[0]["milestone"]["title"]) == ("家庭教育讲座", "实施")
    assert (rows[1]["project_title"], rows[1]["milestone"]) == (None, None)
    assert rows[2]["contract_status"] == "active" and "milestone" not in rows[2]
