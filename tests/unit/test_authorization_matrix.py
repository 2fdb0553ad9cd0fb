"""Deny by default: every route of the API document states its roles, and the authorization
matrix (tests/authorization_matrix.md) lists every route with what each role gets.

The end-to-end half (tests/e2e/test_authorization_matrix.py) asks the running platform every
cell of the table.
"""

import inspect

import pytest

import gateway.service  # noqa: F401 - declares every route
from gateway import openapi
from gateway.http import ROUTES, api
from language.actor import ROLES
from tests.support import matrix

HOW_TO_ADD = (
    "Add the line(s) below to tests/authorization_matrix.md (one row per `METHOD /path`, one "
    "column per role: allow or deny, or public in every column for a route without token), "
    "after checking each cell is what the route should allow:"
)


def declared():
    """(METHOD, /path) -> roles (None: public), as the routes declare them."""
    return {(route.method, route.path): route.roles for route in ROUTES}


def documented():
    """(METHOD, /path) of every operation in the OpenAPI document."""
    document = openapi.document()
    return {
        (method.upper(), path.removeprefix(document["servers"][0]["url"]))
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_route_of_the_api_document_is_in_the_matrix():
    table = matrix.load()
    routes = declared()
    missing = sorted(documented() - set(table))
    assert not missing, (
        f"{len(missing)} route(s) of the API document are not in the authorization matrix. "
        + HOW_TO_ADD
        + "\n"
        + "\n".join(
            matrix.row(method, path, routes.get((method, path))) for method, path in missing
        )
    )


def test_the_matrix_names_no_route_that_does_not_exist():
    stale = sorted(set(matrix.load()) - documented())
    assert not stale, (
        "tests/authorization_matrix.md lists route(s) the API document does not have "
        "(removed or renamed?): delete or correct these rows:\n"
        + "\n".join(f"{method} {path}" for method, path in stale)
    )


def test_the_api_document_and_the_declared_routes_agree():
    assert documented() == set(declared())


def test_every_route_allows_exactly_what_the_matrix_says():
    table = matrix.load()
    wrong = []
    for (method, path), roles in sorted(declared().items(), key=str):
        expected = table.get((method, path))
        if expected is None:
            continue  # reported by the test above
        actual = {
            role: "public" if roles is None else ("allow" if role in roles else "deny")
            for role in ROLES
        }
        if actual != expected:
            wrong.append(
                f"{method} {path}\n  matrix: {expected}\n  @api(roles=...): {actual}\n"
                f"  (the code's row: {matrix.row(method, path, roles)})"
            )
    assert not wrong, (
        "routes whose declared roles differ from the authorization matrix — change the route's "
        "roles or the table, deliberately:\n" + "\n".join(wrong)
    )


def test_a_route_must_state_its_roles():
    """Deny by default: ``@api`` has no default for roles, so a route that forgets them
    fails at import; public is said explicitly (``roles=PUBLIC``)."""
    assert inspect.signature(api).parameters["roles"].default is inspect.Parameter.empty
    with pytest.raises(TypeError):
        api("GET", "/forgotten", summary="A route without roles", tag="Test")
    for bad in ((), ("admin", "nobody"), ["admin"], "admin"):
        with pytest.raises(TypeError):
            api("GET", "/forgotten", summary="Bad roles", tag="Test", roles=bad)


def test_every_declared_route_has_explicit_roles():
    for route in ROUTES:
        assert route.roles is None or (
            isinstance(route.roles, tuple) and route.roles and set(route.roles) <= set(ROLES)
        ), f"{route.method} {route.path}: roles={route.roles!r}"


def test_the_matrix_reader_says_what_is_wrong(tmp_path):
    table = tmp_path / "m.md"
    table.write_text(
        "| route | " + " | ".join(ROLES) + " |\n|---|" + "---|" * len(ROLES) + "\n"
        "| `GET /x` | allow | maybe | deny | deny | deny | deny |\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"m\.md:3"):
        matrix.load(table)
