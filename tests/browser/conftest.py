"""Browser tests of the web console: real Chromium (Debian's, installed by ``make tools``)
driven by Playwright, against the platform running as real processes (services on SQLite, a
fresh vhost on the local RabbitMQ) with the gateway serving the built console.

Nothing here imports eventlet: this suite runs in its own pytest process (see pytest.ini).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.platform import ROOT, Client, Platform, vhost_uri

CHROMIUM = os.environ.get("JINGUO_CHROMIUM", "/usr/bin/chromium")
DIST = ROOT / "gateway" / "console" / "dist"
SCREENSHOTS = ROOT / "var" / "screenshots"
AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
RABBIT_API_URI = os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: a password each test user gets: long and not common (issue #11's rules)
PASSWORD = "Qiao-Lian-2026-spring"


def pytest_configure(config: pytest.Config) -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (run `make tools`)")
    if not (DIST / "index.html").exists():
        missing.append(f"{DIST}/index.html (run `make console`)")
    if missing:
        raise pytest.UsageError("the browser tests need " + " and ".join(missing))


class RabbitVhost:
    """A fresh vhost through the management API (nameko's fixture is not loaded here)."""

    def __init__(self, name: str | None = None) -> None:
        parts = urlsplit(RABBIT_API_URI)
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port}/api"
        self.auth = (parts.username or "guest", parts.password or "guest")
        self.name = name or f"jinguo_browser_{uuid.uuid4().hex[:10]}"

    def create(self) -> str:
        vhost = quote(self.name, safe="")
        requests.put(f"{self.base}/vhosts/{vhost}", auth=self.auth, timeout=60).raise_for_status()
        requests.put(
            f"{self.base}/permissions/{vhost}/{self.auth[0]}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            auth=self.auth,
            timeout=60,
        ).raise_for_status()
        return self.name

    def delete(self) -> None:
        requests.delete(
            f"{self.base}/vhosts/{quote(self.name, safe='')}", auth=self.auth, timeout=10
        )


class ConsolePlatform(Platform):
    """The platform, given longer to start: browser runs share the machine with Chromium."""

    def wait_healthy(self, timeout: float = 240) -> None:
        super().wait_healthy(timeout)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    running = os.environ.get("JINGUO_BROWSER_PLATFORM")
    if running:  # development: a platform already running, described by a JSON file
        import json

        known = json.loads(Path(running).read_text())
        yield Platform(
            amqp_uri=AMQP_URI,
            workdir=Path(known["workdir"]),
            database_urls={},
            gateway_port=known["port"],
            admin_password=known["admin"],
            jwt_secret=known["jwt"],
        )
        return
    # JINGUO_BROWSER_VHOST: an existing, unused vhost to run in (when the broker is too loaded
    # to create one in time); otherwise a fresh one, deleted at the end
    existing = os.environ.get("JINGUO_BROWSER_VHOST")
    vhost = RabbitVhost(existing)
    workdir = tmp_path_factory.mktemp("platform")
    platform = ConsolePlatform(
        amqp_uri=vhost_uri(AMQP_URI, existing or vhost.create()),
        workdir=workdir,
        database_urls={},
        rpc_timeout=10.0,
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        if not existing:
            vhost.delete()


@pytest.fixture(scope="session")
def console_url(platform: Platform) -> str:
    return f"http://127.0.0.1:{platform.gateway_port}"


@pytest.fixture(scope="session")
def admin(platform: Platform) -> Client:
    return platform.admin()


@pytest.fixture(scope="session")
def browser() -> Browser:
    with sync_playwright() as playwright:
        playwright.selectors.set_test_id_attribute("data-test")
        expect.set_options(timeout=20_000)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


class Person:
    """One person at the console: a browser context of her own, logged in through the form."""

    def __init__(self, browser: Browser, url: str, username: str, shots: Path, **context) -> None:
        self.context = browser.new_context(
            base_url=url,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport=context.pop("viewport", {"width": 1366, "height": 768}),
            accept_downloads=True,
            **context,
        )
        self.context.set_default_timeout(20_000)
        self.page: Page = self.context.new_page()
        self.username = username
        self.shots = shots
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def login(self, password: str = PASSWORD) -> Page:
        page = self.page
        page.goto("/login")
        page.get_by_label("用户名").fill(self.username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_test_id("who")).to_contain_text(self.username)
        return page

    def shot(self, name: str) -> None:
        # networkidle is the page's first load only: give the last click's requests a moment
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(500)
        # what a person sees once the page has loaded, not the loading mask fading out
        with contextlib.suppress(Exception):
            self.page.wait_for_function(
                "() => !document.querySelector('.el-loading-mask')", timeout=5_000
            )
        # the console scrolls inside its main pane, not the document: a full-page screenshot
        # would stop at the window's edge, so the window grows to the pane's content first
        size = self.page.viewport_size
        height = self.page.evaluate(
            """() => {
                const main = document.querySelector('.main');
                if (!main) return document.documentElement.scrollHeight;
                return Math.ceil(main.getBoundingClientRect().top + main.scrollHeight);
            }"""
        )
        if size and height > size["height"]:
            self.page.set_viewport_size({"width": size["width"], "height": min(height, 8_000)})
            self.page.wait_for_timeout(200)
        try:
            self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        finally:
            if size:
                self.page.set_viewport_size(size)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="session")
def people(browser: Browser, console_url: str, screenshots: Path):
    opened: list[Person] = []

    def open_as(username: str, **context) -> Person:
        person = Person(browser, console_url, username, screenshots, **context)
        opened.append(person)
        return person

    yield open_as
    for person in opened:
        person.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "people" in item.fixturenames:
        # what each person saw when the test failed
        for cell in item.funcargs["people"].__closure__ or ():
            opened = cell.cell_contents
            if isinstance(opened, list):
                for i, person in enumerate(opened):
                    with contextlib.suppress(Exception):  # best effort
                        person.page.screenshot(
                            path=str(SCREENSHOTS / f"FAILED-{item.name}-{i}.png"), full_page=True
                        )


def fc_match_chinese() -> str:
    return subprocess.run(
        ["fc-match", "-f", "%{family}", ":lang=zh-cn"], capture_output=True, text=True, check=True
    ).stdout
