"""Tests of contract churn: KM, Cox, time-varying periods, retention CLV (cxroi.models.survival)."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError, SmallSampleWarning
from cxroi.models.survival import (
    ChurnCox,
    churn_frame,
    churn_periods,
    kaplan_meier,
    retention_clv,
)


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
    assert km.survival.tolist() == pytest.approx([1.0, 0.75, 0.375])
    # Greenwood variance 1/(4*3) on the log(-log S) scale at S = 3/4 (the lifelines default)
    s = 0.75
    se = math.sqrt(1 / 12) / abs(math.log(s))
    z = 1.959964
    assert km.lower_95.iloc[1] == pytest.approx(s ** math.exp(z * se), rel=1e-4)
    assert km.upper_95.iloc[1] == pytest.approx(s ** math.exp(-z * se), rel=1e-4)
    assert km.n.iloc[0] == 4 and km.churned.iloc[0] == 2 and not km.small_n.any()


def test_kaplan_meier_delayed_entry():
    # The customer entering at 2.5 is not at risk at 1: S(1) = 2/3, then 2 at risk at 3.
    f = _frame([1.0, 4.0, 3.0, 5.0], [True, False, True, False], entry=[0.0, 0.0, 2.5, 0.0])
    km = kaplan_meier(f, times=(1.5, 3.5), min_n=1)
    assert km.survival.tolist() == pytest.approx([2 / 3, 2 / 3 * 2 / 3])


def test_retention_clv_hand_calculation():
    f = _frame([10.0, 20.0, 30.0], [True, False, False], monthly_value=[10.0, 20.0, 30.0])
    out = retention_clv(f, annual_discount_rate=0.10, min_n=1).iloc[0]
    lam = 1 / 60
    r = math.exp(-lam)
    i = 1.1 ** (1 / 12) - 1
    assert out.monthly_churn == pytest.approx(lam)
    assert out.clv == pytest.approx(20.0 * r / (1 + i - r))
    assert out.clv_lower_95 < out.clv < out.clv_upper_95
    # exact Poisson interval for 1 event in 60 months: [0.0253, 5.572] / 60
    assert out.churn_lower_95 == pytest.approx(0.025318 / 60, rel=1e-4)
    assert out.churn_upper_95 == pytest.approx(5.571643 / 60, rel=1e-4)


def test_retention_clv_flags_small_segments():
    f = _frame([10.0, 20.0], [True, False], monthly_value=[10.0, 20.0], plan=["a", "b"])
    with pytest.warns(SmallSampleWarning, match="fewer than 30"):
        out = retention_clv(f, by="plan")
    assert out.small_n.all()


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


def test_churn_periods_split_on_answers_and_slow_months():
    frame = pd.DataFrame(
        {
            "customer_id": ["a"],
            "start": [dt.date(2024, 1, 1)],
            "entry": [0.0],
            "duration": [120.0],
            "churned": [True],
            "plan": ["basic"],
        }
    )
    nps = pd.DataFrame({"customer_id": ["a"], "ts": pd.to_datetime(["2024-01-11"]), "nps": [9]})
    slow = pd.DataFrame({"customer_id": ["a"], "opened_at": pd.to_datetime(["2024-02-15"])})
    p = churn_periods(frame, nps=nps, slow_tickets=slow, time_unit="day")
    # breaks at the answer (day 10) and the slow window, March = days 60..91
    assert p.t_start.tolist() == [0.0, 10.0, 60.0, 91.0]
    assert p.t_stop.tolist() == [10.0, 60.0, 91.0, 120.0]
    assert p.nps_group.isna().tolist() == [True, False, False, False]
    assert p.slow_response.tolist() == [False, False, True, False]
    assert p.churned.tolist() == [False, False, False, True]
    assert (p.plan == "basic").all()


def test_cox_needs_events():
    f = _frame([1.0, 2.0], [False, False], g=["x", "y"])
    with pytest.raises(CxroiError, match="no churn events"):
        ChurnCox(["g"]).fit(f)


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
    assert hr.lower_95 < 2.0 < hr.upper_95
    assert model.n_ == n


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
    r = t["responses"]
    answers = r.filter(r.survey == "relationship", r.nps.notnull())
    answers = answers.select("customer_id", "ts", "nps").execute()
    k = t["tickets"]
    hours = k.first_response_at.delta(k.opened_at, unit="second") / 3600
    slow = k.filter(hours > truth["slow_response_threshold_hours"])
    slow = slow.select("customer_id", "opened_at").execute()
    archetypes = company.archetypes.to_pandas()[["customer_id", "archetype"]]
    frame = frame.merge(archetypes, on="customer_id")
    periods = churn_periods(frame, nps=answers, slow_tickets=slow)
    model = ChurnCox(
        ["nps_group", "slow_response"], reference={"nps_group": "promoter"}, strata=["archetype"]
    ).fit(periods)
    hr = model.summary
    expected = {
        "nps_group=passive": truth["nps_group_hazard_ratio"]["passive"],
        "nps_group=detractor": truth["nps_group_hazard_ratio"]["detractor"],
        "slow_response": truth["slow_response_hazard_ratio"],
    }
    for term, value in expected.items():
        row = hr.loc[term]
        se = (math.log(row.upper_95) - math.log(row.lower_95)) / (2 * 1.959964)
        # NPS groups are read from the latest survey answer (carried forward), a noisy
        # measure of the simulator's monthly group, so the estimate is slightly attenuated.
        assert abs(math.log(row.hazard_ratio) - math.log(value)) < 3 * se, term


def test_cox_needs_a_varying_covariate():
    f = _frame([1.0, 2.0, 3.0], [True, False, True], g=["x", "x", "x"])
    with pytest.raises(CxroiError, match="no covariate varies"):
        ChurnCox(["g"]).fit(f)
