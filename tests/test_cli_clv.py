"""The ``cxroi clv`` and ``cxroi churn`` commands on a small simulated company."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxroi.cli import app
from cxroi.store import Workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def company_ws(tmp_path_factory):
    from cxroi.simulate import generate

    company = generate(customers=3000, months=24, seed=2)
    path = tmp_path_factory.mktemp("clv") / "ws"
    with Workspace.init(path) as ws:
        for table in ("customers", "transactions", "contracts", "responses", "tickets"):
            ws.ingest(table, company.tables[table])
    return path, company


def test_clv_json(company_ws):
    path, company = company_ws
    args = ["clv", "-w", str(path), "--calibration-end", "2025-06-30"]
    res = runner.invoke(app, [*args, "--holdout-end", "2025-12-31", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"params", "spend_params", "holdout", "segments"} <= set(out)
    assert set(out["params"]) == {"r", "alpha", "a", "b"}
    assert set(out["spend_params"]) == {"p", "q", "v"}
    # Independent count of holdout purchase days of customers who bought by the calibration end.
    tx = company.tables["transactions"].to_pandas()
    tx["day"] = tx.ts.dt.date
    first = tx.groupby("customer_id").day.min()
    known = first[first <= pd.Timestamp("2025-06-30").date()].index
    hold = tx[(tx.day > pd.Timestamp("2025-06-30").date()) & tx.customer_id.isin(known)]
    assert out["holdout"]["actual"] == hold[["customer_id", "day"]].drop_duplicates().shape[0]
    assert out["holdout"]["predicted"] == pytest.approx(out["holdout"]["actual"], rel=0.15)
    seg = pd.DataFrame(out["segments"])
    assert set(seg.segment) == {"basic", "standard", "premium"}
    assert seg.n.sum() == len(known)
    assert ((seg.lower_95 < seg.mean_clv) & (seg.mean_clv < seg.upper_95)).all()


def test_clv_table_and_csv(company_ws):
    path, _ = company_ws
    args = ["clv", "-w", str(path), "--calibration-end", "2025-06-30", "--time-unit", "month"]
    res = runner.invoke(app, args, terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "CLV by plan" in res.output and "Gamma-Gamma" in res.output
    res = runner.invoke(app, [*args, "--format", "csv", "--by", "region"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].startswith("segment,n,mean_clv,lower_95,upper_95")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--time-unit", "year"], "time_unit must be one of"),
        (["--by", "nope"], "is not a column of customers"),
        (["--holdout-end", "2025-01-01"], "must be after calibration_end"),
    ],
)
def test_clv_bad_options_are_one_clean_line(company_ws, extra, message):
    path, _ = company_ws
    res = runner.invoke(app, ["clv", "-w", str(path), "--calibration-end", "2025-06-30", *extra])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_churn_json(company_ws):
    path, _ = company_ws
    res = runner.invoke(app, ["churn", "-w", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"survival", "hazard_ratios", "segments"} <= set(out)
    terms = {row["term"] for row in out["hazard_ratios"]}
    assert {"nps_group=detractor", "nps_group=passive", "slow_response"} <= terms
    detractor = next(r for r in out["hazard_ratios"] if r["term"] == "nps_group=detractor")
    assert detractor["lower_95"] > 1  # detractors churn more (simulator truth: 2.8x)
    assert out["observed_from"] == "2024-01-01"
