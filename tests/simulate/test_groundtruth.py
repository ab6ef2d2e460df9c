"""The generated rows honour the recorded ground truth (computed from raw rows with pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from cxroi.holdout import held_out
from cxroi.simulate import Company

from .conftest import month_index


def _nps_group(score: pd.Series) -> pd.Series:
    return pd.Series(
        np.where(score >= 9, "promoter", np.where(score >= 7, "passive", "detractor")),
        index=score.index,
    )


def _inside(fit, term: str, truth: float) -> None:
    est = fit.params[term]
    lo, hi = fit.conf_int(alpha=0.01).loc[term]
    assert lo <= np.log(truth) <= hi, (term, np.exp(est), np.exp(lo), np.exp(hi), truth)


def test_slow_first_response_hazard_ratio(company: Company, panel: pd.DataFrame):
    fit = smf.glm("churn ~ C(archetype) + slow_prev", panel, family=sm.families.Poisson()).fit()
    _inside(fit, "slow_prev", company.truth["slow_response_hazard_ratio"])
    # and the effect is real, not an interval that swallows 1
    assert fit.conf_int(alpha=0.01).loc["slow_prev", 0] > 0


@pytest.fixture(scope="module")
def stated_group(company: Company, frames, panel) -> pd.DataFrame:
    """Each customer's NPS group from a relationship answer given while not yet treated by any
    initiative and outside any slow-ticket window; with the month it was given."""
    start = company.truth["generator"]["start"]
    r = frames["responses"]
    r = r[r["survey"] == "relationship"].copy()
    r["month"] = month_index(r["ts"], start)
    flags = panel[["customer_id", "month", "treated"]]
    t = frames["tickets"]
    hours = (t["first_response_at"] - t["opened_at"]).dt.total_seconds() / 3600
    slow = t[hours > company.truth["slow_response_threshold_hours"]]
    sm_ = month_index(slow["opened_at"], start)
    bad = pd.concat(
        [
            pd.DataFrame({"customer_id": slow["customer_id"], "month": sm_}),
            pd.DataFrame({"customer_id": slow["customer_id"], "month": sm_ + 1}),
        ]
    ).drop_duplicates()
    bad["bad"] = True
    r = r.merge(bad, on=["customer_id", "month"], how="left")
    r = r[r["bad"].isna()].merge(flags, on=["customer_id", "month"], how="left")
    r = r[~r["treated"].eq(True)]
    first = r.sort_values("ts").groupby("customer_id").first()
    return pd.DataFrame({"group": _nps_group(first["nps"]), "stated_month": first["month"]})


def test_nps_group_hazard_ratios(company: Company, panel, stated_group):
    p = panel[~panel["treated"]].merge(stated_group, left_on="customer_id", right_index=True)
    p = p[p["month"] > p["stated_month"]]
    fit = smf.glm(
        "churn ~ C(group, Treatment('promoter')) + C(archetype) + slow_prev",
        p,
        family=sm.families.Poisson(),
    ).fit()
    hr = company.truth["nps_group_hazard_ratio"]
    for g in ("passive", "detractor"):
        _inside(fit, f"C(group, Treatment('promoter'))[T.{g}]", hr[g] / hr["promoter"])


def test_spend_multiplier(company: Company, frames, panel, stated_group):
    start = company.truth["generator"]["start"]
    tx = frames["transactions"][["customer_id", "ts", "amount"]].copy()
    tx["month"] = month_index(tx["ts"], start)
    # transactions in the signup month have no panel row; nothing had launched for them
    tx = tx.merge(
        panel[["customer_id", "month", "treated"]], on=["customer_id", "month"], how="left"
    )
    tx = tx[~tx["treated"].eq(True)]
    tx = tx.merge(stated_group, left_on="customer_id", right_index=True)
    tx = tx.merge(frames["archetypes"][["customer_id", "archetype"]], on="customer_id")
    fit = smf.glm(
        "amount ~ C(group, Treatment('promoter')) + C(archetype)",
        tx,
        family=sm.families.Gamma(sm.families.links.Log()),
    ).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(tx["customer_id"])[0]})
    mult = company.truth["spend_multiplier"]
    for g in ("passive", "detractor"):
        _inside(fit, f"C(group, Treatment('promoter'))[T.{g}]", mult[g] / mult["promoter"])


def test_frequency_multiplier_direction(company: Company, frames, panel, stated_group):
    """Purchases per full untreated month by group, within archetype. BG/NBD dropout (buying
    stops after a customer's K-th purchase) pulls the ratios towards 1, so the check is that
    each interval reaches between the true multiplier and 1 and the estimate is below 1."""
    start = company.truth["generator"]["start"]
    p = panel[(~panel["treated"]) & (panel["churn"] == 0)]
    p = p.merge(stated_group, left_on="customer_id", right_index=True)
    tx = frames["transactions"]
    counts = (
        pd.DataFrame({"customer_id": tx["customer_id"], "month": month_index(tx["ts"], start)})
        .value_counts()
        .rename("n")
        .reset_index()
    )
    p = p.merge(counts, on=["customer_id", "month"], how="left").fillna({"n": 0})
    fit = smf.glm(
        "n ~ C(group, Treatment('promoter')) + C(archetype)", p, family=sm.families.Poisson()
    ).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(p["customer_id"])[0]})
    mult = company.truth["frequency_multiplier"]
    for g in ("passive", "detractor"):
        term = f"C(group, Treatment('promoter'))[T.{g}]"
        lo, hi = np.exp(fit.conf_int(alpha=0.01).loc[term])
        assert np.exp(fit.params[term]) < 1
        assert lo <= 1 and hi >= mult[g] / mult["promoter"], (g, lo, hi)


def _nps_points(score: pd.Series) -> pd.Series:
    return pd.Series(np.where(score >= 9, 100.0, np.where(score <= 6, -100.0, 0.0)))


@pytest.mark.parametrize("initiative_id", [f"I{k:03d}" for k in range(1, 9)])
def test_initiative_difference_in_differences(company: Company, frames, initiative_id):
    """Within-customer before/after of relationship NPS, targeted-only vs never-targeted
    customers, recovers the true effect. (A pooled DiD of response means is biased upwards:
    detractors churn faster, so a group with more of them improves by attrition alone.)"""
    truth = next(x for x in company.truth["initiatives"] if x["initiative_id"] == initiative_id)
    start = company.truth["generator"]["start"]
    cust = frames["customers"]
    inits = frames["initiatives"].set_index("initiative_id")
    targets = {k: set(cust.query(v)["customer_id"]) for k, v in inits["target"].items()}
    anyone = set().union(*targets.values())
    others = set().union(*(v for k, v in targets.items() if k != initiative_id))
    mine = sorted(targets[initiative_id])
    share = inits.loc[initiative_id, "holdout_share"]
    held = held_out(initiative_id, mine, None if pd.isna(share) else share)
    only = {c for c, h in zip(mine, held, strict=True) if not h} - others
    control = set(cust["customer_id"]) - anyone
    start_date = pd.Series([inits.loc[initiative_id, "start_date"]]).astype("datetime64[ns]")
    launch = month_index(start_date, start)[0]

    r = frames["responses"]
    r = r[(r["survey"] == "relationship") & r["customer_id"].isin(only | control)].copy()
    r["post"] = (month_index(r["ts"], start) >= launch).astype(int)
    r["y"] = _nps_points(r["nps"]).to_numpy()
    means = r.groupby(["customer_id", "post"])["y"].mean().unstack().dropna()
    change = means[1] - means[0]
    treated = change.index.isin(only)
    est = change[treated].mean() - change[~treated].mean()
    se = np.sqrt(change[treated].var() / treated.sum() + change[~treated].var() / (~treated).sum())
    assert treated.sum() > 100 and (~treated).sum() > 100
    assert abs(est - truth["true_effect_nps_points"]) < 3 * se + 1.0, (est, se, truth)
    if truth["true_effect_nps_points"] > 10:
        assert est > 3 * se


def test_initiative_lifts_touchpoint_outcomes(company: Company, frames):
    """The delivery initiative raises the success rate of its touchpoint's events."""
    inits = frames["initiatives"].set_index("initiative_id")
    ini = inits[inits["touchpoint"] == "delivery"].iloc[0]
    start = company.truth["generator"]["start"]
    target = set(frames["customers"].query(ini["target"])["customer_id"])
    ev = frames["events"]
    ev = ev[ev["touchpoint"] == ini["touchpoint"]].copy()
    launch = pd.Timestamp(ini["start_date"])
    ev["post"] = ev["ts"] >= launch
    ev["treat"] = ev["customer_id"].isin(target)
    rate = (ev["outcome"] == "success").groupby([ev["treat"], ev["post"]]).mean()
    did = (rate[(True, True)] - rate[(True, False)]) - (rate[(False, True)] - rate[(False, False)])
    assert did > 0.05
    del start


def test_driver_weights_order_recovered(company: Company, frames):
    r = frames["responses"]
    r = r[r["survey"] == "relationship"]
    cols = list(company.truth["driver_weights"])
    fit = sm.OLS(r["nps"].astype(float), sm.add_constant(r[cols].astype(float))).fit()
    order_true = sorted(cols, key=company.truth["driver_weights"].get, reverse=True)
    order_est = sorted(cols, key=lambda c: fit.params[c], reverse=True)
    assert order_est == order_true


@pytest.fixture(scope="module")
def commented(frames) -> pd.DataFrame:
    r = frames["responses"]
    return r[r["comment"].notna()].set_index("response_id")


THEMES = [
    "delivery",
    "price",
    "support_wait",
    "product_quality",
    "app_usability",
    "staff_friendliness",
]


@pytest.mark.parametrize("theme", THEMES)
def test_negative_theme_mentions_lower_nps(company: Company, frames, commented, theme):
    ct = frames["comment_themes"]
    neg = set(ct[(ct["theme"] == theme) & (ct["polarity"] == "negative")]["response_id"])
    any_ = set(ct[ct["theme"] == theme]["response_id"])
    score = commented["nps"]
    with_neg = score[score.index.isin(neg)]
    without = score[~score.index.isin(any_)]
    gap = _nps_points(with_neg).mean() - _nps_points(without).mean()
    assert gap < -5
    recorded = company.truth["theme_effects_on_nps"][theme]["nps_gap_negative_vs_no_mention"]
    assert gap == pytest.approx(recorded, abs=1e-6)


def test_slow_support_shows_up_as_negative_support_wait(company: Company, frames, commented):
    t = frames["tickets"]
    hours = (t["first_response_at"] - t["opened_at"]).dt.total_seconds() / 3600
    slow_customers = set(
        t.loc[hours > company.truth["slow_response_threshold_hours"], "customer_id"]
    )
    ct = frames["comment_themes"]
    sw = ct[(ct["theme"] == "support_wait") & (ct["response_id"].isin(commented.index))]
    sw = sw.assign(
        slow=commented.loc[sw["response_id"], "customer_id"].isin(slow_customers).to_numpy()
    )
    share_neg = (sw["polarity"] == "negative").groupby(sw["slow"]).mean()
    assert share_neg[True] > share_neg[False] + 0.1


@pytest.mark.parametrize("theme", THEMES)
def test_theme_is_not_one_keyword(frames, commented, theme):
    """No single word appears in most comments of a theme: text analytics is not trivial."""
    ct = frames["comment_themes"]
    ids = ct.groupby("response_id").filter(lambda g: len(g) == 1)
    ids = ids[ids["theme"] == theme]["response_id"]
    texts = commented.loc[ids, "comment"].str.lower().str.replace(r"[^a-z ]", " ", regex=True)
    stop = {"the", "a", "i", "my", "was", "is", "to", "for", "and", "of", "it", "you", "me", "in"}
    words = texts.str.split().map(lambda w: set(w) - stop)
    share = pd.Series([w for ws in words for w in ws]).value_counts() / len(words)
    assert len(ids) > 200
    assert share.iloc[0] < 0.6, share.head()


def test_expected_rating_moments_match_draws_of_the_rating_mechanism():
    # The recorded population shares rest on closed-form moments of clip(round(a + b q + N)),
    # 1, 10); compare them with 400k draws of the mechanism for qualities from the floor to
    # the ceiling of the scale.
    from cxroi.simulate import params as P
    from cxroi.simulate.perception import PerceptionTally

    q = np.array([[-4.0, -1.0, 0.0, 0.3, 1.5, 3.0]])
    tally = PerceptionTally()
    tally.add_driver_moments(q, np.array([7]))
    e1 = tally.counts["drv_s1"][:-1]
    e2 = np.diag(tally.counts["drv_s2"])[:-1]
    rng = np.random.default_rng(0)
    noise = rng.normal(0, P.RATING_NOISE_SD, (400_000, q.shape[1]))
    draws = np.clip(np.rint(P.RATING_A + P.RATING_B * q + noise), *P.RATING_SCALE)
    np.testing.assert_allclose(e1, draws.mean(axis=0), atol=0.01)
    np.testing.assert_allclose(e2, (draws**2).mean(axis=0), atol=0.1)
    # cross moments of independent noises are products of the means; NPS enters as given
    s2 = tally.counts["drv_s2"]
    assert s2[0, 1] == pytest.approx(e1[0] * e1[1])
    assert s2[2, -1] == pytest.approx(e1[2] * 7)


def test_expected_purchases_match_draws_of_the_dropout_mechanism():
    # The spend truth counts each month's expected purchases net of purchase dropout in
    # closed form; compare with 200k customers drawn as transactions() draws them: Poisson
    # counts per month, clipped once the customer's dropout_after purchases are reached.
    from cxroi.simulate import params as P
    from cxroi.simulate.behaviour import expected_purchases

    rng = np.random.default_rng(1)
    n = 200_000
    rate = np.array([0.4, 3.1, 3.1, 2.0, 3.1, 5.0, 0.0, 3.1])[None, :].repeat(n, axis=0)
    p = np.clip(rng.beta(*P.DROPOUT_BETA, n), 1e-6, 1.0)
    dropout_after = rng.geometric(p)
    counts = rng.poisson(rate)
    prev = np.cumsum(counts, axis=1) - counts
    counts = np.clip(dropout_after[:, None] - prev, 0, counts)
    expected = expected_purchases(rate, dropout_after)
    se = counts.std(axis=0) / np.sqrt(n)
    assert (np.abs(expected.mean(axis=0) - counts.mean(axis=0)) < 4 * se + 1e-12).all()
    # dropout bites: by the last month a rate-3.1 customer buys visibly less than 3.1
    assert expected.mean(axis=0)[-1] < 0.95 * 3.1
