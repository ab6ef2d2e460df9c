"""Difference-in-differences for an initiative: perception and spend, and the churn hazard.

Two estimators, both from well-kept packages, neither written here:

* **Outcomes measured on the same customers over time** (NPS points, NPS score, spend per
  month) use the imputation estimator of Borusyak, Jaravel and Spiess (2024) from
  ``diff-diff`` (:class:`diff_diff.ImputationDiD`). Customer and month fixed effects are fitted
  on the untreated observations only (comparison customers, and the targeted customers before
  launch); each treated observation's untreated outcome is imputed from its own customer's
  effect and the month's effect, and the ATT is the mean of observed minus imputed over the
  treated observations. So every customer is compared with themself before launch (attrition
  cannot fake an effect), staggered launches are handled (no already-treated customer serves
  as a control), and the pre-trend test is the package's test of pre-launch leads on the
  untreated observations. Standard errors are clustered by customer.
* **The churn hazard** is an absorbing event, so there is no "before" to difference within a
  customer. It uses a discrete-time hazard DiD: a Poisson GLM (``statsmodels``) of churn
  events on month and group effects with ``log(customer-months at risk)`` as offset, where the
  treated-after-launch term is the log hazard ratio. The pre-trend check adds targeted ×
  quarter-before-launch terms and tests them jointly (Wald). Standard errors are scaled by the
  Pearson dispersion when it exceeds one (quasi-Poisson), so overdispersion widens the
  interval.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError

__all__ = ["DiDEstimate", "hazard_did", "imputation_did"]

PRETREND_ALPHA = 0.05
"""A pre-trend test below this p-value warns that the comparison may not hold."""


@dataclass(frozen=True)
class DiDEstimate:
    """One effect with its 95% interval, its sample and its pre-trend test."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    n_obs: int
    n_treated_obs: int
    n_treated_units: int
    n_control_units: int
    pretrend_p: float
    pretrend_stat: float
    leads: dict[int, float] = field(default_factory=dict)
    method: str = ""

    @property
    def pretrend_failed(self) -> bool:
        return bool(np.isfinite(self.pretrend_p) and self.pretrend_p < PRETREND_ALPHA)


