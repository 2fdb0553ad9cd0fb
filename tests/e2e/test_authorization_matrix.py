"""The authorization matrix against the running platform: every cell of
tests/authorization_matrix.md asked with a token of that role, every route asked without one.

A ``deny`` cell answers 403 ``ROLE_NOT_ALLOWED``; an ``allow`` cell anything but that (a 404 or
422 for the dummy ids and empty bodies sent here is expected); a protected route answers 401
without a token, a public one does not. Every answer says ``X-Content-Type-Options: nosniff``
and, for an authenticated request, ``Cache-Control: no-store``. One platform, one token per
role, plain requests.
"""

import re
import secrets
import uuid

import pytest
import requests

import gateway.service  # noqa: F401 - declares every route
from gateway.http import ROUTES
from language.actor import ROLES
from tests.support import matrix

DUMMY_ID = str(uuid.UUID(int=0x1234))
STREAMED = {(route.method, route.path) for route in ROUTES if route.stream is not None}


@pytest.fixture(scope="module")
def tokens(platform, admin):
    """A token for each role, with an organization where the role needs one."""
    city = admin.create(
        "/organizations", {"name": "矩阵市妇联", "kind": "federation", "level": "city"}
    )["id"]
    provider = admin.create(
        "/organizations",
        {"name": "矩阵社工服务中心", "kind": "service_provider", "parent_id": city},
    )["id"]
    organization = {"federation_staff": city, "contractor": provider}
    tokens = {"admin": platform.token("admin", platform.admin_password)}
    for role in ROLES:
        if role == "admin":
            continue
        username, password = f"matrix.{role}", "Mx-" + secrets.token_urlsafe(16)
        user = {"username": username, "password": password, "role": role}
        created = admin.post("/users", {**user, "organization_id": organization.get(role)})
        if created.status_code == 422 and role not in organization:
            # a role that belongs to a federation in this installation's rules
            created = admin.post("/users", {**user, "organization_id": city})
        assert created.status_code == 201, (role, created.text)
        tokens[role] = platform.token(username, password)
    return tokens


def url_of(platform, path):
    return platform.base_url + re.sub(r"\{\w+\}", DUMMY_ID, path)


def ask(session, platform, method, path, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs = {}
    if (method, path) in STREAMED:
        kwargs["data"], headers["Content-Type"] = b"", "text/csv"
    elif method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    return session.request(
        method, url_of(platform, path), headers=headers, timeout=30, allow_redirects=False, **kwargs
    )


def code_of(response):
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def test_every_cell_of_the_matrix_is_what_the_platform_answers(platform, tokens):
    table = matrix.load()
    wrong = []
    with requests.Session() as session:
        for (method, path), cells in sorted(table.items()):
            for role, cell in cells.items():
                if cell == "public":
                    continue
                response = ask(session, platform, method, path, tokens[role])
                refused = response.status_code == 403 and code_of(response) == "ROLE_NOT_ALLOWED"
                if refused != (cell == "deny"):
                    wrong.append(
                        f"{method} {path} as {role}: expected {cell}, got "
                        f"{response.status_code} {response.text[:200]}"
                    )
                if response.headers.get("X-Content-Type-Options") != "nosniff":
                    wrong.append(f"{method} {path} as {role}: no X-Content-Type-Options")
                if response.headers.get("Cache-Control") != "no-store":
                    wrong.append(
                        f"{method} {path} as {role}: Cache-Control "
                        f"{response.headers.get('Cache-Control')!r}, not no-store"
                    )
    assert not wrong, f"{len(wrong)} cell(s) differ:\n" + "\n".join(wrong)


def test_without_a_token_protected_routes_answer_401_and_public_ones_answer(platform):
    table = matrix.load()
    wrong = []
    with requests.Session() as session:
        for (method, path), cells in sorted(table.items()):
            public = set(cells.values()) == {"public"}
            response = ask(session, platform, method, path)
            if (response.status_code == 401) == public:
                wrong.append(
                    f"{method} {path} without a token ({'public' if public else 'protected'}): "
                    f"{response.status_code} {response.text[:200]}"
                )
            if response.headers.get("X-Content-Type-Options") != "nosniff":
                wrong.append(f"{method} {path} without a token: no X-Content-Type-Options")
    assert not wrong, "\n".join(wrong)


def test_answers_outside_the_api_routes_say_nosniff_too(platform):
    root = platform.base_url.removesuffix("/api/v1")
    for url in (
        f"{platform.base_url}/no-such-route",
        f"{platform.base_url}/docs",
        f"{root}/metrics",
    ):
        assert requests.get(url, timeout=10).headers.get("X-Content-Type-Options") == "nosniff"


def test_a_flood_of_health_requests_is_answered_from_one_report(platform):
    """GET /health is public: its report is kept a few seconds, not made per request."""
    made = {
        requests.get(f"{platform.base_url}/health", timeout=10).json()["checked_at"]
        for _ in range(30)
    }
    assert len(made) <= 2  # at most one renewal in between, however slow the machine
