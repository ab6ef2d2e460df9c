"""Tests of contract churn: KM, Cox, the customer-month panel, retention CLV (models.survival)."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError, NotFittedError, SmallSampleWarning
from cxroi.models.panel import customer_months, monthly_measure, monthly_nps
from cxroi.models.survival import ChurnCox, churn_frame, kaplan_meier, retention_clv


def _frame(durations, churned, entry=None, **cols):
    n = len(durations)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "entry": entry if entry is not None else [0.0] * n,
            "duration": durations,
            "churned": churned,
            **cols,
        }
    )


def test_kaplan_meier_hand_calculation():
    # 4 at risk; churn at 1 (S = 3/4), censored at 2, churn at 3 with 2 at risk (S = 3/8).
    f = _frame([1.0, 2.0, 3.0, 4.0], [True, False, True, False])
    km = kaplan_meier(f, times=(0.5, 1.5, 3.5), min_n=3)
    assert km.estimate.tolist() == pytest.approx([1.0, 0.75, 0.375])
    # Greenwood variance 1/(4*3) on the log(-log S) scale at S = 3/4 (the lifelines default)
    s = 0.75
    se = math.sqrt(1 / 12) / abs(math.log(s))
    z = 1.959964
    assert km.ci_low.iloc[1] == pytest.approx(s ** math.exp(z * se), rel=1e-4)
    assert km.ci_high.iloc[1] == pytest.approx(s ** math.exp(-z * se), rel=1e-4)
    assert km.n.iloc[0] == 4 and km.churned.iloc[0] == 2 and (km.flag == "").all()
    assert (km.level == 0.95).all()


def test_kaplan_meier_delayed_entry():
    # The customer entering at 2.5 is not at risk at 1: S(1) = 2/3, then 2 at risk at 3.
    f = _frame([1.0, 4.0, 3.0, 5.0], [True, False, True, False], entry=[0.0, 0.0, 2.5, 0.0])
    km = kaplan_meier(f, times=(1.5, 3.5), min_n=1)
    assert km.estimate.tolist() == pytest.approx([2 / 3, 2 / 3 * 2 / 3])


def test_retention_clv_hand_calculation():
    f = _frame([10.0, 20.0, 30.0], [True, False, False], monthly_value=[10.0, 20.0, 30.0])
    out = retention_clv(f, annual_discount_rate=0.10, min_n=1).iloc[0]
    lam = 1 / 60
    r = math.exp(-lam)
    i = 1.1 ** (1 / 12) - 1
    assert out.monthly_churn == pytest.approx(lam)
    assert out.estimate == pytest.approx(20.0 * r / (1 + i - r))
    assert out.ci_low < out.estimate < out.ci_high
    # exact Poisson interval for 1 event in 60 months: [0.0253, 5.572] / 60
    assert out.churn_ci_low == pytest.approx(0.025318 / 60, rel=1e-4)
    assert out.churn_ci_high == pytest.approx(5.571643 / 60, rel=1e-4)
    assert out.level == 0.95 and out.flag == ""


def test_retention_clv_flags_small_segments():
    f = _frame([10.0, 20.0], [True, False], monthly_value=[10.0, 20.0], plan=["a", "b"])
    with pytest.warns(SmallSampleWarning, match="fewer than 30"):
        out = retention_clv(f, by="plan")
    assert (out.flag == "small-n").all()


@pytest.fixture
def con():
    return ibis.duckdb.connect()


def test_churn_frame_hand_calculation(con):
    contracts = pd.DataFrame(
        {
            "contract_id": ["k1", "k2", "k3", "k4"],
            "customer_id": ["a", "a", "b", "c"],
            "start_date": [
                dt.date(2023, 6, 1),
                dt.date(2024, 3, 1),
                dt.date(2024, 2, 1),
                dt.date(2024, 1, 1),
            ],
            "value": [30.0, 90.0, 120.0, 10.0],
            "end_date": [None, None, dt.date(2024, 8, 1), dt.date(2025, 1, 1)],
            "plan": ["basic", "addon", "premium", "basic"],
            "billing_period": ["month", "quarter", "year", "once"],
        }
    )
    responses = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "ts": pd.to_datetime(["2024-02-01", "2024-05-01", "2024-04-01"]),
            "nps": [10, 5, 8],
            "survey": ["rel", "rel", "rel"],
        }
    )
    tickets = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "opened_at": pd.to_datetime(["2024-04-01 08:00", "2024-04-01 08:00"]),
            "first_response_at": pd.to_datetime(["2024-04-02 09:00", "2024-04-01 09:00"]),
        }
    )
    f = (
        churn_frame(
            con.create_table("k", contracts),
            as_of="2024-12-31",
            responses=con.create_table("r", responses),
            tickets=con.create_table("t", tickets),
            observed_from="2024-01-01",
            time_unit="day",
        )
        .execute()
        .set_index("customer_id")
    )
    # c started 2024-01-01 but its contract ends after as_of: active; "once" value counts 0.
    assert list(f.index) == ["a", "b", "c"]
    a, b, c = f.loc["a"], f.loc["b"], f.loc["c"]
    assert not a.churned and a.entry == (dt.date(2024, 1, 1) - dt.date(2023, 6, 1)).days
    assert a.duration == (dt.date(2024, 12, 31) - dt.date(2023, 6, 1)).days
    assert a.monthly_value == pytest.approx(30.0 + 90.0 / 3)
    assert a.nps == 5 and a.nps_group == "detractor" and a.slow_response and a.tickets == 1
    assert b.churned and b.duration == (dt.date(2024, 8, 1) - dt.date(2024, 2, 1)).days
    assert b.monthly_value == pytest.approx(10.0) and b.nps_group == "passive"
    assert not b.slow_response
    assert not c.churned and c.monthly_value == 0.0 and pd.isna(c.nps_group)
    # first and last day at risk, for the customer-month panel
    day = pd.Timestamp
    assert a.entry_date == day("2024-01-01") and a.exit_date == day("2024-12-31")
    assert b.entry_date == day("2024-02-01") and b.exit_date == day("2024-08-01")


def test_contract_months_carry_the_answer_and_the_slow_month(con):
    # One customer, 2024-01-01 .. 2024-04-30 (churned): a promoter answer on 2024-01-11 and a
    # slow ticket (30 h) on 2024-02-15, so March is the month after a slow first response.
    contracts = pd.DataFrame(
        {
            "contract_id": ["k1"],
            "customer_id": ["a"],
            "start_date": [dt.date(2024, 1, 1)],
            "value": [10.0],
            "end_date": [dt.date(2024, 4, 30)],
            "billing_period": ["month"],
        }
    )
    responses = pd.DataFrame(
        {"customer_id": ["a"], "ts": pd.to_datetime(["2024-01-11"]), "nps": [9]}
    )
    tickets = pd.DataFrame(
        {
            "customer_id": ["a"],
            "opened_at": pd.to_datetime(["2024-02-15 08:00"]),
            "first_response_at": pd.to_datetime(["2024-02-16 14:00"]),
        }
    )
    frame = churn_frame(con.create_table("k", contracts), as_of="2024-12-31").execute()
    t = con.create_table("t", tickets)
    hours = (t.first_response_at.epoch_seconds() - t.opened_at.epoch_seconds()) / 3600
    p = customer_months(
        frame,
        entry="entry_date",
        exit="exit_date",
        nps=monthly_nps(con.create_table("r", responses)),
        measure=monthly_measure(t.select("customer_id", _t=t.opened_at, _x=hours)),
    )
    assert p.start.tolist() == [0.0, 1.0, 2.0, 3.0] and p.stop.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert [str(m) for m in p.period] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert p.nps_group.tolist() == ["promoter"] * 4
    assert (p.measure_prev > 24).tolist() == [False, False, True, False]
    assert p.measure_prev.iloc[2] == pytest.approx(30.0)
    assert p.churned.tolist() == [0, 0, 0, 1]


def test_cox_needs_events():
    f = _frame([1.0, 2.0], [False, False], g=["x", "y"])
    with pytest.raises(CxroiError, match="no churn events"):
        ChurnCox(["g"]).fit(f)
    f = _frame([1.0, 2.0, 3.0], [True, False, True], g=["x", "y", "x"])
    with pytest.raises(CxroiError, match=r"too few churn events \(2\) for a Cox model"):
        ChurnCox(["g"], min_events=10).fit(f)
    with pytest.raises(NotFittedError, match="ChurnCox is not fitted"):
        _ = ChurnCox(["g"]).summary


def test_cox_rejects_unknown_reference():
    f = _frame([1.0, 2.0, 3.0], [True, False, True], g=["x", "y", "x"])
    with pytest.raises(CxroiError, match="reference level 'z'"):
        ChurnCox(["g"], reference={"g": "z"}).fit(f)


def test_empty_frame_is_an_error():
    with pytest.raises(CxroiError, match="no contract customers"):
        kaplan_meier(_frame([], []))


def test_cox_recovers_exponential_hazard_ratio():
    # Independent of the simulator: exponential lifetimes with a known hazard ratio of 2.
    rng = np.random.default_rng(11)
    n = 4000
    g = rng.random(n) < 0.5
    life = rng.exponential(1 / np.where(g, 0.04, 0.02))
    f = _frame(np.minimum(life, 36.0), life < 36.0, g=np.where(g, "high", "low"))
    model = ChurnCox(["g"], reference={"g": "low"}).fit(f)
    hr = model.summary.loc["g=high"]
    assert hr.ci_low < 2.0 < hr.ci_high
    assert model.n_ == n and hr.n == int(g.sum())
    assert model.params_["g=high"] == pytest.approx(math.log(hr.estimate))
    # a wider level widens the interval around the same estimate
    wide = ChurnCox(["g"], reference={"g": "low"}, level=0.99).fit(f).summary.loc["g=high"]
    assert wide.estimate == pytest.approx(hr.estimate)
    assert wide.ci_low < hr.ci_low and wide.ci_high > hr.ci_high


# -- ground truth of the simulator ---------------------------------------------------------------
@pytest.fixture(scope="module")
def company():
    from cxroi.simulate import generate

    return generate(customers=20_000, months=24, seed=3)


def test_recovers_simulated_churn_hazard_ratios(company):
    truth = company.truth
    con = ibis.duckdb.connect()
    t = {k: con.create_table(k, v) for k, v in company.tables.items()}
    frame = churn_frame(
        t["contracts"], as_of="2025-12-31", customers=t["customers"], observed_from="2024-01-01"
    ).execute()
    k = t["tickets"]
    hours = (k.first_response_at.epoch_seconds() - k.opened_at.epoch_seconds()) / 3600
    panel = customer_months(
        frame,
        entry="entry_date",
        exit="exit_date",
        nps=monthly_nps(t["responses"], survey="relationship"),
        measure=monthly_measure(k.select("customer_id", _t=k.opened_at, _x=hours)),
    )
    panel["slow_response"] = panel.measure_prev > truth["slow_response_threshold_hours"]
    archetypes = company.archetypes.to_pandas()[["customer_id", "archetype"]]
    panel = panel.merge(archetypes, on="customer_id")
    model = ChurnCox(
        ["nps_group", "slow_response"], reference={"nps_group": "promoter"}, strata=["archetype"]
    ).fit(panel)
    hr = model.summary
    expected = {
        "nps_group=passive": truth["nps_group_hazard_ratio"]["passive"],
        "nps_group=detractor": truth["nps_group_hazard_ratio"]["detractor"],
        "slow_response": truth["slow_response_hazard_ratio"],
    }
    for term, value in expected.items():
        row = hr.loc[term]
        se = (math.log(row.ci_high) - math.log(row.ci_low)) / (2 * 1.959964)
        # NPS groups are read from the latest survey answer (carried forward), a noisy
        # measure of the simulator's monthly group, so the estimate is slightly attenuated.
        assert abs(math.log(row.estimate) - math.log(value)) < 3 * se, term
    assert model.n_ == panel.loc[panel.nps_group.notna(), "customer_id"].nunique()


def test_cox_needs_a_varying_covariate():
    f = _frame([1.0, 2.0, 3.0], [True, False, True], g=["x", "x", "x"])
    with pytest.raises(CxroiError, match="no covariate varies"):
        ChurnCox(["g"]).fit(f)