def imputation_did(
    panel: pd.DataFrame,
    outcome: str,
    *,
    unit: str = "customer_id",
    time: str = "period",
    first_treat: str = "first_treat",
    covariates: list[str] | None = None,
    alpha: float = 0.05,
) -> DiDEstimate:
    """ATT of the treated observations by imputation (Borusyak, Jaravel and Spiess).

    ``panel`` has one row per unit and period with ``first_treat`` the first treated period
    (0: never treated). Periods are integers. ``covariates`` enter the untreated-outcome model
    beside the fixed effects (e.g. attribute-specific trends). Treated units without an
    observation before their first treated period are left out (their untreated outcome cannot
    be imputed), so ``n_treated_obs`` counts the treated observations the ATT averages.
    """
    import diff_diff as dd

    treated = panel[first_treat] > 0
    if not treated.any() or treated.all():
        raise CxroiError("difference-in-differences needs both treated and comparison customers")
    post = treated & (panel[time] >= panel[first_treat])
    if not post.any():
        raise CxroiError("no treated observation after launch yet")
    before = treated & ~post
    if not before.any():
        raise CxroiError("no observation of the targeted customers before launch")
    # a treated customer never observed before launch has no own effect to impute from: the
    # package leaves their observations out of the ATT; leaving them out first gives the same
    # estimate and keeps the untreated design non-singular (a direct sparse solve for the
    # variance, not an iterative one)
    seen = panel.loc[before, unit].unique()
    panel = panel[~treated | panel[unit].isin(seen)]
    est = dd.ImputationDiD(alpha=alpha, cluster=unit, pretrends=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package's notes on dropped units go to `method`
        res = est.fit(
            panel, outcome=outcome, unit=unit, time=time, first_treat=first_treat,
            covariates=covariates or None,
        )  # fmt: skip
        try:
            pt = res.pretrend_test()
            p, stat = float(pt["p_value"]), float(pt["f_stat"])
            leads = {int(k): float(v) for k, v in pt.get("lead_coefficients", {}).items()}
        except (ValueError, np.linalg.LinAlgError, KeyError):
            p, stat, leads = float("nan"), float("nan"), {}
    lo, hi = res.overall_conf_int
    return DiDEstimate(
        estimate=float(res.overall_att),
        se=float(res.overall_se),
        ci_low=float(lo),
        ci_high=float(hi),
        n_obs=int(res.n_obs),
        n_treated_obs=int(res.n_treated_obs),
        n_treated_units=int(res.n_treated_units),
        n_control_units=int(res.n_control_units),
        pretrend_p=p,
        pretrend_stat=stat,
        leads=leads,
        method="imputation DiD (Borusyak, Jaravel and Spiess; diff-diff ImputationDiD), "
        "customer and month fixed effects"
        + (f" and {len(covariates)} trend terms" if covariates else "")
        + ", standard errors clustered by customer",
    )


def hazard_did(
    cells: pd.DataFrame,
    *,
    covariates: list[str] | None = None,
    randomised: bool = False,
    alpha: float = 0.05,
) -> DiDEstimate:
    """Hazard ratio of the treated customer-months after launch, by a Poisson hazard DiD.

    ``cells`` has one row per period and group: ``period``, ``treated_group`` (0/1),
    ``post`` (0/1: the period is at or after launch), ``events`` (churns) and ``exposure``
    (customer-months at risk), and any ``covariates`` columns (e.g. attribute levels and
    their trends). ``estimate``, ``ci_low`` and ``ci_high`` are hazard ratios; ``se`` is on
    the log scale.

    With ``randomised`` (a holdout drawn at launch) only the months from launch are compared:
    the groups were alike when it was drawn, and the customers who churned before it are no
    longer in either, so differencing a pre-launch gap would only add the noise of a chance
    difference among customers who are gone. There is then no pre-trend test.
    """
    import statsmodels.api as sm
    from scipy import stats

    c = cells[cells["exposure"] > 0].copy()
    if randomised:
        c = c[c["post"] > 0]
    c["treated_post"] = c["treated_group"] * c["post"]
    before = ((c["treated_group"] > 0) & (c["post"] == 0)).any() or randomised
    if not (c["treated_post"] > 0).any() or not before:
        raise CxroiError("the churn hazard needs targeted customer-months before and after launch")
    if c.loc[c["treated_post"] > 0, "events"].sum() == 0:
        raise CxroiError("no targeted customer has churned since launch: no hazard ratio yet")
    periods = pd.get_dummies(c["period"].astype(int), prefix="m", drop_first=True, dtype=float)
    extra = list(covariates or [])
    group = [] if randomised else ["treated_group"]
    base = pd.concat([periods, c[[*group, "treated_post", *extra]].astype(float)], axis=1)

    def fit(x: pd.DataFrame) -> Any:
        x = sm.add_constant(x, has_constant="add")
        model = sm.GLM(
            c["events"].astype(float), x, family=sm.families.Poisson(),
            offset=np.log(c["exposure"].astype(float)),
        )  # fmt: skip
        first = model.fit()
        # quasi-Poisson: overdispersion widens the interval, never narrows it below Poisson
        phi = first.pearson_chi2 / first.df_resid if first.df_resid > 0 else 1.0
        return model.fit(scale=max(1.0, float(phi)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(base)
        # pre-trend: targeted x quarter before launch (the last pre-launch quarter is the base)
        lead_q = np.where(
            (c["treated_group"] > 0) & (c["post"] == 0), (c["period"] - c["launch"]) // 3, 0
        )
        leads = pd.get_dummies(lead_q, prefix="q", dtype=float)
        leads = leads.set_index(c.index)
        # a quarter without a targeted churn has no finite lead (its MLE is -inf): left out
        leads = leads[
            [
                k
                for k in leads.columns
                if k not in ("q_0", "q_-1") and c.loc[leads[k] > 0, "events"].sum() > 0
            ]
        ]
        if randomised:
            leads = leads.iloc[:, :0]
        p, stat, lead_coef = float("nan"), float("nan"), {}
        res_pt = None
        if leads.shape[1]:
            try:
                res_pt = fit(pd.concat([base, leads], axis=1))
            except ValueError:  # IRLS diverged: the pre-trend is not estimable (p stays NaN)
                res_pt = None
        if res_pt is not None:
            names = list(leads.columns)
            wald = res_pt.wald_test(
                np.eye(len(res_pt.params))[[list(res_pt.params.index).index(n) for n in names]],
                scalar=True,
            )
            p, stat = float(wald.pvalue), float(wald.statistic)
            lead_coef = {int(n[2:]): float(np.exp(res_pt.params[n])) for n in names}
    b, se = float(res.params["treated_post"]), float(res.bse["treated_post"])
    z = stats.norm.ppf(1 - alpha / 2)
    post_t = c["treated_post"] > 0
    return DiDEstimate(
        estimate=float(np.exp(b)),
        se=se,
        ci_low=float(np.exp(b - z * se)),
        ci_high=float(np.exp(b + z * se)),
        n_obs=int(c["exposure"].sum()),
        n_treated_obs=int(c.loc[post_t, "exposure"].sum()),
        n_treated_units=int(c.loc[post_t, "events"].sum()),
        n_control_units=int(c.loc[c["treated_group"] == 0, "events"].sum()),
        pretrend_p=p,
        pretrend_stat=stat,
        leads=lead_coef,
        method=(
            "randomised holdout: Poisson GLM of monthly churn from launch on month effects and "
            "the treated term, offset log customer-months at risk, quasi-Poisson standard "
            "errors (statsmodels)"
            if randomised
            else "discrete-time hazard DiD: Poisson GLM of monthly churn on month and group "
            "effects, offset log customer-months at risk, quasi-Poisson standard errors "
            "(statsmodels); pre-trend: targeted x quarter-before-launch terms, joint Wald test"
        ),
    )
