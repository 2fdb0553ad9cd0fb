"""Evidence files over HTTP with every process running: a contractor uploads a PDF and cites it
in a milestone report, the purchaser's staff download it intact, nobody else finds it; what is
not a document (415), too large (413) or tampered with in the blob store (refused, logged) is
never taken or served."""

import hashlib
import urllib.parse

import pytest

from tests.support.platform import Platform, new_vhost, vhost_uri
from tests.support.waiting import eventually

LIMIT = 256 * 1024
PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    + b"% \xe9\xaa\x8c\xe6\x94\xb6 evidence\n" * 2000
    + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 4096


@pytest.fixture(scope="module")
def platform(rabbit_manager, tmp_path_factory, infra):
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("files")
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost),
        workdir=workdir,
        database_urls={},
        extra_env={"BLOB_STORE_URL": str(workdir / "blobs"), "GATEWAY_FILE_MAX_BYTES": str(LIMIT)},
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code, response.text
    return response.json() if status != 200 or "json" in response.headers["Content-Type"] else None


def upload(client, data, name="验收报告 第1期.pdf", content_type="application/pdf"):
    return client.post(
        f"/files?name={urllib.parse.quote(name)}",
        data=data,
        headers={"Content-Type": content_type},
    )


@pytest.fixture(scope="module")
def cast(platform, admin):
    city = admin.create(
        "/organizations", {"name": "兴安盟妇联", "kind": "federation", "level": "city"}
    )
    other_city = admin.create(
        "/organizations", {"name": "通辽市妇联", "kind": "federation", "level": "city"}
    )
    providers = []
    for name in ("阳光社工", "春晖社工"):
        provider = admin.create(
            "/organizations",
            {"name": name, "kind": "service_provider", "parent_id": city["id"]},
        )
        expect(admin.post(f"/organizations/{provider['id']}/verify"), 200)
        providers.append(provider)
    people = {
        "staff": ("federation_staff", city["id"]),
        "other_staff": ("federation_staff", other_city["id"]),
        "contractor": ("contractor", providers[0]["id"]),
        "rival": ("contractor", providers[1]["id"]),
    }
    clients = {}
    for name, (role, organization_id) in people.items():
        secret = f"{name}-long-password"
        admin.create(
            "/users",
            {
                "username": f"files.{name}",
                "password": secret,
                "role": role,
                "organization_id": organization_id,
            },
        )
        clients[name] = platform.client(platform.token(f"files.{name}", secret))
    staff, contractor = clients["staff"], clients["contractor"]
    # the city's own money: a project draws only on its purchaser's line's sources (below the
    # two-officer threshold, so the source is there at once)
    source = eventually(
        lambda: expect(
            admin.post(
                "/funding-sources",
                {
                    "name": "2027年家庭教育专项资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": city["id"],
                    "fiscal_year": 2027,
                    "amount": 5_000_000,
                },
            ),
            201,
        )
    )
    project = eventually(
        lambda: staff.create(
            "/projects",
            {
                "title": "家庭教育指导服务",
                "category": "family_education",
                "model": "commissioned",
                "funding_source_id": source["id"],
                "budget": 2_000_000,
                "starts_on": "2027-01-01",
                "ends_on": "2027-12-31",
                "target_beneficiaries": 100,
            },
        )
    )
    expect(staff.post(f"/projects/{project['id']}/publish"), 200)
    application = eventually(
        lambda: contractor.create(
            f"/projects/{project['id']}/applications",
            {"provider_id": providers[0]["id"], "amount": 1_000_000, "proposal": "方案"},
        )
    )
    contract = staff.create(
        f"/projects/{project['id']}/award",
        {
            "application_id": application["id"],
            "milestones": [{"title": "家长课堂", "due_on": "2027-06-30", "amount": 1_000_000}],
        },
    )
    return {**clients, "admin": admin, "contract": contract}


