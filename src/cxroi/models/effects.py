"""Adjusted perception effects: churn hazard ratio and spend multiples of passives and detractors.

The raw gaps of :func:`cxroi.models.perception.value_of_perception` mix the effect of
perception with whatever makes some customers both unhappy and different (segment, customer
type). Here both effects are estimated on the customer-month panel, built and counted in the
engine (:mod:`cxroi.models.hazard`), with the NPS group *so far* (the latest score at or before
the month, while it is at most ``max_age`` months old) and the analyst's confounders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.frames import arrow_frame
from cxroi.models._design import default_confounders, design, z
from cxroi.models.hazard import PoissonHazard, month_number, scored_months
from cxroi.models.ledger import customer_ledger
from cxroi.results import small_n_flag

__all__ = ["DEFAULT_OUTCOMES", "MIN_EVENTS", "OUTCOMES", "VERSUS", "perception_effects"]

VERSUS = ("passive", "detractor")
"""The groups compared with promoters."""

OUTCOMES = {
    "churn": ("churn hazard ratio vs promoters", "cox (time-varying)"),
    "spend": ("amount per purchase, multiple of promoters'", "log-linear regression"),
    "monthly_spend": ("spend per customer-month, multiple of promoters'", "poisson regression"),
}
"""Outcome -> (what the estimate is, method)."""

DEFAULT_OUTCOMES = ("churn", "spend")
"""The outcomes estimated unless others are asked for (``cxroi value`` reports these)."""

MIN_EVENTS = 10
"""Fewest churn events for an adjusted hazard ratio."""

NOT_ESTIMABLE = "not-estimable"  # a reason of cxroi.results.NO_INTERVAL


def perception_effects(
    tables: Mapping[str, Any],
    *,
    confounders: Sequence[str] | None = None,
    survey: str | None = None,
    max_age: int | None = 2,
    level: float = 0.95,
    min_n: int = 30,
    ledger: pd.DataFrame | None = None,
    strict: bool = True,
    outcomes: Sequence[str] = DEFAULT_OUTCOMES,
) -> pd.DataFrame:
    """Adjusted churn hazard ratio and spend multiples of passives and detractors vs promoters.

    Months without a current score are left out of every model (kept as a category of their
    own, their mix of groups would leak into the confounders' coefficients); a stale score
    misclassifies customers whose experience has changed since, which pulls the effects
    towards 1.

    - churn: Cox proportional hazards on the panel, calendar month as the time axis, fitted
      as the piecewise-exponential model on its counts (:class:`cxroi.models.hazard.PoissonHazard`),
      :math:`h_i(m) = h_0(m)\\exp(\\beta_g [g_i(m) = g] + \\gamma^\\top x_i)`, reported as
      the hazard ratio :math:`e^{\\beta_g}`;
    - spend: least squares of the log amount of each purchase on the group and the
      confounders (the means of the log amounts per customer and NPS group weighted by their
      purchase counts, which gives the same coefficients; standard errors clustered by
      customer), reported as the multiple :math:`e^{\\beta_g}` of a promoter's amount per
      purchase;
    - monthly_spend (on request): Poisson regression (log link, a quasi-likelihood: spend
      need not be a count) of the spend (purchases) of every customer-month, zeros included,
      on the group and the confounders,
      :math:`E[y_{im}] = e^{\\alpha + \\beta_g [g_i(m) = g] + \\gamma^\\top x_i}`,
      standard errors clustered by customer, reported as the multiple
      :math:`e^{\\beta_g}` of a promoter's spend per month: purchases and amounts together.
      Without confounders it is the ratio of the groups' spend per customer-month.

    Intervals are Wald intervals on the log scale.

    Parameters
    ----------
    tables
        The canonical tables by name (``Workspace.tables``).
    confounders
        Customer or ledger columns to adjust for (e.g. a segment column); default ``plan``,
        ``region`` and ``tenure_years`` (those present); ``()`` for none.
    survey
        NPS from this survey only (e.g. the relationship survey).
    max_age
        Months a response stays current (0: only the month it was given); ``None``: for ever.
    level
        Interval level.
    min_n
        Groups with fewer customers are flagged ``small-n``.
    ledger
        A per-customer frame (``customer_id`` and columns) whose columns that the engine's
        ledger (:func:`cxroi.models.ledger.customer_ledger`) lacks may be confounders; they
        are sent to the engine.
    strict
        Raise when an outcome cannot be estimated (too few churn events or purchases); with
        ``False`` its rows are kept with no estimate, flagged ``not-estimable``, the reason in
        ``note``.
    outcomes
        Which of :data:`OUTCOMES` to estimate (default ``churn`` and ``spend``).

    Returns
    -------
    pandas.DataFrame
        One row per outcome and group: ``outcome`` (``churn``, ``spend``, ``monthly_spend``),
        ``nps_group``,
        ``effect``, ``method``, ``estimate``, ``ci_low``, ``ci_high``, ``level``,
        ``p_value``, ``n`` (customers observed in the group), ``flag``, ``note`` and
        ``reading``.
    """
    if max_age is not None and max_age < 0:
        raise CxroiError(f"max_age must be 0 or more months, got {max_age}")
    unknown = [o for o in outcomes if o not in OUTCOMES]
    if unknown:
        raise CxroiError(f"unknown outcome(s) {', '.join(unknown)}; choose {', '.join(OUTCOMES)}")
    led = customer_ledger(tables, survey=survey)
    extra = [] if ledger is None else [c for c in ledger.columns if c not in led.columns]
    conf = default_confounders([*led.columns, *extra], confounders)
    if ledger is not None and any(
        c in extra for c in conf
    ):  # columns the caller added to its ledger: to the engine
        added = ibis.memtable(ledger[["customer_id", *[c for c in conf if c in extra]]])
        led = led.left_join(added, "customer_id").drop("customer_id_right")
    rs = tables["responses"]
    if rs.filter(rs.customer_id.notnull() & rs.nps.notnull()).count().execute() == 0:
        raise CxroiError("no customer has an NPS response; perception effects need NPS")
    panel = scored_months(led, rs, survey=survey, max_age=max_age, keep=conf)
    rows: list[dict[str, Any]] = []
    estimators = {"churn": _churn, "spend": _spend, "monthly_spend": _monthly_spend}
    # the panel (the ledger, a row per customer-month, the NPS so far) is computed once in
    # the engine and read by every outcome's queries, not rebuilt by each
    panel = panel.cache()
    try:
        for outcome in outcomes:
            estimate = estimators[outcome]
            try:
                rows += estimate(tables, panel, conf, level)
            except CxroiError as e:
                if strict:
                    raise
                n = _customers_per_group(panel)
                rows += [_failed(outcome, g, int(n.get(g, 0)), str(e), level) for g in VERSUS]
    finally:
        panel.release()
    adj = ", ".join(conf) or "nothing"
    for r in rows:
        r["flag"] = ";".join(f for f in (small_n_flag(r["n"], min_n), r.get("flag", "")) if f)
        if math.isnan(r["estimate"]):
            r["reading"] = f"{r['nps_group'].capitalize()}s, {r['outcome']}: {r['note']}."
            continue
        what = {
            "churn": f"have a churn hazard {r['estimate']:.2f} times a promoter's",
            "spend": f"spend {r['estimate']:.2f} times a promoter's amount per purchase",
            "monthly_spend": f"spend {r['estimate']:.2f} times a promoter's spend per month",
        }[r["outcome"]]
        r["reading"] = (
            f"{r['nps_group'].capitalize()}s {what} ({level:.0%} CI {r['ci_low']:.2f}-"
            f"{r['ci_high']:.2f}), adjusted for {adj}."
        )
    columns = ["outcome", "nps_group", "effect", "method", "estimate", "ci_low", "ci_high"]
    columns += ["level", "p_value", "n", "flag", "note", "reading"]
    return pd.DataFrame(rows).reindex(columns=columns)


def _failed(outcome: str, group: str, n: int, why: str, level: float) -> dict[str, Any]:
    effect, method = OUTCOMES[outcome]
    nan = float("nan")
    return dict(
        outcome=outcome, nps_group=group, effect=effect, method=method, estimate=nan,
        ci_low=nan, ci_high=nan, level=level, p_value=nan, n=n, flag=NOT_ESTIMABLE, note=why,
    )  # fmt: skip


def _rows(outcome, beta, se, p, n, level) -> list[dict[str, Any]]:
    effect, method = OUTCOMES[outcome]
    q = z(level)
    rows = []
    for g in VERSUS:
        if g not in beta:
            continue
        b, s = float(beta[g]), float(se[g])
        rows.append(
            dict(
                outcome=outcome,
                nps_group=g,
                effect=effect,
                method=method,
                estimate=math.exp(b),
                ci_low=math.exp(b - q * s),
                ci_high=math.exp(b + q * s),
                level=level,
                p_value=float(p[g]),
                n=int(n[g]),
                note="",
            )
        )
    return rows


def _customers_per_group(panel: ir.Table) -> pd.Series:
    n = panel.group_by("nps_group").aggregate(n=panel.customer_id.nunique()).to_pandas()
    return n.set_index("nps_group")["n"]


def _churn(tables, panel: ir.Table, conf: Sequence[str], level: float) -> list[dict]:
    cox = PoissonHazard(
        ["nps_group", *conf], reference={"nps_group": "promoter"}, level=level,
        min_events=MIN_EVENTS,
    ).fit(panel)  # fmt: skip
    hr = cox.hazard_ratios_
    terms = {g: f"nps_group={g}" for g in VERSUS if f"nps_group={g}" in hr.index}
    beta = {g: cox.params_[t] for g, t in terms.items()}
    se = {g: cox.standard_errors_[t] for g, t in terms.items()}
    p = {g: hr.loc[t, "p_value"] for g, t in terms.items()}
    n = {g: hr.loc[t, "n"] for g, t in terms.items()}
    return _rows("churn", beta, se, p, n, level)


def _spend(tables, panel: ir.Table, conf: Sequence[str], level: float) -> list[dict]:
    """Least squares of the log amount per purchase on the group and the confounders.

    The purchases of the scored months are summed in the engine per customer and NPS group
    (each purchase joined to its month of the panel, then one aggregation; the confounders
    are constant per customer): the weighted least squares of the cell means on the same
    design, weighted by purchase counts, has the coefficients and the customer-clustered
    scores of the regression on every purchase, so only those cells reach Python."""
    import statsmodels.api as sm

    tx = tables["transactions"]
    tx = tx.filter(tx.customer_id.notnull() & (tx.amount > 0))
    tx = tx.select(_cid=tx.customer_id, _m=month_number(tx.ts), _amount=tx.amount)
    j = panel.inner_join(tx, [panel.customer_id == tx._cid, panel.m == tx._m])
    df, cluster = _cells(
        j.group_by(["customer_id", "nps_group"]).aggregate(
            **{c: j[c].max() for c in conf}, n_tx=j.count(), sum_log=j._amount.ln().sum()
        )
    )
    if df.empty:
        return []
    # a cell holds one customer-month or more, so only a handful of cells needs a count
    months = len(df)
    if months < 10:
        months = int(j.select("customer_id", "m").distinct().count().execute())
    if months < 10:
        raise CxroiError(f"too few customer-months with purchases: {months}")
    x = _group_dummies(df, conf)
    x = sm.add_constant(x, has_constant="add")
    y = df["sum_log"] / df["n_tx"]
    _identified(x, cluster)
    fit = sm.WLS(y, x, weights=df["n_tx"].astype(float)).fit(
        cov_type="cluster", cov_kwds={"groups": cluster}
    )
    n = df["nps_group"].value_counts()  # a row per customer and group
    return _rows("spend", fit.params, fit.bse, fit.pvalues, n, level)


def _monthly_spend(tables, panel: ir.Table, conf: Sequence[str], level: float) -> list[dict]:
    """Poisson regression of the spend of every customer-month on the group and confounders.

    The customer-months are summed in the engine per customer and NPS group (the confounders
    are constant per customer): the Poisson likelihood of those sums with offset
    ``log(months)`` has the score, and so the coefficients and the customer-clustered
    standard errors, of the regression on every customer-month."""
    import statsmodels.api as sm

    tx = tables["transactions"]
    tx = tx.filter(tx.customer_id.notnull() & (tx.amount > 0))
    tx = tx.mutate(_m=month_number(tx.ts))
    months = tx.group_by(["customer_id", "_m"]).aggregate(_spend=tx.amount.sum())
    j = panel.left_join(months, [panel.customer_id == months.customer_id, panel.m == months._m])
    df, cluster = _cells(
        j.group_by(["customer_id", "nps_group"]).aggregate(
            **{c: j[c].max() for c in conf},
            spend=j._spend.fill_null(0.0).sum(),
            months=j.count(),
        )
    )
    if df.empty:
        return []
    if df["spend"].sum() <= 0:
        raise CxroiError("too few customer-months with spend for the spend per month")
    x = sm.add_constant(_group_dummies(df, conf), has_constant="add")
    _identified(x, cluster)
    fit = sm.GLM(
        df["spend"].astype(float), x, family=sm.families.Poisson(),
        offset=np.log(df["months"].astype(float)),
    ).fit(cov_type="cluster", cov_kwds={"groups": cluster})  # fmt: skip
    n = df["nps_group"].value_counts()  # a row per customer and group
    return _rows("monthly_spend", fit.params, fit.bse, fit.pvalues, n, level)


def _cells(expr: ir.Table) -> tuple[pd.DataFrame, np.ndarray]:
    """The cells (a row per customer and NPS group) in pandas, and their customers as codes.

    The ids stay in Arrow (never a Python string each): the codes (0, 1, ... in order of
    appearance, as floats) are the clusters of the covariance. Floats, because statsmodels
    counts the clusters with ``numpy.unique``, which sorts floats but hashes integers (numpy
    2.3 on), 30 times slower on a million customers; the covariance is the same."""
    t = expr.to_pyarrow()
    ids = t.column("customer_id").combine_chunks().dictionary_encode()
    codes = ids.indices.to_numpy(zero_copy_only=False).astype(float)
    return arrow_frame(t.drop_columns("customer_id")), codes


def _identified(x: pd.DataFrame, cluster: np.ndarray) -> None:
    """Raise unless the design ``x`` tells every coefficient apart and there are more customers
    (clusters, coded ``0..G-1``) than coefficients.

    The rank is that of the cross-product of the columns scaled to unit length (k by k, cheap
    at a million rows; the scaling keeps a confounder in large units, spend in cents say, from
    hiding a 0/1 column), which also turns away designs collinear to about 1 part in 10^7,
    useless for an estimate anyway.
    With a rank-deficient design, statsmodels' pseudo-inverse returns one of many equal fits
    (the NPS groups confounded with the confounders: a multiple means nothing). The clustered
    covariance is a sum of one score per customer, so its rank is at most ``G - 1``: with no
    more customers than coefficients some standard errors are 0 and the interval collapses
    onto the estimate (two customers gave ``1.00 (95% CI 1.00-1.00)``)."""
    k = x.shape[1]
    a = x.to_numpy(float)
    a = a / np.linalg.norm(a, axis=0)  # no column is all 0: each varies, or is the constant
    rank = int(np.linalg.matrix_rank(a.T @ a))
    if rank < k:
        raise CxroiError(
            f"the NPS groups cannot be told apart from the confounders ({rank} independent "
            f"columns of {k}); adjust for fewer"
        )
    customers = int(cluster.max()) + 1 if len(cluster) else 0
    if customers <= k:
        raise CxroiError(
            f"too few customers for a clustered interval: {customers} for {k} coefficients"
        )


def _group_dummies(panel: pd.DataFrame, conf: Sequence[str]) -> pd.DataFrame:
    """The groups' 0/1 columns and the confounders' design, each confounder column divided by
    its standard deviation; columns that do not vary are left out.

    Rescaling a confounder leaves the groups' coefficients and their clustered standard errors
    as they are, and keeps statsmodels' pseudo-inverse from cutting the groups' columns as
    noise beside one in large units (tenure in nanoseconds gave every multiple as 1.00)."""
    g = panel["nps_group"]
    groups = pd.DataFrame({k: (g == k).astype(float) for k in VERSUS})
    groups = groups.loc[:, groups.std() > 0]
    conf_x = design(panel, conf)
    sd = conf_x.std()
    conf_x = conf_x.loc[:, sd > 0] / sd[sd > 0]
    return pd.concat([groups, conf_x], axis=1)
