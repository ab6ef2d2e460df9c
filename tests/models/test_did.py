"""The DiD estimators checked against a published example and against hand arithmetic."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.did import hazard_did, imputation_did
from cxroi.models.roi import realised_paths

DF_HET = Path(__file__).parents[1] / "fixtures" / "did" / "df_het.parquet"


@pytest.fixture(scope="module")
def df_het() -> pd.DataFrame:
    return pd.read_parquet(DF_HET)


def test_the_fixture_is_the_published_did2s_panel(df_het):
    """pyfixest's docs publish a TWFE ATT of 1.98254 on this file (unit and year effects).

    The panel is balanced, so the TWFE coefficient is the within (two-way demeaned)
    regression, computed here by hand.
    """
    assert len(df_het) == 46_500 and df_het.groupby("unit").size().eq(31).all()

    def within(x: pd.Series) -> pd.Series:
        return (
            x
            - x.groupby(df_het["unit"]).transform("mean")
            - x.groupby(df_het["year"]).transform("mean")
            + x.mean()
        )

    d, y = within(df_het["treat"].astype(float)), within(df_het["dep_var"])
    assert float((d * y).sum() / (d * d).sum()) == pytest.approx(1.98254, abs=5e-6)


def test_imputation_did_recovers_the_published_true_effect(df_het):
    """The did2s README: the true effect is ~2.23; the file's own te columns give it exactly."""
    panel = df_het.rename(columns={"unit": "customer_id", "year": "period", "g": "first_treat"})
    e = imputation_did(panel, "dep_var")
    treated = df_het[df_het["treat"]]
    true_att = float((treated["te"] + treated["te_dynamic"]).mean())
    assert true_att == pytest.approx(2.23, abs=0.015)
    assert e.ci_low <= true_att <= e.ci_high
    assert e.n_treated_obs == len(treated) and e.n_obs == len(df_het)
    # the package's two-stage estimator (Gardner) is algebraically the same point estimate
    import diff_diff as dd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gardner = dd.TwoStageDiD(cluster="customer_id").fit(
            panel, outcome="dep_var", unit="customer_id", time="period", first_treat="first_treat"
        )
    assert e.estimate == pytest.approx(float(gardner.overall_att), rel=1e-9)
    # the true effects are zero before treatment: no pre-trend is detected
    assert not e.pretrend_failed


def test_imputation_did_needs_both_groups_and_both_periods(df_het):
    panel = df_het.rename(columns={"unit": "customer_id", "year": "period", "g": "first_treat"})
    with pytest.raises(CxroiError, match="both treated and comparison"):
        imputation_did(panel[panel["first_treat"] > 0], "dep_var")
    early = panel[(panel["first_treat"] == 0) | (panel["period"] < panel["first_treat"])]
    with pytest.raises(CxroiError, match="no treated observation after launch"):
        imputation_did(early, "dep_var")


def _cells(rates: dict[tuple[int, int], float], exposure: float) -> pd.DataFrame:
    rows = []
    for (period, group), rate in rates.items():
        rows.append({"period": period, "treated_group": group, "post": int(period >= 2),
                     "events": rate * exposure, "exposure": exposure, "launch": 2})  # fmt: skip
    return pd.DataFrame(rows)


def test_hazard_did_is_the_ratio_of_rate_ratios():
    """Two periods, two groups: the Poisson DiD hazard ratio is (T1/T0) / (C1/C0) by hand."""
    rates = {(1, 0): 0.020, (2, 0): 0.024, (1, 1): 0.030, (2, 1): 0.027}
    cells = _cells(rates, 10_000)
    e = hazard_did(cells)
    by_hand = (0.027 / 0.030) / (0.024 / 0.020)
    assert e.estimate == pytest.approx(by_hand, rel=1e-8)
    assert e.ci_low < e.estimate < e.ci_high


def test_hazard_did_refuses_without_post_events():
    cells = _cells({(1, 0): 0.02, (2, 0): 0.02, (1, 1): 0.02, (2, 1): 0.0}, 1000)
    with pytest.raises(CxroiError, match="no targeted customer has churned since launch"):
        hazard_did(cells)


