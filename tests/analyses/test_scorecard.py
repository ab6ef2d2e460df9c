"""cxroi.analyses.scorecard: the scorecard, alerts and cohorts of a workspace, as results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.analyses.scorecard import alerts, cohorts, scorecard
from cxroi.errors import CxroiError
from cxroi.results import Result
from tests.metrics.test_money import CONTRACTS
from tests.metrics.test_scorecard import _tables
from tests.monitor.test_alerts import _stable


@pytest.fixture
def loaded(ws):
    for name, df in _tables().items():
        ws.ingest(name, df)
    return ws


def _row(frame: pd.DataFrame, period: str, metric: str, **group) -> pd.Series:
    m = (frame["period"] == period) & (frame["metric"] == metric)
    for k, v in group.items():
        m &= frame[k] == v
    assert m.sum() == 1
    return frame[m].iloc[0]


def test_scorecard_result_keeps_the_contract(loaded):
    r = scorecard(loaded, by="region", until="2025-02")
    assert isinstance(r, Result) and r.problems() == []
    assert r.names == ["scorecard"]
    f = r.table("scorecard")
    assert {"value", "ci_low", "ci_high", "level", "n", "flag", "unit", "benchmark"} <= set(f)
    assert _row(f, "2025-02", "churn_rate", region="n")["value"] == pytest.approx(50.0)
    assert _row(f, "2025-02", "revenue", region="n")["unit"] == loaded.settings.currency
    assert r.window == {"since": "2025-01", "until": "2025-02", "period": "month"}
    assert "period_start" not in r.get("scorecard").view


def test_scorecard_carries_the_benchmark_note(loaded):
    r = scorecard(loaded, until="2025-01", metrics=["nps"])
    note = "NPS benchmarks: leaders 50 to 80, average 5 to 10"
    assert r.params["benchmark_note"] == note and note in r.title
    assert r.params["nps_benchmarks"] == {"leaders": [50.0, 80.0], "average": [5.0, 10.0]}
    assert _row(r.table(), "2025-01", "nps")["benchmark"] == "below average"
    # One promoter and one detractor: NPS 0 with its interval, read in words.
    assert r.readings and r.readings[0].startswith("NPS in 2025-01: 0.00 (95% interval")


def test_scorecard_min_n_defaults_to_the_workspace(loaded):
    assert loaded.settings.min_n == 30
    r = scorecard(loaded, until="2025-01", metrics=["nps"])
    assert _row(r.table(), "2025-01", "nps")["flag"] == "small-n"
    assert r.warnings and "fewer than 30" in r.warnings[0]
    r = scorecard(loaded, until="2025-01", metrics=["nps"], min_n=1)
    assert _row(r.table(), "2025-01", "nps")["flag"] == "" and not r.warnings


def test_scorecard_json_round_trips(loaded):
    r = scorecard(loaded, until="2025-02", compare="2025-01")
    back = Result.from_json(r.to_json())
    a, b = r.table(), back.table()
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    np.testing.assert_allclose(a["value"].to_numpy(float), b["value"].to_numpy(float))
    np.testing.assert_allclose(a["ci_high"].to_numpy(float), b["ci_high"].to_numpy(float))
    assert back.params["compare"] == "2025-01" and "Welch" in back.method


def test_scorecard_since_until_use_the_one_grammar(loaded):
    r = scorecard(loaded, since="2025-Q1", until="2025-Q1", metrics=["revenue"])
    assert r.table()["period"].tolist() == ["2025-01", "2025-02", "2025-03"]
    with pytest.raises(CxroiError, match="since '2025-99' is not a period"):
        scorecard(loaded, since="2025-99")


def test_alerts_result(ws):
    r = _stable()
    r.loc[r["ts"] >= "2025-12-01", "nps"] = 10  # everyone a promoter in the last month
    ws.ingest("responses", r)
    res = alerts(ws, metrics=["nps"], recent=1)
    assert res.problems() == [] and res.names == ["alerts"]
    a = res.table("alerts")
    assert {"outside-band", "change"} <= set(a["rule"])
    last = a.iloc[0]
    assert last["period"] == "2025-12" and last["ci_low"] <= last["value"] <= last["ci_high"]
    assert last["level"] == 0.95 and last["n"] == 400
    assert res.params["min_n"] == ws.settings.min_n and res.params["sigma"] == 3.0


def test_alerts_on_a_quiet_workspace_say_so(ws):
    ws.ingest("responses", _stable(months=12))
    res = alerts(ws, metrics=["nps"], recent=1)
    assert res.table().empty and res.problems() == []
    assert res.readings == ["No alerts: every watched metric stayed inside its band."]


def test_cohorts_result(ws):
    ws.ingest("contracts", CONTRACTS)
    ws.ingest(
        "customers",
        pd.DataFrame(
            {
                "customer_id": list("abcd"),
                "signup_date": [None, None, pd.Timestamp("2025-02-01"), pd.Timestamp("2024-12-20")],
            }
        ),
    )
    res = cohorts(ws)
    assert res.problems() == [] and res.names == ["cohorts"]
    f = res.table().set_index(["cohort", "age"])
    # Cohort 2025-01 (a, b): both active on Feb 1, one on Mar 1 (hand count, tests/metrics).
    assert f.loc[("2025-01", 1), "retained"] == 2 and f.loc[("2025-01", 2), "estimate"] == 0.5
    assert f.loc[("2025-01", 2), "n"] == 2 and f.loc[("2025-01", 2), "flag"] == "small-n"
    assert (f["ci_low"] <= f["estimate"]).all() and (f["estimate"] <= f["ci_high"]).all()
    assert res.title == "Retention by signup month"
