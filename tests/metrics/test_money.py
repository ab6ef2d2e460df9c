"""Money metrics on tiny literal tables, checked by hand."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.metrics import money

D = dt.date

# a: Jan 1 - Mar 1, Feb 1 - open, May 1 - open -> one spell from Jan 1 (never lost)
# b: Jan 15 - Feb 10 -> active on Feb 1 only, lost in February
# c: Feb 1 - Apr 15 -> active Feb 1, Mar 1, Apr 1, lost in April
# d: Jan 1 - Feb 1, then Mar 1 - Apr 1 (gap in February) -> lost in Jan, back in Mar, lost in Mar
CONTRACTS = pd.DataFrame(
    {
        "contract_id": list("1234567"),
        "customer_id": ["a", "a", "a", "b", "c", "d", "d"],
        "start_date": [
            D(2025, 1, 1),
            D(2025, 2, 1),
            D(2025, 5, 1),
            D(2025, 1, 15),
            D(2025, 2, 1),
            D(2025, 1, 1),
            D(2025, 3, 1),
        ],
        "end_date": [
            D(2025, 3, 1),
            None,
            None,
            D(2025, 2, 10),
            D(2025, 4, 15),
            D(2025, 2, 1),
            D(2025, 4, 1),
        ],
        "value": [1.0, 2, 3, 4, 5, 6, 7],
    }
)
JAN, JUN = money.index_of(D(2025, 1, 1), "month"), money.index_of(D(2025, 6, 1), "month")


def _active():
    flows = money.coverage_flows(
        ibis.memtable(CONTRACTS), period="month", first=JAN, last=JUN
    ).execute()
    return money.flows_to_active(flows, first=JAN, last=JUN).set_index("k")


def test_active_and_lost_by_hand():
    a = _active()
    #                 Jan Feb Mar Apr May Jun
    assert a["active"].tolist() == [2, 3, 3, 2, 1, 1]
    assert a["lost"].tolist() == [1, 1, 1, 1, 0, 0]


def test_churn_rate_from_counts():
    a = _active()
    r = money.churn_from_counts(a["lost"], a["active"])
    assert r["churn"].tolist() == pytest.approx([1 / 2, 1 / 3, 1 / 3, 1 / 2, 0, 0])


def test_churn_with_nobody_active_is_nan_not_an_error():
    r = money.churn_from_counts([0], [0])
    assert np.isnan(r["churn"][0]) and np.isnan(r["ci_low"][0])


def test_islands_merge_overlapping_and_touching_contracts():
    isl = money.coverage_islands(ibis.memtable(CONTRACTS)).execute()
    assert sorted(isl.groupby("customer_id").size().items()) == [
        ("a", 1),
        ("b", 1),
        ("c", 1),
        ("d", 2),
    ]


@pytest.mark.parametrize(
    ("value", "churn", "expected"), [(100.0, 0.05, 2000.0), (30.0, 1.0, 30.0), (10.0, 0.0, np.nan)]
)
def test_simple_clv(value, churn, expected):
    assert money.simple_clv(value, churn) == pytest.approx(expected, nan_ok=True)


def test_retention_clv_hand_calculation():
    # m = 100, r = 0.8, i = 0.1: 100 * 0.8 / 0.3 = 266.67
    assert money.retention_clv(100.0, 0.8, 0.1) == pytest.approx(800 / 3)


def test_clv_rejects_rates_outside_0_1():
    with pytest.raises(CxroiError, match="churn"):
        money.simple_clv(10.0, 5.0)


def test_period_discount_rate():
    assert (1 + money.period_discount_rate(0.1, "month")) ** 12 == pytest.approx(1.1)


@pytest.mark.parametrize(
    ("day", "period", "label", "start"),
    [
        (D(2025, 1, 31), "month", "2025-01", D(2025, 1, 1)),
        (D(2025, 5, 2), "quarter", "2025-Q2", D(2025, 4, 1)),
        (D(2025, 1, 8), "week", "2025-W02", D(2025, 1, 6)),
    ],
)
def test_period_labels_and_engine_index_agree(day, period, label, start):
    k = money.index_of(day, period)
    assert money.period_label(k, period) == label
    assert money.period_start(k, period) == start
    assert money.parse_period(label, period) == k
    t = ibis.memtable(pd.DataFrame({"d": [day]}))
    assert t.select(k=money.period_index(t.d, period)).execute()["k"].iloc[0] == k


def test_unknown_period():
    with pytest.raises(CxroiError, match="period"):
        money.index_of(D(2025, 1, 1), "decade")


def test_retention_cohorts_by_hand():
    cust = pd.DataFrame(
        {"customer_id": list("abcd"), "signup_date": [None, None, D(2025, 2, 1), D(2024, 12, 20)]}
    )
    r = money.retention_cohorts(ibis.memtable(CONTRACTS), ibis.memtable(cust))
    r = r.set_index(["cohort", "age"])
    # Cohort 2025-01: a, b (first contract in January). Feb 1: a, b; Mar 1: a.
    assert r.loc[("2025-01", 1), "retained"] == 2
    assert r.loc[("2025-01", 2), "retained"] == 1
    assert r.loc[("2025-01", 2), "rate"] == pytest.approx(0.5)
    # Cohort 2025-02: c. Active Mar 1, Apr 1; gone May 1.
    assert r.loc[("2025-02", 2), "retained"] == 1
    assert r.loc[("2025-02", 3), "retained"] == 0
    # Cohort 2024-12: d (signup date). Jan 1 active, Feb 1 not, Mar 1 back.
    assert [r.loc[("2024-12", k), "retained"] for k in (1, 2, 3, 4)] == [1, 0, 1, 0]


@pytest.mark.parametrize(("value", "period"), [("2025-13", "month"), ("soon", "quarter")])
def test_bad_period_labels(value, period):
    with pytest.raises(CxroiError, match="is not a period; use YYYY"):
        money.parse_period(value, period)


@pytest.mark.parametrize(
    ("value", "period", "edge", "expected"),
    [
        # The one grammar (cxroi.window.period_span): a span's first or last day, as an index.
        ("2025-Q2", "month", "start", D(2025, 4, 1)),
        ("2025-Q2", "month", "end", D(2025, 6, 1)),
        ("2025", "quarter", "end", D(2025, 10, 1)),
        ("2025-02..2025-03-10", "month", "end", D(2025, 3, 1)),
        ("2025-02..2025-03-10", "week", "end", D(2025, 3, 10)),  # Monday of ISO week 11
        ("2025-01-15", "month", "start", D(2025, 1, 1)),
        (D(2025, 5, 2), "quarter", "end", D(2025, 4, 1)),
    ],
)
def test_parse_period_reads_the_one_grammar(value, period, edge, expected):
    k = money.parse_period(value, period, edge=edge)
    assert money.period_start(k, period) == expected


def test_parse_period_one_period_only():
    assert money.parse_period("2025-02-14", "month", edge="one") == money.index_of(
        D(2025, 2, 1), "month"
    )
    with pytest.raises(CxroiError, match="spans 3 months"):
        money.parse_period("2025-Q1", "month", edge="one", name="compare")


@pytest.mark.parametrize(
    ("period", "per_year"), [("quarter", 4), ("week", 365.25 / 7), ("day", 365.25)]
)
def test_period_discount_rate_compounds_to_the_annual_rate(period, per_year):
    assert (1 + money.period_discount_rate(0.1, period)) ** per_year == pytest.approx(1.1)


def test_churn_from_exposure_by_hand():
    from cxroi.metrics.money import churn_from_exposure

    # 10 churns over 100 customer-years: hazard 0.1, churn 1 - e^-0.1, se e^-0.1 * sqrt(10) / 100
    churn, se = churn_from_exposure(np.array([10.0, 0.0]), np.array([100.0, 50.0]))
    assert churn[0] == pytest.approx(1 - math.exp(-0.1))
    assert se[0] == pytest.approx(math.exp(-0.1) * math.sqrt(10) / 100)
    assert (churn[1], se[1]) == (0.0, 0.0)
    assert np.isnan(churn_from_exposure(1, 0.0)[0])