def test_realised_paths_by_hand():
    """N = 200, h1 = 1%, HR 0.8, margin 12 with +2 from the initiative, 3 months, 10%/yr."""
    p = realised_paths(
        customers=200, churn_monthly=0.01, margin_monthly=12.0, hazard_ratio=np.array([0.8]),
        spend_effect=np.array([2.0]), cost=500.0, running_cost=10.0, horizon_months=3,
        discount_rate=0.10,
    )  # fmt: skip
    i = 1.10 ** (1 / 12) - 1
    h0 = 0.01 / 0.8
    benefit = sum(200 * (12.0 * 0.99**t - 10.0 * (1 - h0) ** t) / (1 + i) ** t for t in (1, 2, 3))
    cost = 500.0 + sum(10.0 / (1 + i) ** t for t in (1, 2, 3))
    assert p.pv_benefit[0] == pytest.approx(benefit, rel=1e-12)
    assert p.pv_cost == pytest.approx(cost, rel=1e-12)
    assert p.npv[0] == pytest.approx(benefit - cost, rel=1e-12)
    assert p.roi[0] == pytest.approx((benefit - cost) / cost, rel=1e-12)


def test_randomised_hazard_compares_the_months_from_launch_only():
    """A holdout drawn at launch: a pre-launch gap (chance, among customers now gone) is not
    differenced; the hazard ratio is the post-launch ratio of rates, by hand."""
    rates = {(1, 0): 0.034, (2, 0): 0.021, (1, 1): 0.013, (2, 1): 0.019}
    cells = _cells(rates, 10_000)
    e = hazard_did(cells, randomised=True)
    assert e.estimate == pytest.approx(0.019 / 0.021, rel=1e-8)
    assert np.isnan(e.pretrend_p) and "randomised" in e.method
    # the DiD would have read the chance pre-launch gap as an effect
    assert hazard_did(cells).estimate == pytest.approx((0.019 / 0.013) / (0.021 / 0.034))


def test_a_pre_launch_quarter_without_targeted_churn_is_left_out_of_the_pretrend():
    """Launch in period 9: quarter -1 (periods 6-8) is the base, quarter -2 (periods 3-5)
    has targeted churns, quarter -3 (periods 0-2) none. That lead's MLE is -inf, so it is
    left out and the test uses the other lead (it used to stop IRLS with NaN weights)."""
    rates = {}
    for period in range(12):
        rates[(period, 0)] = 0.02
        rates[(period, 1)] = 0.0 if period < 3 else (0.03 if period < 9 else 0.024)
    cells = _cells(rates, 5_000)
    cells["post"] = (cells["period"] >= 9).astype(int)
    cells["launch"] = 9
    e = hazard_did(cells)
    assert set(e.leads) == {-2}
    assert np.isfinite(e.pretrend_p)
    # by hand: before launch the targeted churn 0.18 over 9 periods = 0.02, as the others do
    assert e.estimate == pytest.approx(0.024 / 0.02, rel=1e-6)


def test_treated_units_never_seen_before_launch_are_left_out_first(df_het):
    """The package cannot impute a treated unit with no pre-launch observation (its effects
    are NaN and left out of the ATT); leaving such units out first gives the same estimate and
    standard error as the package on the whole panel, and counts only what the ATT averages."""
    import diff_diff as dd

    panel = df_het.rename(columns={"unit": "customer_id", "year": "period", "g": "first_treat"})
    treated_units = panel.loc[panel["first_treat"] > 0, "customer_id"].unique()[:40]
    unseen = panel["customer_id"].isin(treated_units) & (panel["period"] < panel["first_treat"])
    panel = panel[~unseen]
    e = imputation_did(panel, "dep_var")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.ImputationDiD(cluster="customer_id").fit(
            panel, outcome="dep_var", unit="customer_id", time="period", first_treat="first_treat"
        )
    assert e.estimate == pytest.approx(float(ref.overall_att), rel=1e-9)
    assert e.se == pytest.approx(float(ref.overall_se), rel=1e-6)
    post = panel[(panel["first_treat"] > 0) & ~panel["customer_id"].isin(treated_units)]
    assert e.n_treated_obs == int((post["period"] >= post["first_treat"]).sum())
