"""The OpenAPI 3 document, generated (apispec) from the ``@api`` route declarations."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from gateway.http import PREFIX, ROUTES, Route
from gateway.schemas import ErrorOut

ERROR_STATUSES = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, expired or invalid access token",
    403: "Your role or scope does not allow this",
    404: "No such resource (or not yours to see)",
    409: "Conflicts with the current state; `details.current_status` says which",
    413: "Body too large",
    415: "Body is not application/json",
    422: "Validation failed; `details` names the field and the rule",
    503: "A service or the broker did not answer",
}


def _schema_name(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    spec = APISpec(
        title="Jinguo API",
        version="1.0.0",
        openapi_version="3.0.3",
        info={
            "description": (
                "Government-purchased public service projects: registry, projects, funding, "
                "volunteers. Money is integer fen (分). Lists take `limit` (≤500) and "
                "`cursor` and return `{items, next_cursor, total}` (`total`: the whole list under "
                "the same filters). Lists a person sorts take `sort` (a field, or `-field` "
                "descending; its choices are listed; another is a 422 on `sort`, rule "
                "`one_of`). Errors are "
                "`{error: {code, message, details}}`."
            )
        },
        servers=[{"url": PREFIX}],
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
    )
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Error", schema=ErrorOut)
    for path in sorted({route.path for route in ROUTES}):
        operations = {
            route.method.lower(): _operation(route) for route in ROUTES if route.path == path
        }
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": _responses(route),
    }
    if route.description:
        operation["description"] = route.description
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if route.stream is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in route.stream.media_types
            },
        }
    if route.body is not None:
        operation["requestBody"] = {
            "required": route.method != "POST" or route.validate_body,
            "content": {"application/json": {"schema": route.body}},
        }
    if route.roles is not None:
        operation["security"] = [{"bearer": []}]
        operation["x-roles"] = list(route.roles)
    return operation


def _parameters(route: Route) -> list[dict[str, Any]]:
    """The path's ids, the query schema, and ``Idempotency-Key`` where a retry is safe."""
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", route.path)
    ]
    if route.query is not None:
        parameters.append({"in": "query", "schema": route.query})
    if route.idempotent:
        parameters.append(
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "schema": {"type": "string", "maxLength": 200},
                "description": "retrying with the same key returns the first response",
            }
        )
    return parameters


def _responses(route: Route) -> dict[str, Any]:
    """The route's success, its other statuses, and the errors every route may answer (401
    and 403 only where a role is required)."""
    json_body = lambda schema: {"content": {"application/json": {"schema": schema}}}  # noqa: E731
    responses: dict[str, Any] = {
        str(route.status): {
            "description": "OK",
            **(json_body(route.response) if route.response else {}),
        }
    }
    errors = {
        status: description
        for status, description in ERROR_STATUSES.items()
        if route.roles is not None or status not in (401, 403)
    }
    for status, description in sorted({**errors, **route.statuses}.items()):
        responses[str(status)] = {"description": description}
        if status >= 400:
            responses[str(status)].update(json_body("Error"))
        elif 200 <= status < 300 and route.response:  # another success, the same body
            responses[str(status)].update(json_body(route.response))
    return responses


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Jinguo API</title>
<link rel="stylesheet" href="{prefix}/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="{prefix}/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "{prefix}/openapi.json", dom_id: "#ui", deepLinking: true,
 persistAuthorization: true}});</script></body></html>
"""

STATIC_TYPES = {".css": "text/css", ".js": "application/javascript", ".png": "image/png"}


def swagger_asset(name: str) -> tuple[bytes, str] | None:
    """A file of the swagger-ui bundle (served locally: the docs page needs no internet)."""
    from swagger_ui_bundle import swagger_ui_path

    if not re.fullmatch(r"[\w.-]+", name) or Path(name).suffix not in STATIC_TYPES:
        return None
    path = Path(swagger_ui_path) / name
    if not path.is_file():
        return None
    return path.read_bytes(), STATIC_TYPES[path.suffix]
