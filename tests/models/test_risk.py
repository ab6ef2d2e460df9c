"""Churn risk model: an unpenalised statsmodels fit, brute-force AUC and DeLong, hand-made
contributions and reasons, clear errors."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from cxroi.errors import CxroiError, NotFittedError
from cxroi.models.risk import ChurnRisk, TooFewChurnersError, independent_columns
from cxroi.models.risk_reasons import risk_reasons
from cxroi.models.risk_validation import auc_delong, calibration_deciles


def _company(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Customers with a known logistic churn model: log(1 + slow) +0.8, plan pro -0.7,
    no NPS answer +0.5, NPS -0.15 per point (centred at 7)."""
    rng = np.random.default_rng(seed)
    slow = rng.poisson(0.6, n)
    pro = rng.random(n) < 0.4
    answered = rng.random(n) < 0.6
    nps = np.where(answered, rng.integers(0, 11, n), np.nan)
    eta = (
        -2.0 + 0.8 * np.log1p(slow) - 0.7 * pro + 0.5 * ~answered - 0.15 * np.nan_to_num(nps - 7.0)
    )
    y = (rng.random(n) < expit(eta)).astype(float)
    frame = pd.DataFrame(
        {"slow_recent": slow, "plan": np.where(pro, "pro", "basic"), "nps_last": nps}
    )
    return frame, y, eta


@pytest.fixture(scope="module")
def company():
    return _company(6000, seed=11)


def test_fit_matches_an_unpenalised_statsmodels_logit(company):
    frame, y, _ = company
    m = ChurnRisk(C=1e8).fit(frame, y)
    assert m.feature_names_ == ["slow_recent", "plan=pro", "nps_last", "nps_last:missing"]
    # the same design by hand: log1p(slow), pro, nps with the observed mean, missing indicator
    nps = frame["nps_last"].to_numpy()
    x = np.column_stack(
        [
            np.log1p(frame["slow_recent"]),
            frame["plan"] == "pro",
            np.where(np.isnan(nps), np.nanmean(nps), nps),
            np.isnan(nps),
        ]
    ).astype(float)
    ref = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
    raw = m.coef_ / m.scales_  # per unit of each feature
    np.testing.assert_allclose(raw, ref.params[1:], rtol=1e-3)
    se = np.sqrt(np.diag(m.covariance_))[1:] / m.scales_
    np.testing.assert_allclose(se, ref.bse[1:], rtol=1e-3)
    np.testing.assert_allclose(m.predict_proba(frame), ref.predict(sm.add_constant(x)), atol=1e-4)


def test_recovers_the_planted_effects(company):
    frame, y, _ = company
    m = ChurnRisk(C=1e8).fit(frame, y)
    s = m.summary
    # a missing answer is set to the observed mean (fill): the indicator then carries +0.5
    # less the NPS effect of the gap between 7 (where the truth puts them) and the fill
    fill = m.features_[2].fill
    truth = {
        "slow_recent": 0.8,
        "plan=pro": -0.7,
        "nps_last": -0.15,
        "nps_last:missing": 0.5 - 0.15 * (7 - fill),
    }
    for j, (term, beta) in enumerate(truth.items()):
        assert m.feature_names_[j] == term
        lo, hi = s.loc[term, "ci_low"] / m.scales_[j], s.loc[term, "ci_high"] / m.scales_[j]
        assert lo < beta < hi, term


def test_scores_do_not_depend_on_the_block_size(company):
    frame, y, _ = company
    big = ChurnRisk(C="cv").fit(frame, y)
    small = ChurnRisk(C="cv", chunk_rows=777).fit(frame, y)
    np.testing.assert_allclose(big.predict_proba(frame), small.predict_proba(frame))
    p, lo, hi = small.predict_interval(frame)
    assert (lo <= p).all() and (p <= hi).all() and (lo < hi).all()
    np.testing.assert_allclose(big.contributions(frame), small.contributions(frame), rtol=1e-5)


