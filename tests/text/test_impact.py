"""Theme impact and emerging themes on small literal frames, checked by hand.

The same quantities on a whole simulated company, against its ground truth, are tested
through the analyses layer in ``tests/analyses/test_themes.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.results import ESTIMATE_COLUMNS, SMALL_N
from cxroi.text.impact import emerging_table, impact_table, score_comments
from cxroi.text.theme_model import ThemeAssignment
from cxroi.window import period_span

# 8 commented responses of 4 customers; theme a in rows 0, 2, 4, 6 and theme b in rows 1, 2
NPS = [10, 9, 3, 8, 2, 10, 6, 7]
CUSTOMERS = ["c1", "c2", "c1", "c2", "c3", "c4", "c3", "c4"]
A = np.array([1, 0, 1, 0, 1, 0, 1, 0], bool)
B = np.array([0, 1, 1, 0, 0, 0, 0, 0], bool)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(8)],
            "customer_id": CUSTOMERS,
            "nps": NPS,
            "sentiment": [0.5, 0.1, -0.8, 0.2, -0.6, 0.9, -0.1, 0.3],
            "plan": ["x", "x", "x", "x", "y", "y", "y", "y"],
        }
    )


@pytest.fixture
def assignment() -> ThemeAssignment:
    conf = np.column_stack([A * 0.9, B * 0.6]).astype(np.float32)
    return ThemeAssignment(["a", "b"], ["label a", "label b"], conf)


@pytest.fixture
def ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "churned": [1, 0, 0, 1, 1],
            "exposure_years": [2.0, 1.0, 2.0, 1.0, 1.0],
            "spend": [100.0, 50.0, 300.0, 20.0, 10.0],
        }
    )


def test_impact_table_by_hand(frame, assignment, ledger):
    out = impact_table(frame, assignment, ledger, min_n=3).set_index("theme")
    a = out.loc["a"]
    assert a["n"] == 4 and a["share"] == 0.5
    assert a["sentiment"] == pytest.approx((0.5 - 0.8 - 0.6 - 0.1) / 4)
    # with a: 10, 3, 2, 6 -> 1 promoter, 3 detractors; without: 9, 8, 10, 7 -> 2 promoters
    assert a["nps_with"] == pytest.approx(-50.0)
    assert a["nps_without"] == pytest.approx(50.0)
    assert a["nps_gap"] == pytest.approx(-100.0)
    assert a["nps_gap_ci_low"] < a["nps_gap_ci_high"]
    # customers mentioning a: c1, c3 (1 churned in 4 years, spend 400); not: c2, c4 (1 in 2)
    churn_w, churn_o = 1 - math.exp(-1 / 4), 1 - math.exp(-1 / 2)
    assert a["customers_with"] == 2
    assert a["churn_with"] == pytest.approx(churn_w)
    assert a["churn_without"] == pytest.approx(churn_o)
    assert a["spend_with"] == pytest.approx(100.0)
    assert a["revenue_at_risk"] == pytest.approx((churn_w - churn_o) * 2 * 100.0)
    assert a["revenue_at_risk_ci_low"] < a["revenue_at_risk"] < a["revenue_at_risk_ci_high"]
    assert out.loc["b", "flag"] == SMALL_N and a["flag"] == ""


def test_impact_estimate_is_the_joint_regression_coefficient(frame, assignment):
    out = impact_table(frame, assignment).set_index("theme")
    nps = np.array(NPS)
    y = 100.0 * ((nps >= 9).astype(float) - (nps <= 6).astype(float))
    x = np.column_stack([np.ones(8), A, B]).astype(float)
    beta, res, *_ = np.linalg.lstsq(x, y, rcond=None)
    np.testing.assert_allclose(out.loc[["a", "b"], "estimate"], beta[1:], rtol=1e-9, atol=1e-8)
    se = np.sqrt(np.diag(np.linalg.inv(x.T @ x)) * res[0] / (8 - 3))[1:]
    np.testing.assert_allclose(
        out.loc[["a", "b"], "ci_high"], beta[1:] + 1.959964 * se, rtol=1e-6, atol=1e-8
    )
    assert (out["level"] == 0.95).all()


def test_impact_table_keeps_the_contract(frame, assignment, ledger):
    out = impact_table(frame, assignment, ledger, by="plan")
    assert list(out.columns[:9]) == ["plan", "theme", "label", "estimate", *ESTIMATE_COLUMNS]
    odd = [c for c in out.columns if c.endswith(("_low", "_high")) and not c.startswith("ci_")]
    assert not [c for c in odd if not c.endswith(("_ci_low", "_ci_high"))]
    assert set(out["plan"]) == {"x", "y"}
    # segment y has no mention of b: its row has no impact and says why
    yb = out[(out["plan"] == "y") & (out["theme"] == "b")].iloc[0]
    assert yb["n"] == 0 and "not-estimable" in yb["flag"]


def test_without_ledger_there_is_no_behaviour(frame, assignment):
    out = impact_table(frame, assignment, None)
    assert "revenue_at_risk" not in out and "churn_with" not in out
    assert list(out["estimate"]) == sorted(out["estimate"], reverse=True)


def test_misaligned_inputs_are_an_error(frame, assignment):
    with pytest.raises(CxroiError, match="differ in length"):
        impact_table(frame.iloc[:3], assignment)
    with pytest.raises(CxroiError, match="by 'zzz' is not a column"):
        impact_table(frame, assignment, by="zzz")


def _dated(ts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.to_datetime(ts)})


def test_emerging_table_by_hand():
    # 6 comments before March (a in 1), 4 in March (a in 3): share 1/6 -> 3/4
    ts = ["2024-01-03"] * 3 + ["2024-02-10"] * 3 + ["2024-03-01", "2024-03-05"] * 2
    a = np.array([1, 0, 0, 0, 0, 0, 1, 1, 1, 0], bool)
    conf = np.column_stack([a, ~a]).astype(np.float32)
    out, window = emerging_table(_dated(ts), ThemeAssignment(["a", "b"], ["a", "b"], conf))
    row = out.set_index("theme").loc["a"]
    assert row["estimate"] == pytest.approx(3 / 4 - 1 / 6)
    assert row["share_last"] == pytest.approx(3 / 4) and row["share_before"] == pytest.approx(1 / 6)
    assert row["n"] == 4 and row["n_before"] == 6 and row["mentions_last"] == 3
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert (out["p_adjusted"] >= out["p_value"] - 1e-12).all()
    assert not (out["emerging"] & ((out["estimate"] <= 0) | (out["p_adjusted"] >= 0.05))).any()
    assert window == {
        "period": "2024-03",
        "since": pd.Timestamp("2024-03-01").date(),
        "until": pd.Timestamp("2024-03-31").date(),
    }


@pytest.mark.parametrize(("period", "label"), [("quarter", "2024-Q2"), ("week", "2024-W15")])
def test_emerging_period_is_named_in_the_period_grammar(period, label):
    ts = ["2024-01-03", "2024-02-10", "2024-04-09", "2024-04-10"]
    conf = np.array([[1], [0], [1], [1]], np.float32)
    out, window = emerging_table(_dated(ts), ThemeAssignment(["a"], ["a"], conf), period=period)
    assert window["period"] == label
    start, end = period_span(label)
    assert start.date() == window["since"] and end > pd.Timestamp("2024-04-10")
    assert out["n"].iloc[0] == 2


@pytest.mark.parametrize(
    ("ts", "period", "match"),
    [
        (["2024-01-01", "2024-02-01"], "year", "period must be month, quarter, week"),
        (["2024-01-01", "2024-01-02"], "month", "all comments fall in one period"),
    ],
)
def test_emerging_errors(ts, period, match):
    conf = np.ones((len(ts), 1), np.float32)
    with pytest.raises(CxroiError, match=match):
        emerging_table(_dated(ts), ThemeAssignment(["a"], ["a"], conf), period=period)


def test_score_comments_sets_sentiment_and_negative_mentions(small_model):
    texts = ["The courier lost my parcel, awful.", "Great app, login is easy.", None]
    frame = pd.DataFrame({"response_id": ["a", "b", "c"], "nps": [2, 10, 8], "comment": texts})
    out, assignment, sent = score_comments(frame, small_model)
    assert "comment" not in out and list(out["response_id"]) == ["a", "b", "c"]
    assert sent.model == "lexicon"  # three scored comments are too few to train on
    assert out["sentiment"].iloc[0] < 0 < out["sentiment"].iloc[1]
    assert np.isnan(out["sentiment"].iloc[2])
    mentioned = assignment.confidence > 0
    np.testing.assert_array_equal(assignment.negative, mentioned & [[True], [False], [False]])
