"""Closed-loop ROI on simulated companies whose follow-ups have a known effect on churn."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from cxroi import Workspace, analyses
from cxroi.errors import CxroiError
from cxroi.models.roi import followup_value
from cxroi.simulate import params as P


def _workspace(tmp_path_factory, seed: int, *, relabel: str | None = None):
    from cxroi.simulate import generate

    sim = generate(customers=5000, months=24, seed=seed)
    path = tmp_path_factory.mktemp(f"loop{seed}") / "ws"
    with Workspace.init(path) as ws:
        for name, table in sim.tables.items():
            if name == "cases" and relabel:
                held = pc.equal(table["status"], "held_out")
                status = pc.if_else(held, relabel, table["status"])
                table = table.set_column(table.schema.get_field_index("status"), "status", status)
            ws.ingest(name, table)
    return path, sim.truth


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    out = []
    for seed in (51, 52, 53):
        path, truth = _workspace(tmp_path_factory, seed)
        with Workspace.open(path, read_only=True) as ws:
            out.append((analyses.roi_closed_loop(ws, draws=500), truth, ws.settings.discount_rate))
    return out


def test_the_hazard_ratio_covers_the_simulated_follow_up_effect(loops):
    for r, truth, _ in loops:
        true_hr = truth["closed_loop"]["followed_vs_held_out_hazard_ratio"]
        assert true_hr == pytest.approx(1 / P.NOT_FOLLOWED_UP_HAZARD_RATIO)
        hr = r.table("effects").set_index("metric").loc["churn_hazard_ratio"]
        assert hr["ci_low"] <= true_hr <= hr["ci_high"], hr
        assert hr["estimate"] < 1
        assert r.problems() == []


def test_the_holdout_share_is_the_simulated_one(loops):
    for r, truth, _ in loops:
        n_f, n_h = r.params["followed_cases"], r.params["held_out_cases"]
        share = n_h / (n_f + n_h)
        assert abs(share - truth["closed_loop"]["holdout_share"]) < 3 * np.sqrt(
            0.2 * 0.8 / (n_f + n_h)
        )


def test_value_per_case_is_the_closed_form_of_its_inputs(loops):
    r, _, rate = loops[0]
    e = r.table("effects").set_index("metric")
    hr, p = e.loc["churn_hazard_ratio", "estimate"], r.params
    # by hand: margin x discounted survival gap; 6-month window then the same hazard
    h1, h0, m = p["churn_monthly_followed"], p["churn_monthly_followed"] / hr, p["margin_monthly"]
    i = (1 + rate) ** (1 / 12) - 1
    gap = sum(
        ((1 - h1) ** t - (1 - h0) ** min(t, 6) * (1 - h1) ** max(t - 6, 0)) / (1 + i) ** t
        for t in range(1, 37)
    )
    assert e.loc["value_per_case", "estimate"] == pytest.approx(m * gap, rel=1e-9)
    assert p["value_all_cases"] == pytest.approx(m * gap * p["followed_cases"], rel=1e-9)
    lo, hi = e.loc["value_per_case", ["ci_low", "ci_high"]]
    assert lo < m * gap < hi


def test_followup_value_is_zero_without_an_effect():
    v = followup_value(churn_monthly=0.03, hazard_ratio=np.array([1.0, 0.5]), margin_monthly=9.0,
                       window_months=3, horizon_months=12)  # fmt: skip
    assert v[0] == pytest.approx(0.0, abs=1e-12) and v[1] > 0


def test_no_holdout_no_answer(tmp_path_factory):
    path, _ = _workspace(tmp_path_factory, 54, relabel="closed")
    with Workspace.open(path, read_only=True) as ws:
        with pytest.raises(CxroiError, match="no case is held out"):
            analyses.roi_closed_loop(ws)
        with pytest.raises(CxroiError, match="window_months must be at least 1"):
            analyses.roi_closed_loop(ws, window_months=0)
