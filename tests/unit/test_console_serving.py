"""The gateway serves the built web console at ``/``: files of the build, the app's
``index.html`` for its own routes, long caching for hashed assets, a Content-Security-Policy;
the API keeps its JSON 404s."""

import json

import pytest
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Response

from gateway.console import CSP, ConsoleFiles
from gateway.http import JsonWsgiApp

INDEX = b'<!doctype html><script type="module" src="/assets/index-abc123.js"></script>'


class Provider:
    def handle_request(self, request):
        return Response('{"ok":true}', content_type="application/json")


class Server:
    def __init__(self, console_dir):
        self.container = type("Container", (), {"config": {"CONSOLE_DIR": str(console_dir)}})()

    def make_url_map(self):
        return Map(
            [Rule("/api/v1/health", endpoint=Provider()), Rule("/metrics", endpoint=Provider())]
        )


@pytest.fixture
def dist(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "assets" / "index-abc123.css").write_text("body{}")
    (tmp_path / "favicon.ico").write_bytes(b"\0")
    return tmp_path


@pytest.fixture
def client(dist):
    return Client(JsonWsgiApp(Server(dist)))


def test_the_root_is_the_console_and_is_revalidated(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.data == INDEX
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_apps_own_routes_fall_back_to_index_html(client):
    for path in ("/projects", "/contracts/5f0c/milestones", "/login?expired=1"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.data == INDEX
        assert response.headers["Cache-Control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year(client):
    response = client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/assets/index-abc123.css").mimetype == "text/css"


def test_a_missing_asset_is_a_404_not_the_app(client):
    response = client.get("/assets/index-old999.js")
    assert response.status_code == 404
    assert response.data != INDEX


def test_paths_cannot_leave_the_build_directory(client, dist):
    (dist.parent / "secret.txt").write_text("no")
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"):
        response = client.get(path)
        assert response.data != b"no", path


def test_the_csp_allows_no_inline_script():
    directives = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert "'unsafe-inline'" in directives["style-src"]  # Element Plus sets inline styles


def test_the_api_keeps_its_json_404s_and_routes(client):
    response = client.get("/api/v1/no-such-route")
    assert response.status_code == 404
    assert json.loads(response.data)["error"]["code"] == "NOT_FOUND"
    assert client.get("/api").status_code == 404
    assert json.loads(client.get("/api/v1/health").data) == {"ok": True}
    assert json.loads(client.get("/metrics").data) == {"ok": True}


def test_only_reads_reach_the_console(client):
    response = client.post("/projects")
    assert response.status_code == 404
    assert json.loads(response.data)["error"]["code"] == "NOT_FOUND"


def test_an_unbuilt_console_is_said_plainly(tmp_path):
    client = Client(JsonWsgiApp(Server(tmp_path / "missing")))
    response = client.get("/projects")
    assert response.status_code == 503
    assert response.mimetype == "text/plain"
    assert b"make console" in response.data


def test_the_default_directory_is_the_build_output():
    assert ConsoleFiles().directory.parts[-3:] == ("gateway", "console", "dist")
