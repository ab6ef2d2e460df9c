"""The ``cxroi clv`` and ``cxroi churn`` commands on a small simulated company.

These run the CLI (``cxroi.cli``) and read its JSON back as a result (``tests/utils/cli.py``).
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxroi.store import Workspace
from tests.utils.cli import run_json

runner = CliRunner()


def _app():
    from cxroi.cli import app

    return app


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
    out = run_json([*args, "--holdout-end", "2025-12-31"])
    assert out.problems() == []
    assert {"params", "spend_params", "holdout", "segments"} <= set(out.names)
    assert out.table("params")["param"].tolist() == ["r", "alpha", "a", "b"]
    assert out.table("spend_params")["param"].tolist() == ["p", "q", "v"]
    assert {"estimate", "se", "ci_low", "ci_high", "level", "n"} <= set(out.table("params"))
    # Independent count of holdout purchase days of customers who bought by the calibration end.
    tx = company.tables["transactions"].to_pandas()
    tx["day"] = tx.ts.dt.date
    first = tx.groupby("customer_id").day.min()
    known = first[first <= pd.Timestamp("2025-06-30").date()].index
    hold = tx[(tx.day > pd.Timestamp("2025-06-30").date()) & tx.customer_id.isin(known)]
    total = out.table("holdout").set_index("frequency").loc["all"]
    assert total["actual"] == hold[["customer_id", "day"]].drop_duplicates().shape[0]
    assert total["estimate"] == pytest.approx(total["actual"], rel=0.15)
    assert out.params["holdout_actual"] == total["actual"]
    seg = out.table("segments")
    assert set(seg.segment) == {"basic", "standard", "premium"}
    assert seg.n.sum() == len(known)
    assert ((seg.ci_low < seg.estimate) & (seg.estimate < seg.ci_high)).all()
    assert (seg.level == 0.95).all()


def test_clv_table_and_csv(company_ws):
    path, _ = company_ws
    args = ["clv", "-w", str(path), "--calibration-end", "2025-06-30", "--time-unit", "month"]
    res = runner.invoke(_app(), args, terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "CLV by plan" in res.output and "Gamma-Gamma" in res.output
    res = runner.invoke(_app(), [*args, "--format", "csv", "--by", "region"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].startswith("segment,total_clv,estimate,ci_low,ci_high")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--time-unit", "year"], "--time-unit must be one of"),
        (["--by", "nope"], "--by 'nope' is not a column of customers"),
        (["--holdout-end", "2025-01-01"], "must be after --calibration-end"),
    ],
)
def test_clv_bad_options_are_one_clean_line(company_ws, extra, message):
    path, _ = company_ws
    res = runner.invoke(_app(), ["clv", "-w", str(path), "--calibration-end", "2025-06-30", *extra])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_churn_json(company_ws):
    # The churn analysis (cxroi.analyses.churn); table names as in its JSON before the result
    # contract: survival, hazard_ratios (one row per term) and segments.
    path, _ = company_ws
    out = run_json(["churn", "-w", str(path)])
    assert out.problems() == []
    assert {"survival", "hazard_ratios", "segments"} <= set(out.names)
    hr = out.table("hazard_ratios")
    terms = set(hr["term"])
    assert {"nps_group=detractor", "nps_group=passive", "slow_response"} <= terms
    detractor = hr[hr["term"] == "nps_group=detractor"].iloc[0]
    assert detractor["ci_low"] > 1  # detractors churn more (simulator truth: 2.8x)
    assert out.window["observed_from"] == "2024-01-01"
