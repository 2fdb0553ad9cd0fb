"""`make demo` at full scale, as far as coverage goes: Ulanhot's organizations registered one
by one through the API (1,348 non-public enterprises of which 1,281 have a women's
organization, 6 social organizations of which 3 do, 46 communities and 68 villages, each with
its own) read 95 % and 50 % on the coverage route the console's 组建率 page shows — for the
admin and for the city's own staff. ``--hierarchy-only`` loads just that part of the demo
(the rest is tested at ``--small`` in test_demo.py), to keep this test to a minute or two."""

import os
import subprocess
import sys
import time

import pytest

from tests.support.platform import ROOT, Platform, new_vhost, vhost_uri


@pytest.fixture(scope="module")
def platform(rabbit_manager, tmp_path_factory, infra):
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("demo-full")
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost), workdir=workdir, database_urls={}
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


def test_the_full_scale_city_reads_95_and_50_percent(platform, admin, tmp_path):
    logins = tmp_path / "demo-logins.txt"
    started = time.monotonic()
    loaded = subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy/local/demo.py"),
            "--url",
            platform.base_url.removesuffix("/api/v1"),
            "--hierarchy-only",
            "--logins",
            str(logins),
        ],
        env={**os.environ, "JINGUO_ADMIN_PASSWORD": platform.admin_password},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    print(f"full-scale hierarchy loaded in {time.monotonic() - started:.0f} s")
    assert "1281/1348 = 95.0%" in loaded.stdout and "3/6 = 50.0%" in loaded.stdout

    city = admin.get("/organizations", params={"q": "乌兰浩特市妇女联合会"}).json()["items"][0]
    expected = {
        "non_public_enterprise": (1348, 1281, 95.0),
        "social_organization": (6, 3, 50.0),
        "community": (46, 46, 100.0),
        "village": (68, 68, 100.0),
    }
    (_, staff_name, staff_secret) = logins.read_text().splitlines()[0].split("\t")
    staff = platform.client(platform.token(staff_name, staff_secret))
    for reader in (admin, staff):  # the admin, and the city's staff on their own console
        answer = reader.get(f"/organizations/{city['id']}/coverage")
        assert answer.status_code == 200, answer.text
        sectors = {line["sector"]: line for line in answer.json()["sectors"]}
        assert {
            sector: (line["host_units"], line["covered"], line["rate"])
            for sector, line in sectors.items()
            if sector in expected
        } == expected
