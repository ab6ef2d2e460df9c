"""The point-in-time customer profile, by hand on the two-customer workspace."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from cxroi.models.profile import DAYS_PER_MONTH, customer_clv, customer_profile, margin_per_month
from tests.models._workspaces import tiny_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return tiny_workspace(tmp_path_factory.mktemp("profile") / "ws")


def _profile(ws, day: str, **kw) -> pd.DataFrame:
    return customer_profile(ws.tables, as_of=day, **kw).to_pandas().set_index("customer_id")


def test_profile_at_year_end_by_hand(ws):
    p = _profile(ws, "2024-12-31")
    a, b = p.loc["a"], p.loc["b"]
    # a: open contract of 100 a month since 2023-06-01; purchases 10 + 30; NPS 5 then 9
    assert bool(a["active"]) and pd.isna(a["churn_date"])
    assert a["tenure_months"] == pytest.approx((dt.date(2024, 12, 31) - dt.date(2023, 6, 1)).days
                                               / DAYS_PER_MONTH)  # fmt: skip
    assert a["contract_value"] == 100.0 and a["monthly_value"] == 100.0
    assert a["purchases"] == 2 and a["spend"] == 40.0 and a["avg_transaction"] == 20.0
    assert a["recency_days"] == 0.0
    assert a["nps_last"] == 9 and a["nps_group"] == "promoter" and a["nps_answers"] == 2
    assert a["tickets"] == 2 and a["support_cost"] == 10.0
    # b: contract of 200 ended 2024-07-01, so churned then; its last value stays known
    assert not bool(b["active"]) and pd.Timestamp(b["churn_date"]) == pd.Timestamp("2024-07-01")
    assert b["contract_value"] == 0.0 and b["monthly_value"] == 200.0
    assert b["nps_last"] == 3 and b["nps_group"] == "detractor"
    assert b["recency_days"] == (dt.date(2024, 12, 31) - dt.date(2024, 4, 1)).days


def test_nothing_after_as_of_enters(ws):
    p = _profile(ws, "2024-04-15", recent_days=60, slow_response_hours=12)
    a, b = p.loc["a"], p.loc["b"]
    assert a["purchases"] == 1 and a["spend"] == 10.0  # the 2024-12-31 purchase is later
    assert a["nps_last"] == 5 and a["nps_answers"] == 1  # the 9 came on 2024-06-01
    assert a["tickets"] == 1 and a["slow_recent"] == 0  # answered in 2 h
    assert bool(b["active"]) and b["contract_value"] == 200.0  # still open on 2024-04-15
    assert b["tickets_recent"] == 1 and b["slow_recent"] == 1  # answered in 24 h > 12 h
    # a customer who had not started yet is not in the profile
    assert list(_profile(ws, "2024-01-15").index) == ["a"]


def test_margin_and_clv_by_hand(ws):
    p = _profile(ws, "2024-12-31").reset_index()
    m = margin_per_month(p)
    months = p["tenure_months"].to_numpy()
    expected = p["monthly_value"] + p["spend"] / months - p["support_cost"] / months
    np.testing.assert_allclose(m, expected.to_numpy())
    i = 1.10 ** (1 / 12) - 1
    clv = customer_clv(np.array([50.0]), np.array([0.02]), 0.10)
    assert clv[0] == pytest.approx(50 * 0.98 / (1 + i - 0.98))
