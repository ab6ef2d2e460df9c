"""`cxroi scorecard`, `cxroi alerts` and `cxroi cohorts`: one analyses call, rendered; errors
in one line.

These run the CLI (``cxroi.cli``) and read its JSON back as a result (``tests/utils/cli.py``).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.metrics.test_scorecard import _tables
from tests.utils.cli import rows, run_json


@pytest.fixture
def loaded(ws):
    for name, df in _tables().items():
        ws.ingest(name, df)
    return ws


def _app():
    from cxroi.cli import app

    return app


def test_scorecard_json(loaded):
    out = rows(
        ["scorecard", "--workspace", str(loaded.path), "--until", "2025-02", "--by", "region",
         "--metric", "churn_rate"],
    )  # fmt: skip
    north = [x for x in out if x["region"] == "n" and x["period"] == "2025-02"]
    assert north[0]["metric"] == "churn_rate" and north[0]["value"] == pytest.approx(50.0)
    assert north[0]["level"] == 0.95 and north[0]["n"] == 2
    assert {"ci_low", "ci_high", "flag", "unit"} <= set(north[0])


def test_scorecard_json_carries_the_benchmark_note(loaded):
    r = run_json(["scorecard", "-w", str(loaded.path), "--until", "2025-01", "-m", "nps"])
    assert r.params["benchmark_note"] == "NPS benchmarks: leaders 50 to 80, average 5 to 10"
    assert r.problems() == []


def test_scorecard_table_shows_the_benchmark(loaded):
    r = CliRunner().invoke(
        _app(),
        ["scorecard", "-w", str(loaded.path), "--until", "2025-01", "-m", "nps"],
        env={"COLUMNS": "200"},
    )
    assert r.exit_code == 0, r.output
    assert "below average" in r.output and "leaders 50 to 80" in r.output


def test_scorecard_bad_group_is_one_clean_line(loaded):
    r = CliRunner().invoke(_app(), ["scorecard", "-w", str(loaded.path), "--by", "shoe_size"])
    assert r.exit_code == 2
    assert r.output.strip().startswith("error: scorecard: no table has column")
    assert "--by" in r.output and "Traceback" not in r.output


def test_scorecard_bad_period_names_the_flag(loaded):
    r = CliRunner().invoke(_app(), ["scorecard", "-w", str(loaded.path), "--until", "2025-13"])
    assert r.exit_code == 2
    assert "--until '2025-13' is not a period" in r.output and "Traceback" not in r.output


def test_alerts_csv(loaded):
    r = CliRunner().invoke(_app(), ["alerts", "-w", str(loaded.path), "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("period,metric,rule,value")


def test_alerts_json(loaded):
    r = run_json(["alerts", "-w", str(loaded.path)])
    assert r.names == ["alerts"] and r.problems() == []
    assert r.params["min_n"] == loaded.settings.min_n


def test_cohorts_json(loaded):
    out = rows(["cohorts", "-w", str(loaded.path)])
    # Cohort 2025-01 (a, b): both active on Feb 1; a alone on Mar 1 (b ended Feb 10).
    jan = {x["age"]: x for x in out if x["cohort"] == "2025-01"}
    assert jan[1]["retained"] == 2 and jan[2]["estimate"] == pytest.approx(0.5)
    assert jan[2]["n"] == 2 and jan[2]["flag"] == "small-n"
