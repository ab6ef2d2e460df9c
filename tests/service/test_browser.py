"""The dashboard and the report in a real browser: headless Chromium (Debian's package, which
`make test` installs) driven by Playwright. Sign in; open every page at desktop and phone
width; apply a filter; export a CSV; fail on any console error or failed request. Screenshots
go to ``test-artifacts/screenshots/`` (not committed; the README shows two of them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cxroi.report.html import render_report
from cxroi.store import Workspace
from tests.service._server import Server, cli

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PAGES = (
    "overview",
    "scorecard",
    "voice",
    "drivers",
    "lifetime",
    "opportunities",
    "initiatives",
    "journey",
    "cases",
)
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(demo_folder):
    r = cli(
        "user",
        "add",
        "eva",
        "--role",
        "analyst",
        "--password-stdin",
        "-w",
        str(demo_folder),
        input="browser password 1\n",
    )
    assert r.returncode == 0, r.stderr
    SHOTS.mkdir(parents=True, exist_ok=True)
    with Server(demo_folder, "--rate-limit", "0") as s:
        yield s


@pytest.fixture
def page(browser, server):
    """A signed-in page that records every console error and failed request."""
    ctx = browser.new_context(accept_downloads=True)
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    # a download ends its navigation with ERR_ABORTED: that one is the browser's way, not ours
    pg.on(
        "requestfailed",
        lambda r: (
            None
            if "/export.csv" in r.url and r.failure == "net::ERR_ABORTED"
            else problems.append(f"failed: {r.url} {r.failure}")
        ),
    )
    pg.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )
    pg.goto(server.url + "/dashboard/voice")
    assert "/dashboard/login" in pg.url  # an anonymous visitor is sent to sign in
    pg.fill("#u", "eva")
    pg.fill("#p", "browser password 1")
    pg.click("form.login button")
    pg.wait_for_url("**/dashboard/voice")
    pg.problems = problems  # type: ignore[attr-defined]
    yield pg
    ctx.close()


@pytest.mark.parametrize("size", SIZES)
def test_every_page_opens_at_desktop_and_phone_width_without_an_error(page, server, size):
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    for name in PAGES:
        page.goto(f"{server.url}/dashboard/{name}", timeout=600_000)
        assert page.locator("h1").first.inner_text().strip()
        assert page.locator("nav[aria-label=Pages] a[aria-current=page]").count() == 1
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=size == "desktop")
        if name == "journey":  # the map and the blueprint load as images
            for img in page.locator("figure img").all():
                assert img.evaluate("i => i.complete && i.naturalWidth > 0")
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_filter_applies_and_a_csv_exports(page, server):
    page.goto(f"{server.url}/dashboard/scorecard")
    page.select_option("select[name=period]", "quarter")
    page.click("form.filters button")
    page.wait_for_url("**period=quarter**")
    assert "Q" in page.locator("table td").first.inner_text()  # quarters, not months
    with page.expect_download() as got:
        page.click("p.exports a >> nth=0")
    path = got.value.path()
    text = Path(path).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("period,period_start,metric,value")
    assert "Q" in text.splitlines()[1].split(",")[0]
    page.goto(f"{server.url}/dashboard/voice")
    page.fill("input[name=contains]", "late")
    page.click("form.filters button")
    page.wait_for_url("**contains=late**")
    assert page.locator("table").count() >= 1
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_report_opens_offline_in_the_browser(browser, demo_folder, tmp_path):
    with Workspace.open(demo_folder, read_only=True) as ws:
        (tmp_path / "report.html").write_text(render_report(ws), encoding="utf-8")
    ctx = browser.new_context(offline=True)  # nothing can be fetched
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("requestfailed", lambda r: problems.append(r.url))
    pg.goto((tmp_path / "report.html").as_uri())
    assert pg.locator("section#summary .card").count() == 3
    assert pg.locator("svg").count() >= 12
    pg.set_viewport_size({"width": 1100, "height": 1500})
    pg.screenshot(path=str(SHOTS / "report.png"))
    ctx.close()
    assert problems == []
