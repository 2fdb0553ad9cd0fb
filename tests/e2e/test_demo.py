"""`make demo` against a real platform (reduced scale: the same coverage rates on fewer host
units): everything goes in through the API, coverage reads 95 % and 50 %, projects and
milestones are in every state, the logins work and are kept private, and a second run refuses."""

import os
import stat
import subprocess
import sys

import pytest

from tests.support.platform import ROOT, Platform, new_vhost, vhost_uri
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def platform(rabbit_manager, tmp_path_factory, infra):
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("demo")
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost), workdir=workdir, database_urls={}
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


def demo(platform, logins):
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy/local/demo.py"),
            "--url",
            platform.base_url.removesuffix("/api/v1"),
            "--small",
            "--logins",
            str(logins),
        ],
        env={**os.environ, "JINGUO_ADMIN_PASSWORD": platform.admin_password},
        capture_output=True,
        text=True,
        timeout=400,
    )


def test_the_demo_loads_a_living_city_through_the_api(platform, admin, tmp_path):
    logins = tmp_path / "demo-logins.txt"
    loaded = demo(platform, logins)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "95.0%" in loaded.stdout and "50.0%" in loaded.stdout

    # one login of each role, printed and kept readable by its owner only
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600
    rows = [line.split("\t") for line in logins.read_text().splitlines()]
    roles = {role for role, _, _ in rows}
    assert roles >= {"federation_staff", "contractor", "finance_officer", "ops", "team_leader"}
    for _, username, secret in rows:
        assert len(secret) >= 10 and secret in loaded.stdout
        platform.token(username, secret)  # each one logs in

    city = admin.get("/organizations", params={"q": "乌兰浩特市妇女联合会"}).json()["items"][0]
    sectors = {
        line["sector"]: line
        for line in admin.get(f"/organizations/{city['id']}/coverage").json()["sectors"]
    }
    assert (
        sectors["non_public_enterprise"]["covered"],
        sectors["non_public_enterprise"]["rate"],
    ) == (
        19,
        95.0,
    )
    assert (
        sectors["social_organization"]["host_units"],
        sectors["social_organization"]["rate"],
    ) == (
        6,
        50.0,
    )

    projects = admin.get("/projects", params={"limit": 100}).json()["items"]
    assert {p["status"] for p in projects} >= {
        "draft",
        "published",
        "awarded",
        "evaluated",
        "closed",
        "cancelled",
    }
    awarded = next(p for p in projects if p["status"] == "awarded")
    contract = admin.get("/contracts", params={"project_id": awarded["id"]}).json()["items"][0]

    def milestones_settled():
        shown = admin.get(f"/contracts/{contract['id']}").json()["milestones"]
        assert [m["status"] for m in shown] == [
            "accepted",
            "accepted",
            "accepted",
            "rejected",
            "reported",
            "pending",
        ]
        assert shown[0]["payment_status"] == "paid"
        return shown

    shown = eventually(milestones_settled)
    assert shown[1]["payment_status"] != shown[0]["payment_status"]  # approved, not yet paid

    def hours_on_the_project():
        assert admin.get(f"/projects/{awarded['id']}").json()["volunteer_hours"] == 6.0

    eventually(hours_on_the_project)
    assert len(admin.get("/teams").json()["items"]) == 3

    again = demo(platform, tmp_path / "again.txt")
    assert again.returncode != 0 and "already loaded" in again.stderr
