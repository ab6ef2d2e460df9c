from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.ledger import ledger_frame
from cxroi.text.impact import comment_frame, emerging_themes, parse_period, theme_impact


@pytest.fixture(scope="module")
def table(sim_ws):
    return theme_impact(sim_ws, refit=True)


def _nps(s: pd.Series) -> float:
    return 100 * ((s >= 9).mean() - (s <= 6).mean())


def test_impact_table_matches_pandas_recomputation(sim_ws, table):
    frame, assignment, _ = comment_frame(sim_ws)
    m = pd.DataFrame(assignment.confidence > 0, columns=assignment.names)
    led = ledger_frame(sim_ws).set_index("customer_id")
    for _, row in table.iterrows():
        w = m[row["theme"]].to_numpy()
        assert row["n"] == w.sum()
        assert row["share"] == pytest.approx(w.mean())
        assert row["sentiment"] == pytest.approx(frame.loc[w, "sentiment"].mean())
        assert row["nps_with"] == pytest.approx(_nps(frame.loc[w, "nps"].dropna()))
        assert row["nps_without"] == pytest.approx(_nps(frame.loc[~w, "nps"].dropna()))
        assert row["nps_with_low"] < row["nps_with"] < row["nps_with_high"]
        cust = frame.assign(w=w).groupby("customer_id")["w"].max()
        lw, lo = led.loc[cust.index[cust]], led.loc[cust.index[~cust]]
        churn_w = 1 - np.exp(-lw["churned"].sum() / lw["exposure_years"].sum())
        churn_o = 1 - np.exp(-lo["churned"].sum() / lo["exposure_years"].sum())
        spend_w = lw["spend"].sum() / lw["exposure_years"].sum()
        assert row["churn_with"] == pytest.approx(churn_w)
        assert row["churn_without"] == pytest.approx(churn_o)
        assert row["revenue_at_risk"] == pytest.approx((churn_w - churn_o) * len(lw) * spend_w)
        assert row["revenue_at_risk_low"] <= row["revenue_at_risk"] <= row["revenue_at_risk_high"]


def test_impact_is_the_joint_regression_coefficient(sim_ws, table):
    frame, assignment, _ = comment_frame(sim_ws)
    ok = frame["nps"].notna().to_numpy()
    x = np.column_stack([np.ones(ok.sum()), (assignment.confidence[ok] > 0).astype(float)])
    nps = frame.loc[ok, "nps"].to_numpy()
    y = 100.0 * ((nps >= 9).astype(float) - (nps <= 6).astype(float))
    beta = np.linalg.lstsq(x, y, rcond=None)[0][1:]
    got = table.set_index("theme").loc[assignment.names, "impact"].to_numpy()
    np.testing.assert_allclose(got, beta, rtol=1e-6, atol=1e-8)


def test_model_is_persisted_and_reused(sim_ws, table):
    assert (sim_ws.path / "models" / "themes.json").exists()
    again = theme_impact(sim_ws)
    pd.testing.assert_frame_equal(again[["theme", "n"]], table[["theme", "n"]])


def test_by_and_period(sim_ws, table):
    by = theme_impact(sim_ws, by="plan")
    assert set(by["plan"]) == set(ledger_frame(sim_ws)["plan"].dropna())
    q = theme_impact(sim_ws, period="2024-Q2")
    assert q["n"].sum() < table["n"].sum()
    assert (q["n"] > 0).all()


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024", "2024-01-01", "2025-01-01"),
        ("2024-03", "2024-03-01", "2024-04-01"),
        ("2024-Q2", "2024-04-01", "2024-07-01"),
        ("2024-01-05..2024-01-10", "2024-01-05", "2024-01-11"),
    ],
)
def test_parse_period(text, start, end):
    assert parse_period(text) == (pd.Timestamp(start), pd.Timestamp(end))


def test_bad_period_is_a_clear_error():
    with pytest.raises(CxroiError, match="not understood"):
        parse_period("last tuesday")


def test_emerging_themes_flag_only_significant_rises(sim_ws):
    out = emerging_themes(sim_ws)
    assert out["period"].nunique() == 1
    assert (out["p_adjusted"] >= out["p_value"] - 1e-12).all()
    assert (out.loc[out["emerging"], "change"] > 0).all()
    assert not (out["emerging"] & (out["p_adjusted"] >= 0.05)).any()


