"""``cxroi demo``: generate, ingest, analyse and write the report, end to end."""

from __future__ import annotations

import html
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cxroi.analyses import lever
from cxroi.cli import app
from cxroi.demo import DEMO_DATA
from cxroi.report import markdown_table
from cxroi.schema import TABLES
from cxroi.store import Workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "ws"
    args = ["demo", "-w", str(path), "--customers", "1500", "--seed", "2", "--format", "json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return path, res


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n\n", 1)[1].split("\n## ", 1)[0]


def _rows(table: str) -> list[list[str]]:
    lines = [line for line in table.strip().splitlines() if line.startswith("|")]
    return [[html.unescape(c.strip()) for c in line.strip("|").split("|")] for line in lines[2:]]


def test_demo_ingests_every_generated_row(demo):
    path, _ = demo
    with Workspace.open(path) as ws:
        counts = ws.counts()
    for name in TABLES:
        assert counts[name] == pq.read_metadata(path / DEMO_DATA / f"{name}.parquet").num_rows


def test_demo_writes_scorecard_and_report(demo):
    path, res = demo
    card = pd.read_csv(path / "reports" / "scorecard.csv")
    assert card["period"].nunique() == 1
    report = (path / "reports" / "report.md").read_text()
    for title in (
        "Scorecard, last month",
        "What drives NPS (relationship survey, relative weights)",
        "What perception is worth",
        "What a slow first response does",
        "What customers talk about",
        "Who to act for",
        "Check against the simulator's ground truth",
    ):
        assert f"\n## {title}\n" in report, title
    # the planted niche's rank is read from the opportunities table the section shows
    who = _section(report, "Who to act for")
    truth = json.loads((path / DEMO_DATA / "ground_truth.json").read_text())
    niche = truth["planted_opportunity"]
    ranks = {(r[1], r[2]): r[0] for r in _rows(who)}
    if (niche["column"], niche["value"]) in ranks:
        assert f"ranked #{ranks[(niche['column'], niche['value'])]}." in who
    assert "report written to" in res.output
    # the scorecard in the report is the saved one
    rows = _rows(_section(report, "Scorecard, last month"))
    assert [r[1] for r in rows] == list(card["metric"])


def test_report_truth_check_is_computed_from_the_truth_file(demo):
    path, _ = demo
    truth = json.loads((path / DEMO_DATA / "ground_truth.json").read_text())
    report = (path / "reports" / "report.md").read_text()
    checks = {
        r[0]: r[1:] for r in _rows(_section(report, "Check against the simulator's ground truth"))
    }
    for driver, share in truth["driver_shares"]["shares"].items():
        estimate, true, covered = checks[f"share of NPS variance, {driver}"]
        assert true == f"{share:.3g}"
        lo, hi = (float(x) for x in estimate.split("[")[1].rstrip("]").split(","))
        assert covered == ("yes" if lo <= share <= hi else "no")
    with Workspace.open(path) as ws:
        hr = lever(ws, threshold=24, survey="relationship").table("lever").iloc[0]
    estimate, true, _ = checks["churn hazard ratio after a first response > 24 h"]
    assert estimate == f"{hr.estimate:.3g} [{hr.ci_low:.3g}, {hr.ci_high:.3g}]"
    assert true == "1.5"


def test_markdown_table_by_hand():
    frame = pd.DataFrame({"name": ["a|b", "<c>"], "x": [1234.5, 0.012345], "n": [3, 40]})
    assert markdown_table(frame) == (
        "| name | x | n |\n|---|---:|---:|\n| a&#124;b | 1,234 | 3 |\n| &lt;c&gt; | 0.0123 | 40 |"
    )


@pytest.fixture(scope="module")
def data_only(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "ws"
    args = ["demo", "-w", str(path), "--customers", "400", "--months", "6", "--seed", "3"]
    res = runner.invoke(app, [*args, "--data-only"])
    assert res.exit_code == 0, res.output
    return path, res, args


def test_data_only_ingests_every_generated_row_and_prints_them(data_only):
    path, res, _ = data_only
    with Workspace.open(path) as ws:
        counts = ws.counts()
    shown = {}
    for line in res.stdout.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 2 and cells[0] in TABLES:
            shown[cells[0]] = int(cells[1].replace(",", ""))
    for name in TABLES:
        rows = pq.read_metadata(path / DEMO_DATA / f"{name}.parquet").num_rows
        assert counts[name] == rows == shown[name], name
    assert counts["customers"] == 400


def test_data_only_writes_no_scorecard_and_no_report(data_only):
    path, res, _ = data_only
    assert not (path / "reports" / "report.md").exists()
    assert not (path / "reports" / "scorecard.csv").exists()
    assert "scorecard" not in res.output and "report written" not in res.output


def test_data_only_json_has_no_scorecard_and_replaces_an_earlier_report(data_only):
    path, _, args = data_only
    stale = path / "reports" / "report.md"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text("an earlier demo company's report\n")
    res = runner.invoke(app, [*args, "--data-only", "--format", "json"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert run["scorecard"] is None and run["report"] is None
    rows = {r["table"]: r["rows"] for r in run["ingested"]["tables"][0]["rows"]}
    assert rows["customers"] == 400
    assert not stale.exists()  # it described the company just replaced


def test_a_company_too_large_for_memory_is_one_line_exit_2_and_writes_nothing(tmp_path):
    path = tmp_path / "ws"
    res = runner.invoke(app, ["demo", "-w", str(path), "--customers", "100000000"])
    assert res.exit_code == 2
    lines = res.output.splitlines()
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: --customers 100,000,000 over 24 months needs about ")
    assert "GiB of memory to simulate" in lines[0] and "enough for about" in lines[0]
    assert "Traceback" not in res.output
    assert not path.exists() and list(tmp_path.iterdir()) == []
