"""What ops see: health of every dependency, metrics, the API document — and a dead service
answered with a 503 that names it, never a hang."""

import signal
import time

import eventlet
import jsonschema
import requests
import sqlalchemy as sa

from kit.db import connect
from registry.models import organizations
from tests.support.platform import Client
from tests.support.waiting import wait_until


def test_health_lists_each_dependency(platform):
    response = requests.get(f"{platform.base_url}/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["dependencies"]) == {
        "gateway_database",
        "rabbitmq",
        "gateway_consumers",
        "registry",
        "projects",
        "funding",
        "volunteers",
    }
    volunteers = body["dependencies"]["volunteers"]
    assert volunteers["status"] == "ok"
    assert volunteers["database"] == {"status": "ok", "backend": "sqlite"}
    registry = body["dependencies"]["registry"]
    assert registry["database"] == {"status": "ok", "backend": "sqlite"}
    assert registry["outbox"]["pending"] == 0
    for service in ("registry", "projects", "funding", "volunteers"):
        assert body["dependencies"][service]["consumers"] == "ready"
    # the gateway's own event queues (the notifications') are consumed as well
    assert body["dependencies"]["gateway_consumers"] == {"status": "ok", "consumers": "ready"}
    # the body is what the API document says it is
    document = requests.get(f"{platform.base_url}/openapi.json", timeout=10).json()
    schema = document["paths"]["/health"]["get"]["responses"]["200"]["content"]
    validator = jsonschema.Draft202012Validator(
        {**schema["application/json"]["schema"], "components": document["components"]}
    )
    assert [error.message for error in validator.iter_errors(body)] == []


def test_openapi_document_covers_every_route_and_the_docs_page_works(platform):
    document = requests.get(f"{platform.base_url}/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path, method in [
        ("/auth/token", "post"),
        ("/users", "post"),
        ("/users/me", "get"),
        ("/notifications", "get"),
        ("/notifications/unread-count", "get"),
        ("/notifications/{notification_id}/read", "post"),
        ("/organizations", "post"),
        ("/organizations", "get"),
        ("/organizations/{organization_id}", "patch"),
        ("/organizations/{organization_id}/suspend", "post"),
        ("/organizations/{organization_id}/coverage", "get"),
        ("/health", "get"),
        ("/teams", "post"),
        ("/volunteers", "post"),
        ("/volunteers/import", "post"),
        ("/volunteers/{volunteer_id}/hours", "get"),
        ("/activities", "post"),
        ("/activities/{activity_id}/enrolments", "post"),
        ("/service-hours", "post"),
        ("/service-hours/{entry_id}/verify", "post"),
        ("/reports/hours", "get"),
    ]:
        assert method in paths[path], (path, method)
    create = paths["/organizations"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["properties"]["kind"]["enum"] == [
        "federation",
        "womens_organization",
        "host_unit",
        "service_provider",
    ]
    assert "422" in create["responses"] and "Idempotency-Key" in str(create["parameters"])
    upload = paths["/volunteers/import"]["post"]["requestBody"]["content"]
    assert upload["text/csv"]["schema"] == {"type": "string", "format": "binary"}
    page = requests.get(f"{platform.base_url}/docs", timeout=10)
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    asset = requests.get(f"{platform.base_url}/docs/static/swagger-ui-bundle.js", timeout=10)
    assert asset.status_code == 200 and len(asset.content) > 100_000
    assert (
        requests.get(f"{platform.base_url}/docs/static/..%2Fsecret", timeout=10).status_code == 404
    )


def test_metrics_count_requests_by_route_and_events_by_type(platform, admin):
    admin.create("/organizations", {"name": "指标测试", "kind": "service_provider"})
    admin.get("/organizations/6f1e0c2a-7a55-4e43-9b3e-2f6d6f0c9a01")  # a 404
    gateway = requests.get(f"http://127.0.0.1:{platform.gateway_port}/metrics", timeout=10).text
    assert (
        'jinguo_http_requests_total{method="POST",route="/api/v1/organizations",service="gateway",status="201"}'
        in gateway
    )
    assert (
        'route="/api/v1/organizations/<organization_id>",service="gateway",status="404"' in gateway
    )
    eventlet.sleep(1.0)
    registry = requests.get(f"http://127.0.0.1:{platform.registry_port}/metrics", timeout=10).text
    assert (
        'jinguo_entrypoint_calls_total{entrypoint="register_organization",kind="rpc",outcome="ok",service="registry"}'
        in registry
    )
    assert (
        'jinguo_events_published_total{event_type="organization_registered",service="registry"}'
        in registry
    )
    assert 'jinguo_outbox_backlog_events{service="registry"} 0.0' in registry
    assert 'jinguo_outbox_relay_leader{service="registry"} 1.0' in registry
    assert 'jinguo_organizations{kind="service_provider",status="registered"}' in registry
    projects = requests.get(f"http://127.0.0.1:{platform.projects_port}/metrics", timeout=10).text
    assert "jinguo_milestones_overdue 0.0" in projects
    assert 'jinguo_dead_letters{queue="evt-registry-organization_suspended--projects' in projects
    funding = requests.get(f"http://127.0.0.1:{platform.funding_port}/metrics", timeout=10).text
    assert "jinguo_disbursements_pending 0.0" in funding
    assert "jinguo_disbursement_oldest_pending_age_seconds 0.0" in funding


def test_a_hung_service_is_a_503_naming_it_and_its_request_is_not_run_later(platform, admin):
    registry = platform.processes["registry"]
    registry.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = admin.post("/organizations", {"name": "停机期间", "kind": "service_provider"})
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "SERVICE_TIMEOUT"
        assert response.json()["error"]["details"]["service"] == "registry"
        assert elapsed < platform.rpc_timeout + 2

        # the health report is kept a few seconds: a report made after the stop says so
        def degraded():
            answer = requests.get(f"{platform.base_url}/health", timeout=15)
            return [answer] if answer.status_code == 503 else None

        (health,) = wait_until(degraded, timeout=20, interval=0.5)
        assert health.json()["dependencies"]["registry"]["status"] == "down"
    finally:
        registry.signal(signal.SIGCONT)
    platform.wait_healthy()
    eventlet.sleep(1.0)
    # the request the client was told failed expired in the queue: it never happened
    with connect(platform.database_urls["registry"]) as db, db.begin(write=False) as connection:
        names = connection.execute(sa.select(organizations.c.name)).scalars().all()
    assert "停机期间" not in names
    assert (
        admin.post("/organizations", {"name": "恢复之后", "kind": "service_provider"}).status_code
        == 201
    )


def test_a_stopped_service_is_a_503_too(platform, admin):
    platform.processes["registry"].stop()
    try:
        response = Client(platform.base_url, None).post(
            "/auth/token", {"username": "admin", "password": platform.admin_password}
        )
        assert response.status_code == 200  # identity lives in the gateway: login still works
        response = admin.get("/organizations")
        assert response.status_code == 503
        assert response.json()["error"]["details"]["service"] == "registry"
    finally:
        platform.processes["registry"].start()
        platform.wait_healthy()
    assert admin.get("/organizations").status_code == 200