def test_contributions_are_coef_times_deviation_from_the_mean(company):
    frame, y, _ = company
    m = ChurnRisk().fit(frame, y)
    c = m.contributions(frame.head(3))
    assert m.groups_ == ["slow_recent", "plan", "nps_last"]
    row = frame.iloc[1]
    x = {
        "slow_recent": np.log1p(row["slow_recent"]),
        "plan=pro": float(row["plan"] == "pro"),
        "nps_last": row["nps_last"] if pd.notna(row["nps_last"]) else m.features_[2].fill,
        "nps_last:missing": float(pd.isna(row["nps_last"])),
    }
    by_hand = {
        name: m.coef_[j] * (x[name] - m.means_[j]) / m.scales_[j]
        for j, name in enumerate(m.feature_names_)
    }
    assert c[1, 0] == pytest.approx(by_hand["slow_recent"], rel=1e-5)
    assert c[1, 1] == pytest.approx(by_hand["plan=pro"], rel=1e-5)
    assert c[1, 2] == pytest.approx(by_hand["nps_last"] + by_hand["nps_last:missing"], rel=1e-5)
    # the logit is the intercept plus the contributions
    np.testing.assert_allclose(
        m.intercept_ + c.sum(axis=1), m.decision_function(frame.head(3)), rtol=1e-5
    )


def _reason_company(n: int = 3000, seed: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    """Independent columns; churn rises with slow responses and days since a purchase and
    falls with NPS; the city does nothing."""
    rng = np.random.default_rng(seed)
    nps = np.where(rng.random(n) < 0.7, rng.integers(0, 11, n), np.nan)
    prof = pd.DataFrame(
        {
            "slow_recent": rng.poisson(0.5, n),
            "recency_days": rng.uniform(0, 200, n).round(),
            "nps_last": nps,
            "nps_group": pd.Series(nps).map(
                lambda v: (
                    None
                    if np.isnan(v)
                    else "detractor"
                    if v <= 6
                    else "passive"
                    if v <= 8
                    else "promoter"
                )
            ),  # fmt: skip
            "nps_last_at": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 180, n), unit="D"),
            "city": rng.choice(["harbourside", "rye", "kelby"], n),
        }
    )
    eta = -2.5 + 1.2 * np.log1p(prof["slow_recent"]) + 0.01 * prof["recency_days"]
    eta = eta - 0.25 * np.nan_to_num(nps - 7)
    return prof, (rng.random(n) < expit(eta)).astype(float)


def test_reasons_are_worded_from_the_data_and_only_raise_the_score():
    prof, y = _reason_company()
    m = ChurnRisk(C=1.0).fit(prof, y)
    probe = pd.DataFrame(
        {
            "slow_recent": [2, 0, 0],
            "recency_days": [120.0, 3.0, 150.0],
            "nps_last": [3.0, 10.0, np.nan],
            "nps_group": ["detractor", "promoter", None],
            "nps_last_at": pd.to_datetime(["2025-03-04", "2025-05-01", None]),
            "city": ["rye", "rye", "kelby"],
        }
    )
    out = risk_reasons(m, probe, as_of="2025-06-30")
    assert out[0] == "two slow first responses; detractor since March; no purchase in 120 days"
    assert out[1] == ""  # promoter, no slow response, a purchase three days ago: nothing
    assert "no purchase in 150 days" in out[2]
    # each customer: the groups with positive contributions, largest first, at most three
    c = m.contributions(probe)
    for i, text in enumerate(out):
        positive = [m.groups_[g] for g in np.argsort(-c[i]) if c[i, g] > 0.02][:3]
        assert len(text.split("; ") if text else []) == len(positive)


@pytest.mark.parametrize(
    "value, words", [(1, "one slow first response"), (3, "three slow first responses"),
                     (12, "12 slow first responses")],
)  # fmt: skip
def test_counts_in_words(value, words):
    prof, y = _reason_company()
    m = ChurnRisk(["slow_recent"]).fit(prof, y)
    probe = pd.DataFrame({"slow_recent": [value]})
    assert risk_reasons(m, probe, as_of="2025-06-30")[0] == words


def test_too_few_churners_names_both_counts():
    frame, y, _ = _company(400, seed=3)
    y = np.zeros(len(frame))
    y[:12] = 1
    with pytest.raises(TooFewChurnersError) as e:
        ChurnRisk(min_events=30).fit(frame, y)
    assert e.value.n_events == 12
    assert e.value.needed == 30  # max(30, 5 x 4 features)
    assert re.search(r"^12 churners among 400 customers; .* needs at least 30 ", str(e.value))


