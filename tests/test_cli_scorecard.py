"""`cxroi scorecard` and `cxroi alerts`: one library call, formatted; errors in one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cxroi.cli import app
from tests.test_scorecard import _tables


@pytest.fixture
def loaded(ws):
    for name, df in _tables().items():
        ws.ingest(name, df)
    return ws


def test_scorecard_json(loaded):
    r = CliRunner().invoke(
        app, ["scorecard", "--workspace", str(loaded.path), "--until", "2025-02", "--by",
              "region", "--metric", "churn_rate", "--format", "json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    north = [x for x in rows if x["region"] == "n" and x["period"] == "2025-02"]
    assert north[0]["metric"] == "churn_rate" and north[0]["value"] == pytest.approx(50.0)


def test_scorecard_table_shows_the_benchmark(loaded):
    r = CliRunner().invoke(
        app,
        ["scorecard", "-w", str(loaded.path), "--until", "2025-01", "-m", "nps"],
        env={"COLUMNS": "200"},
    )
    assert r.exit_code == 0, r.output
    assert "below average" in r.output and "leaders 50 to 80" in r.output


def test_scorecard_bad_group_is_one_clean_line(loaded):
    r = CliRunner().invoke(app, ["scorecard", "-w", str(loaded.path), "--by", "shoe_size"])
    assert r.exit_code == 2
    assert r.output.strip().startswith("error: scorecard: no table has column")
    assert "Traceback" not in r.output


def test_alerts_csv(loaded):
    r = CliRunner().invoke(app, ["alerts", "-w", str(loaded.path), "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("period,metric,rule,value")
