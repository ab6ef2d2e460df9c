"""Levers (cxroi.models.levers): a company with a known mechanism and the simulator's truth."""

from __future__ import annotations

import numpy as np
import pytest

from cxroi.errors import CxroiError
from cxroi.models.levers import aipw, lever_effects
from tests.models._workspaces import delivery_company, simulated_workspace, tiny_workspace


@pytest.fixture()
def tiny(tmp_path):
    return tiny_workspace(tmp_path / "ws")


def test_lever_errors(tiny):
    with pytest.raises(CxroiError, match="unknown outcome 'revenue'"):
        lever_effects(tiny.tables, outcome="revenue")
    with pytest.raises(CxroiError, match="unknown measure 'speed'"):
        lever_effects(tiny.tables, "speed", outcome="spend")
    with pytest.raises(CxroiError, match=r"too few churn events \(1\)"):
        lever_effects(tiny.tables, outcome="churn", threshold=24)


def test_lever_measure_without_values_is_named(tiny):
    with pytest.raises(CxroiError, match=r"measure 'resolution_hours': no tickets with a value"):
        lever_effects(tiny.tables, "resolution_hours", outcome="spend")


def test_aipw_recovers_a_confounded_effect():
    # treatment more likely at high x, outcome y = 2 t + 3 x + noise: the true effect is 2,
    # while the raw difference in means is inflated by x
    rng = np.random.default_rng(5)
    n = 20_000
    x = rng.normal(size=(n, 1))
    t = (rng.random(n) < 1 / (1 + np.exp(-1.5 * x[:, 0]))).astype(float)
    y = 2 * t + 3 * x[:, 0] + rng.normal(size=n)
    est, se = aipw(y, t, x)
    assert abs(est - 2) < 3 * se and se < 0.1
    assert y[t == 1].mean() - y[t == 0].mean() > 3
    with pytest.raises(CxroiError, match="same side of the threshold"):
        aipw(y, np.ones(n), x)


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    return delivery_company(tmp_path_factory.mktemp("deliveries") / "ws", 12_000, seed=4)


def test_event_measure_lever_recovers_late_delivery_hazard_ratio(deliveries):
    out = lever_effects(
        deliveries.tables, "events.delay_days", outcome="churn", threshold=3, confounders=["plan"]
    )
    row = out.iloc[0]
    # true monthly churn probability doubles; on a monthly grid the hazard ratio is
    # log(1 - .04) / log(1 - .02) = 2.02 (premium: 2.01)
    assert row["ci_low"] <= 2.0 <= row["ci_high"]
    assert row["ci_high"] / row["ci_low"] < 1.6  # informative, not a wide shrug
    assert row["reading"].startswith("An event with delay days over 3 is associated with")
    assert "having a event" not in row["reading"]
    assert row["adjusted_for"] == "having an event, NPS group so far, event rate, plan"


def test_event_measure_lever_recovers_spend_gap_adjusted_for_plan(deliveries):
    # Slow-route customers spend 10 less a month: 120 less a year. The plan confounds it
    # (premium spends 30 more a month and is more often on a slow route), so the raw gap is
    # smaller in size; adjusted for plan both estimators should cover -120.
    t = deliveries.tables
    out = lever_effects(t, "delay_days", outcome="spend", threshold=3, confounders=["plan"])
    assert list(out["method"]) == ["regression adjustment", "doubly robust (AIPW)"]
    for row in out.itertuples():
        assert row.ci_low <= -120 <= row.ci_high, row
        assert row.ci_high - row.ci_low < 20
    raw = lever_effects(t, "delay_days", outcome="spend", threshold=3, confounders=())
    assert raw["estimate"].iloc[0] > -100


def test_lever_measure_must_be_a_numeric_ticket_or_event_column(deliveries):
    t = deliveries.tables
    with pytest.raises(CxroiError, match=r"unknown measure 'events.touchpoint'; choose .*delay"):
        lever_effects(t, "events.touchpoint", outcome="spend")
    with pytest.raises(CxroiError, match=r"the table must be tickets or events"):
        lever_effects(t, "orders.delay_days", outcome="spend")
    with pytest.raises(CxroiError, match=r"delay_days is the same in every month after a "
                       r"measured event \(all on one side of 100\)"):  # fmt: skip
        lever_effects(t, "delay_days", outcome="churn", threshold=100)


# ---------------------------------------------------------------- simulator ground truth


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return simulated_workspace(tmp_path_factory.mktemp("sim") / "ws", customers=4000, seed=1)


def test_slow_response_hazard_ratio_covers_truth(company):
    ws, truth = company
    res = lever_effects(
        ws.tables,
        outcome="churn",
        threshold=truth["slow_response_threshold_hours"],
        survey="relationship",
    ).iloc[0]
    assert res["ci_low"] <= truth["slow_response_hazard_ratio"] <= res["ci_high"]
    assert res["estimate"] > 1
    assert "times as high the next month" in res["reading"]