def test_estimator_contract(company):
    frame, y, _ = company
    m = ChurnRisk()
    with pytest.raises(NotFittedError):
        m.predict_proba(frame)
    assert m.fit(frame, y) is m
    assert m.columns is None and m.C == 1.0  # settings stored unchanged
    with pytest.raises(CxroiError, match="0 or 1"):
        ChurnRisk().fit(frame, np.where(np.arange(len(y)) == 0, np.nan, y))
    with pytest.raises(CxroiError, match="not found"):
        ChurnRisk(["nope"]).fit(frame, y)


def test_independent_columns_drop_duplicates_and_nested_levels():
    rng = np.random.default_rng(0)
    city = rng.integers(0, 4, 500)  # cities 0, 1 in region A; 2, 3 in region B
    x = np.column_stack([city == 1, city == 2, city == 3, city >= 2, city == 1, rng.random(500)])
    z = (x - x.mean(0)) / x.std(0)
    assert independent_columns(z).tolist() == [True, True, True, False, False, True]


# -- AUC and calibration ----------------------------------------------------------------------


def test_auc_is_the_mann_whitney_probability_by_brute_force():
    y = np.array([0, 0, 1, 1, 0, 1, 0])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.35, 0.9, 0.2])
    pos, neg = s[y == 1], s[y == 0]
    pairs = [(a > b) + 0.5 * (a == b) for a, b in itertools.product(pos, neg)]
    r = auc_delong(y, s)
    assert r.auc[0] == pytest.approx(np.mean(pairs))  # 10.5 / 12
    assert r.auc[0] == pytest.approx(roc_auc_score(y, s))


def test_delong_covariance_matches_the_placement_values_by_hand():
    rng = np.random.default_rng(4)
    y = rng.random(60) < 0.3
    s1 = rng.normal(size=60) + y
    s2 = np.round(s1 + rng.normal(size=60), 1)  # with ties
    r = auc_delong(y, s1, s2)

    def psi(a, b):
        return (a > b) + 0.5 * (a == b)

    comps = []
    for s in (s1, s2):
        x, z = s[y], s[~y]
        v10 = np.array([np.mean(psi(xi, z)) for xi in x])  # per churner
        v01 = np.array([np.mean(psi(x, zj)) for zj in z])  # per stayer
        comps.append((v10, v01))
    m, n = y.sum(), (~y).sum()
    cov = np.cov([c[0] for c in comps]) / m + np.cov([c[1] for c in comps]) / n
    np.testing.assert_allclose(r.covariance, cov, rtol=1e-10)
    np.testing.assert_allclose(r.auc, [roc_auc_score(y, s1), roc_auc_score(y, s2)])
    d, lo, hi, _p = r.difference()
    se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert (hi - lo) / 2 == pytest.approx(1.959964 * se, rel=1e-5)
    assert d == pytest.approx(r.auc[0] - r.auc[1])


def test_auc_needs_two_of_each():
    with pytest.raises(CxroiError, match="two churners"):
        auc_delong([0, 0, 1], [0.1, 0.2, 0.3])


def test_calibration_deciles_against_pandas_and_statsmodels():
    rng = np.random.default_rng(8)
    p = rng.beta(1, 12, 1003)
    y = (rng.random(1003) < p).astype(float)
    cal = calibration_deciles(y, p)
    assert cal["n"].sum() == 1003 and cal["churned"].sum() == y.sum()
    assert cal["n"].min() >= 100 and cal["n"].max() <= 101
    ranks = pd.Series(p).rank(method="first").to_numpy() - 1
    dec = (ranks * 10 // 1003).astype(int)
    ref = pd.DataFrame({"d": dec, "y": y, "p": p}).groupby("d").mean()
    np.testing.assert_allclose(cal["predicted"], ref["p"])
    np.testing.assert_allclose(cal["observed"], ref["y"])
    lo, hi = proportion_confint(cal["churned"], cal["n"], method="wilson")
    np.testing.assert_allclose(cal["ci_low"], lo)
    np.testing.assert_allclose(cal["ci_high"], hi)
