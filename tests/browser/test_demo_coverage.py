"""The demo city at full scale in the console: ``make demo``'s organizations of Ulanhot
(``--hierarchy-only``: 1,348 non-public enterprises of which 1,281 have a women's
organization, 6 social organizations of which 3 do, communities and villages) registered
through the API, then the city's staff open 组建率 and read 95% (1,281 / 1,348) and 50%
(3 / 6). A platform of its own: the console journey's platform has a city of that name.
The screenshot is var/screenshots/demo-coverage.png."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import AMQP_URI, ConsolePlatform, Person, RabbitVhost
from tests.support.platform import ROOT, Platform, vhost_uri


@pytest.fixture(scope="module")
def demo_platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    vhost = RabbitVhost()
    platform = ConsolePlatform(
        amqp_uri=vhost_uri(AMQP_URI, vhost.create()),
        workdir=tmp_path_factory.mktemp("demo-platform"),
        database_urls={},
        rpc_timeout=10.0,
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        vhost.delete()


def test_the_demo_citys_coverage_page_reads_95_and_50_percent(
    demo_platform: Platform, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    logins = tmp_path / "demo-logins.txt"
    loaded = subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy/local/demo.py"),
            "--url",
            demo_platform.base_url.removesuffix("/api/v1"),
            "--hierarchy-only",
            "--logins",
            str(logins),
        ],
        env={**os.environ, "JINGUO_ADMIN_PASSWORD": demo_platform.admin_password},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    _, username, secret = logins.read_text().splitlines()[0].split("\t")

    staff = Person(browser, f"http://127.0.0.1:{demo_platform.gateway_port}", username, screenshots)
    try:
        page = staff.login(secret)
        page.get_by_test_id("menu-coverage").click()
        expect(page.get_by_test_id("coverage-title")).to_contain_text("乌兰浩特市妇女联合会")
        table = page.get_by_test_id("coverage-table")
        enterprises = table.get_by_role("row", name=re.compile("非公有制企业"))
        expect(enterprises).to_contain_text("1,348")
        expect(enterprises).to_contain_text("1,281")
        expect(enterprises).to_contain_text("95%")
        social = table.get_by_role("row", name=re.compile("社会组织"))
        expect(social).to_contain_text("50%")
        expect(social.get_by_role("cell")).to_have_text([re.compile("社会组织"), "6", "3", "50%"])
        staff.shot("demo-coverage")
        assert not staff.errors, staff.errors
    finally:
        staff.close()
