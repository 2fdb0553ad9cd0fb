"""Every answer the end-to-end tests get is checked against the gateway's own API document.

The OpenAPI document is generated from the marshmallow schemas the gateway works with; this
makes sure the answers keep to it, so the document is a contract and not a sketch: a field
missing from it, a null where it promises a string, or a status it does not list fails the
test that met it. OpenAPI 3.0 schemas (``nullable``) are checked with openapi-schema-validator.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import requests
from openapi_schema_validator import OAS30Validator

PREFIX = "/api/v1"


class ContractBroken(AssertionError):
    pass


@lru_cache(maxsize=8)
def _document(base_url: str) -> dict[str, Any]:
    return requests.get(f"{base_url}/openapi.json", timeout=10).json()


def _template(document: dict[str, Any], path: str) -> str | None:
    """The document's path template ``path`` falls under; a literal segment wins over a
    parameter (``/projects/export`` over ``/projects/{project_id}``)."""
    candidates = [
        template
        for template in document["paths"]
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path)
    ]
    return min(candidates, key=lambda template: template.count("{"), default=None)


def response_schema(
    document: dict[str, Any], method: str, path: str, status: int
) -> dict[str, Any] | None:
    """The documented JSON schema of this answer; None when the document leaves the path or
    its body undescribed. An answer with a status the operation does not list breaks it."""
    template = _template(document, path)
    operation = document["paths"][template].get(method.lower()) if template else None
    if operation is None:
        return None
    responses = operation["responses"]
    response = responses.get(str(status)) or responses.get("default")
    if response is None:
        raise ContractBroken(
            f"{method} {template} answered {status}, which the document does not list"
        )
    content = response.get("content", {}).get("application/json")
    return None if content is None else content["schema"]


def check_against(document: dict[str, Any], response: requests.Response) -> None:
    """Raise ContractBroken when a JSON answer does not match what the document says."""
    request = response.request
    path = (request.path_url or "").split("?", 1)[0]
    if not path.startswith(PREFIX):
        return
    path = path[len(PREFIX) :]
    schema = response_schema(document, str(request.method), path, response.status_code)
    if schema is None or not response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        return
    validator = OAS30Validator({**schema, "components": document["components"]})
    errors = sorted(validator.iter_errors(response.json()), key=lambda error: list(error.path))
    if errors:
        described = "; ".join(
            f"{'/'.join(map(str, error.path)) or '(body)'}: {error.message}" for error in errors[:5]
        )
        raise ContractBroken(
            f"{request.method} {path} {response.status_code} breaks the API document: {described}"
        )


def check(base_url: str, response: requests.Response) -> None:
    """``check_against`` the document the gateway at ``base_url`` serves (fetched once)."""
    check_against(_document(base_url), response)
