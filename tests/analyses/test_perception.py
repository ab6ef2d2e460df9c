"""``cxroi.analyses.perception.value``: both tables, the result contract, adjusted effects."""

from __future__ import annotations

import pandas as pd
import pytest

from cxroi.analyses.perception import value
from cxroi.results import Result
from tests.models._workspaces import simulated_workspace, tiny_workspace


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return simulated_workspace(tmp_path_factory.mktemp("sim") / "ws", customers=4000, seed=3)


@pytest.fixture(scope="module")
def result(company) -> Result:
    ws, _ = company
    return value(ws, survey="relationship", n_boot=100)


def test_value_has_both_tables_and_keeps_the_contract(result):
    assert result.analysis == "value"
    assert result.names == ["value", "effects"]
    assert result.problems() == []
    v = result.table("value")
    assert {"nps_group", "metric", "value", "ci_low", "ci_high", "level", "n", "flag"} <= set(
        v.columns
    )
    rows = v.set_index(["nps_group", "metric"])
    # promoters churn less than detractors; moving a detractor to passive is worth money
    assert rows.loc[("promoter", "churn_rate"), "value"] < rows.loc[("detractor", "churn_rate"),
                                                                     "value"]  # fmt: skip
    assert rows.loc[("detractor->passive", "clv"), "ci_low"] > 0
    assert any(r.startswith("Moving one detractor to passive is worth") for r in result.readings)


def test_effects_are_always_there_with_interval_n_and_method(result, company):
    _, truth = company
    e = result.table("effects").set_index(["outcome", "nps_group"])
    assert len(e) == 4
    assert e["ci_low"].notna().all() and e["n"].gt(0).all() and e["method"].notna().all()
    assert (e["level"] == 0.95).all()
    # default confounders: those of plan, region and tenure_years the customers have
    assert result.adjustment == ["plan", "region", "tenure_years"]
    assert e.loc[("churn", "detractor"), "ci_low"] > 1  # truth 2.8
    assert e.loc[("spend", "detractor"), "ci_high"] < 1  # truth 0.75
    assert all(r.endswith("adjusted for plan, region, tenure_years.") for r in e["reading"])
    assert e["reading"].iloc[0] in result.readings


def test_json_round_trip_carries_the_hazard_ratios(result):
    back = Result.from_json(result.to_json())
    assert back.names == result.names and back.adjustment == result.adjustment
    pd.testing.assert_frame_equal(back.table("effects"), result.table("effects"),
                                  check_dtype=False)  # fmt: skip
    assert back.window == result.window and "as_of" in back.window


def test_unadjusted_and_by_segment(company):
    ws, _ = company
    res = value(ws, survey="relationship", adjust=[], by="plan", n_boot=20)
    assert res.problems() == [] and res.adjustment == []
    assert set(res.table("value")["plan"]) == {"basic", "standard", "premium"}
    assert all(r.endswith("adjusted for nothing.") for r in res.table("effects")["reading"])


def test_effects_that_cannot_be_estimated_say_why(tmp_path):
    ws = tiny_workspace(tmp_path / "ws")
    res = value(ws, adjust=[], n_boot=20)
    assert res.problems() == []
    churn = res.table("effects").query("outcome == 'churn'")
    assert len(churn) == 2 and churn["estimate"].isna().all()
    assert churn["flag"].str.contains("not-estimable").all()
    assert any("too few churn events" in w for w in res.warnings)