def test_a_planted_rise_is_found_and_only_it(company, tmp_path):
    """Copy 400 true app-usability comments into one extra month: that theme alone emerges."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cxroi.store import Workspace

    truth = company.comment_themes.to_pandas()
    app_ids = truth.loc[truth["theme"] == "app_usability", "response_id"]
    single = truth.groupby("response_id")["theme"].nunique()
    app_only = [r for r in app_ids.unique() if single[r] == 1][:400]
    responses = company.tables["responses"]
    picked = responses.filter(pc.is_in(responses["response_id"], pa.array(app_only)))
    surge = picked.to_pandas()
    surge["response_id"] = "SURGE" + surge["response_id"]
    surge["ts"] = pd.Timestamp("2025-01-15 12:00")
    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest("customers", company.tables["customers"])
        ws.ingest("responses", responses)
        ws.ingest("responses", surge)
        out = emerging_themes(ws, refit=True).set_index("theme")
    assert out["period"].iloc[0] == "2025-01"
    emerging = out.index[out["emerging"]].tolist()
    assert len(emerging) == 1
    assert "app" in out.loc[emerging[0], "label"]


def test_negative_and_positive_mentions_by_hand(sim_ws, table):
    frame, assignment, _ = comment_frame(sim_ws)
    m = assignment.confidence > 0
    none = ~m
    for j, name in enumerate(assignment.names):
        row = table.set_index("theme").loc[name]
        neg = m[:, j] & assignment.negative[:, j]
        pos = m[:, j] & ~assignment.negative[:, j]
        assert row["n_negative"] == neg.sum()
        assert row["nps_negative"] == pytest.approx(_nps(frame.loc[neg, "nps"].dropna()))
        base = _nps(frame.loc[none[:, j], "nps"].dropna())
        assert row["nps_gap_negative"] == pytest.approx(_nps(frame.loc[neg, "nps"].dropna()) - base)
        assert row["nps_gap_positive"] == pytest.approx(_nps(frame.loc[pos, "nps"].dropna()) - base)
        assert row["nps_gap_negative_low"] < row["nps_gap_negative"] < row["nps_gap_negative_high"]


def _matched_truth(company, frame, assignment):
    """True theme -> (discovered column, rows where both agree), one to one by best F1."""
    from scipy.optimize import linear_sum_assignment

    truth = company.comment_themes.to_pandas()
    names = sorted(truth["theme"].unique())
    row = {r: i for i, r in enumerate(frame["response_id"])}
    y = np.zeros((len(frame), len(names)), bool)
    y_neg = np.zeros_like(y)
    ii = [row[x] for x in truth["response_id"]]
    jj = [names.index(t) for t in truth["theme"]]
    y[ii, jj] = True
    y_neg[ii, jj] = (truth["polarity"] == "negative").to_numpy()
    got = assignment.confidence > 0
    tp = y.T.astype(int) @ got.astype(int)
    f1 = 2 * tp / (y.sum(0)[:, None] + got.sum(0)[None, :])
    rows, cols = linear_sum_assignment(-f1)
    return {
        names[i]: (j, y[:, i] & got[:, j], y_neg[:, i]) for i, j in zip(rows, cols, strict=True)
    }


def test_polarity_of_mentions_and_negative_gaps_recover_the_truth(sim_ws, company, table):
    # Measured on this company (4k customers, seed 5): polarity right for 0.75 (app) to 0.99
    # (delivery) of the mentions, 0.91 overall; the negative-mention NPS gap covers the truth
    # for 5 of 6 themes (support_wait: -28.7 [-36.3, -21.0] vs -42.7); at 8k customers, seeds
    # 11 and 3, also 5 of 6 (support_wait misses; staff and app polarity is weakest, 0.70-0.83,
    # because their comments barely move NPS, so a score-trained model learns little of them).
    frame, assignment, _ = comment_frame(sim_ws)
    effects = company.truth["theme_effects_on_nps"]
    by_theme = table.set_index("theme")
    right = total = covered = 0
    for true, (j, both, truly_negative) in _matched_truth(company, frame, assignment).items():
        right += (assignment.negative[both, j] == truly_negative[both]).sum()
        total += both.sum()
        row = by_theme.loc[assignment.names[j]]
        gap = effects[true]["nps_gap_negative_vs_no_mention"]
        covered += row["nps_gap_negative_low"] <= gap <= row["nps_gap_negative_high"]
        assert row["nps_gap_negative_high"] < 0 < row["nps_gap_positive_low"], true
    assert right / total >= 0.9
    assert covered >= 5
