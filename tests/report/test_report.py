"""``cxroi report``: every section, the numbers equal to the library's, nothing fetched from
the network, a PDF from headless Chromium, and sections that lack data saying so."""

from __future__ import annotations

import html
import re
import shutil

import pytest
from typer.testing import CliRunner

from cxroi import analyses
from cxroi.cli import app
from cxroi.report.html import (
    REPORT_PAGES,
    SECTION_TITLES,
    find_chromium,
    render_report,
    write_report,
)
from cxroi.store import Workspace
from cxroi.views import build, headline

runner = CliRunner()


@pytest.fixture(scope="module")
def report(demo_folder):
    with Workspace.open(demo_folder, read_only=True) as ws:
        return render_report(ws)


def test_every_section_is_there_with_charts_and_readings(report):
    assert "What our customer experience is worth" in report
    for page in REPORT_PAGES:
        assert f'<section id="{page}">' in report
        assert html.escape(SECTION_TITLES[page]) in report
    assert 'id="methods"' in report and "How the numbers were made" in report
    assert report.count("<svg") >= 12  # the charts, inline
    assert report.count("<title>") > 100  # every mark carries its values for hover


def test_nothing_is_fetched_from_the_network(report):
    # no script at all, no external reference: only in-page anchors and data the CSP allows
    assert "<script" not in report.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#)""", report)
    assert not re.search(r"url\((?!#)", report)
    assert "default-src 'none'" in report  # and the page's own CSP forbids loading anything
    # the only http(s) strings are the SVG namespaces
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", report))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls


def test_the_headline_numbers_are_the_librarys(demo_folder, report):
    with Workspace.open(demo_folder, read_only=True) as ws:
        value = analyses.value(ws, survey="relationship").table("value")
        opp = analyses.opportunities(ws).table("opportunities")
        heads = headline({p: build(ws, p) for p in ("drivers", "voice", "opportunities")}, "USD")
    move = value[(value["nps_group"] == "passive->promoter") & (value["metric"] == "clv")].iloc[0]
    first = opp.sort_values("rank").iloc[0]
    labels = {h.label: h for h in heads}
    h = labels["Moving one passive to promoter"]
    assert (h.estimate, h.ci_low, h.ci_high) == (move["value"], move["ci_low"], move["ci_high"])
    assert f"{move['value']:,.0f}" in report and f"{move['ci_low']:,.0f}" in report
    at_stake = next(v for k, v in labels.items() if k.startswith("At stake"))
    assert (at_stake.estimate, at_stake.ci_low) == (first["estimate"], first["ci_low"])
    assert f"{first['estimate']:,.0f}" in report


def test_every_reading_of_the_driver_analysis_is_in_the_report(demo_folder, report):
    with Workspace.open(demo_folder, read_only=True) as ws:
        d = analyses.drivers(ws, survey="relationship", dropna=True)
    for line in d.readings[:3]:
        assert html.escape(line) in report, re.findall(r"rating_\w+ accounts[^<]*", report)


def test_a_workspace_without_data_says_so_in_every_section(tmp_path):
    with Workspace.init(tmp_path / "empty") as ws:
        text = render_report(ws)
    assert text.count('class="missing"') >= 6
    assert "this part lacks data" in text and "Traceback" not in text


def test_data_from_customers_is_escaped(tmp_path):
    import pandas as pd

    with Workspace.init(tmp_path / "x") as ws:
        ws.ingest(
            "customers",
            pd.DataFrame({"customer_id": ["c1", "c2"], "plan": ["<script>alert(1)</script>", "b"]}),
        )
        ws.ingest(
            "responses",
            pd.DataFrame(
                {
                    "response_id": ["r1", "r2"],
                    "customer_id": ["c1", "c2"],
                    "ts": pd.to_datetime(["2025-01-02", "2025-02-03"]),
                    "nps": [3, 9],
                    "comment": ["<img src=x onerror=alert(1)>", "ok"],
                }
            ),
        )
        text = render_report(ws)
    assert "<script>alert" not in text and "<img src=x" not in text


def test_the_command_writes_html_and_a_pdf(demo_folder, tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (make demo and make test install it)")
    out, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    r = runner.invoke(app, ["report", "--out", str(out), "--pdf", str(pdf), "-w", str(demo_folder)])
    assert r.exit_code == 0, r.output
    assert f"written: {out}" in r.output and f"written: {pdf}" in r.output
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    if shutil.which("pdfinfo"):
        import subprocess

        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        assert "595.28 x 841.89" in info  # A4, in points
        assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 5


def test_after_the_report_the_dashboard_pages_open_without_computing(
    demo_folder, tmp_path, monkeypatch
):
    from cxroi.api.page_cache import PageCache
    from cxroi.report.figures import PICTURES, figures
    from cxroi.views import PAGES

    folder = tmp_path / "ws"  # without the pages other tests' services drew
    shutil.copytree(demo_folder, folder, ignore=shutil.ignore_patterns("service.*", "pages"))
    # the command passes its default period; the dashboard's first request passes none
    with Workspace.open(folder, read_only=True) as ws:
        write_report(ws, tmp_path / "r.html", period="month")

    def computed(*args, **kwargs):
        raise AssertionError("the page computed its scorecard again")

    monkeypatch.setattr(analyses, "scorecard", computed)
    monkeypatch.setattr(analyses, "alerts", computed)
    with Workspace.open(folder, read_only=True) as ws:
        for page in ("overview", "scorecard"):
            v = build(ws, page)
            assert "scorecard" in v.results and not v.missing, (page, v.missing)

    # nor draws: every page but the live one is served as the report left it, with the
    # charts the dashboard itself would draw (the journey pictures are images of their own)
    pc = PageCache(folder)
    monkeypatch.setattr(pc, "_compute", lambda *a: pytest.fail(f"page {a[0]} drawn again"))
    with Workspace.open(folder, read_only=True) as ws:
        for page in set(PAGES) - {"cases"}:
            got = pc.get(page, {})
            assert not got.stale, page
            own = figures(build(ws, page), ws, pictures=False)
            assert [f.title for f in got.figures] == [f.title for f in own], page
            assert not set(PICTURES.values()) & {f.title for f in got.figures}
    # another period is another page
    with pytest.raises(pytest.fail.Exception, match="page overview drawn again"):
        pc.get("overview", {"period": "quarter"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "r.txt"], "error: --out r.txt: give a .html file"),
        (["--out", "r.html", "--pdf", "r.png"], "error: --pdf r.png: give a .pdf file"),
        (["--out", "nowhere/r.html"], "error: --out nowhere/r.html: folder nowhere does not exist"),
        (
            ["--out", "r.html", "--pdf", "no/r.pdf"],
            "error: --pdf no/r.pdf: folder no does not exist",
        ),
    ],
)
def test_bad_output_paths_are_one_line(demo_folder, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["report", *args, "-w", str(demo_folder)])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1].startswith(message), r.output
    assert not list(tmp_path.iterdir())  # nothing written