def test_a_pdf_uploaded_and_reported_is_downloaded_intact_by_the_purchaser_only(platform, cast):
    contractor, staff = cast["contractor"], cast["staff"]
    stored = expect(upload(contractor, PDF), 201)
    assert stored == {
        "file_id": stored["file_id"],
        "sha256": hashlib.sha256(PDF).hexdigest(),
        "size": len(PDF),
        "content_type": "application/pdf",
        "name": "验收报告 第1期.pdf",
    }
    file_id = stored["file_id"]
    # cited by no report yet: only its uploader finds it
    expect(staff.get(f"/files/{file_id}"), 404, "FILE_NOT_FOUND")

    contract = cast["contract"]
    milestone = contract["milestones"][0]["id"]
    path = f"/contracts/{contract['id']}/milestones/{milestone}/reports"
    theirs = expect(upload(cast["rival"], PDF, name="别人的.pdf"), 201)["file_id"]
    refused = expect(
        contractor.post(
            path,
            {
                "summary": "家长课堂12场",
                "beneficiaries_served": 80,
                "evidence": [{"name": "签到表", "type": "report", "file_id": theirs}],
            },
        ),
        422,
    )
    assert refused["error"]["details"] == {
        "field": "evidence[0].file_id",
        "rule": "file_not_available",
        "file_id": theirs,
    }
    report = expect(
        contractor.post(
            path,
            {
                "summary": "家长课堂12场",
                "beneficiaries_served": 80,
                "evidence": [{"name": "验收报告", "type": "report", "file_id": file_id}],
            },
        ),
        201,
    )
    assert report["evidence"] == [
        {"name": "验收报告", "type": "report", "file_id": file_id, "sha256": stored["sha256"]}
    ]
    listed = expect(staff.get(path), 200)["items"][0]["evidence"]
    assert listed[0]["file_id"] == file_id

    for reader in (staff, cast["admin"], contractor):
        response = reader.get(f"/files/{file_id}")
        assert response.status_code == 200, response.text
        assert response.content == PDF
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            "attachment; filename*=UTF-8''" + urllib.parse.quote("验收报告 第1期.pdf", safe="")
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
    for outsider in (cast["rival"], cast["other_staff"]):
        expect(outsider.get(f"/files/{file_id}"), 404, "FILE_NOT_FOUND")
    expect(staff.get("/files/00000000-0000-4000-8000-000000000000"), 404, "FILE_NOT_FOUND")


def test_what_is_not_a_document_or_too_large_is_refused_and_nothing_stays(platform, cast):
    contractor = cast["contractor"]
    blobs = platform.workdir / "blobs"
    before = sorted(p.name for p in blobs.rglob("*") if p.is_file())
    # a program renamed to .pdf, and a type that is not a document
    expect(upload(contractor, EXE, name="报告.pdf"), 415, "UNSUPPORTED_MEDIA_TYPE")
    expect(
        upload(contractor, EXE, name="setup.exe", content_type="application/x-msdownload"),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    expect(upload(contractor, b"<html></html>", content_type="text/html"), 415)
    # too large: declared, and streamed without a length
    expect(upload(contractor, PDF + b"x" * LIMIT), 413, "PAYLOAD_TOO_LARGE")

    def flood():
        yield PDF
        for _ in range(8):
            yield b"x" * (LIMIT // 4)

    expect(upload(contractor, flood()), 413, "PAYLOAD_TOO_LARGE")
    # a name is required; roles without business with evidence may not upload
    expect(contractor.post("/files", data=PDF, headers={"Content-Type": "application/pdf"}), 422)
    assert sorted(p.name for p in blobs.rglob("*") if p.is_file()) == before


def test_a_tampered_blob_is_refused_and_logged_never_served(platform, cast):
    contractor = cast["contractor"]
    data = PDF.replace(b"evidence", b"tampered")
    stored = expect(upload(contractor, data, name="原件.pdf"), 201)
    blob = platform.workdir / "blobs" / stored["sha256"][:2] / stored["sha256"]
    assert blob.read_bytes() == data
    blob.write_bytes(data.replace(b"1 0 obj", b"9 9 obj"))  # same size, other bytes
    response = contractor.get(f"/files/{stored['file_id']}")
    expect(response, 500, "FILE_INTEGRITY_ERROR")
    assert b"9 9 obj" not in response.content

    def logged():
        assert f"refused to serve file {stored['file_id']}" in platform.processes["gateway"].tail(
            200
        )

    eventually(logged)
