"""The end-to-end suite's contract check (tests/support/contract.py) against the real API
document: it passes answers that keep to the document and names what breaks it."""

import json

import pytest
import requests

import gateway.service  # noqa: F401 - declares every route
from gateway import openapi
from tests.support.contract import ContractBroken, check_against

BASE = "http://gateway.test/api/v1"


def answer(method, path, status, body):
    """A requests Response as the gateway would have sent it."""
    request = requests.Request(method, BASE + path).prepare()
    response = requests.Response()
    response.request = request
    response.status_code = status
    response.headers["Content-Type"] = "application/json"
    response._content = json.dumps(body).encode()
    return response


@pytest.fixture(scope="module")
def document():
    return openapi.document()


PROJECT = {
    "id": "5f0c7a52-1b8e-4a57-9f33-0a0c2f6b1e11",
    "title": "单亲母亲家庭关爱服务项目",
    "description": None,
    "category": "single_mother_family_services",
    "model": "commissioned",
    "purchaser_id": "0b6a1d5e-8a3c-4d8e-b7f1-2c4d5e6f7a8b",
    "funding_source_id": "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
    "budget": 30_000_000,
    "starts_on": "2027-01-01",
    "ends_on": "2027-12-31",
    "target_beneficiaries": 200,
    "indicators": [],
    "status": "draft",
    "contract_id": None,
    "contractor_id": None,
    "beneficiaries_served": 0,
    "volunteer_hours": 0.0,
    "amount_committed": 0,
    "amount_disbursed": 0,
    "amount_paid": 0,
    "evaluation": None,
    "cancel_reason": None,
    "created_by": "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a",
    "created_at": "2026-11-23T09:00:00+00:00",
    "updated_at": "2026-11-23T09:00:00+00:00",
    "published_at": None,
    "closed_at": None,
    "version": 1,
}


def test_an_answer_that_keeps_to_the_document_passes(document):
    check_against(document, answer("GET", f"/projects/{PROJECT['id']}", 200, PROJECT))
    error = {"error": {"code": "NOT_FOUND", "message": "no such project", "details": {}}}
    check_against(document, answer("GET", f"/projects/{PROJECT['id']}", 404, error))


def test_a_wrong_type_is_named_with_its_field(document):
    broken = {**PROJECT, "budget": "30万"}
    with pytest.raises(ContractBroken, match=r"budget: '30万' is not of type 'integer'"):
        check_against(document, answer("GET", f"/projects/{PROJECT['id']}", 200, broken))


def test_a_field_the_document_does_not_know_breaks_it(document):
    extra = {**PROJECT, "internal_note": "x"}
    with pytest.raises(ContractBroken, match="internal_note"):
        check_against(document, answer("POST", "/projects", 201, extra))


def test_a_null_where_the_document_promises_a_value_breaks_it(document):
    with pytest.raises(ContractBroken, match="title: None is not of type 'string'"):
        check_against(document, answer("POST", "/projects", 201, {**PROJECT, "title": None}))


def test_a_status_the_operation_does_not_list_breaks_it(document):
    # a public route has no 403 to answer
    error = {"error": {"code": "FORBIDDEN", "message": "no", "details": {}}}
    with pytest.raises(ContractBroken, match="/auth/token answered 403"):
        check_against(document, answer("POST", "/auth/token", 403, error))


def test_login_documents_its_401(document):
    error = {"error": {"code": "INVALID_CREDENTIALS", "message": "wrong", "details": {}}}
    check_against(document, answer("POST", "/auth/token", 401, error))


def test_a_literal_segment_wins_over_a_parameter(document):
    """POST /volunteers/import is the import, not a volunteer called "import"."""
    assert "/volunteers/import" in document["paths"]
    with pytest.raises(ContractBroken, match="/volunteers/import answered 299"):
        check_against(document, answer("POST", "/volunteers/import", 299, {}))


def test_a_not_modified_project_is_documented(document):
    not_modified = answer("GET", f"/projects/{PROJECT['id']}", 304, None)
    not_modified._content = b""
    del not_modified.headers["Content-Type"]
    check_against(document, not_modified)
    assert "content" not in document["paths"]["/projects/{project_id}"]["get"]["responses"]["304"]
