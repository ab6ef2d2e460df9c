"""Levers (A -> B): what an operational measure is associated with, adjusted for confounders.

An operational measure is first-response time, resolution time, or any numeric column of
tickets or events (:func:`measure_rows`). Its association with

- churn: Cox proportional hazards on the customer-month panel, built and counted in the engine
  and fitted as the piecewise-exponential model (:class:`cxroi.models.hazard.PoissonHazard`):
  the hazard of churning in month :math:`m` against the measure's worst ticket (or event) in
  month :math:`m-1`;
- spend / NPS: per-customer regression adjustment (OLS, HC1 errors) and, for a thresholded
  measure, the doubly robust AIPW difference (:func:`aipw`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError, param
from cxroi.models._design import default_confounders, design, z
from cxroi.models.hazard import (
    PoissonHazard,
    customer_month_panel,
    quantiles,
    with_measure,
    with_nps,
)
from cxroi.models.ledger import customer_ledger, ledger_frame
from cxroi.models.survival import check_events

__all__ = ["DERIVED", "LEVER_OUTCOMES", "aipw", "lever_effects", "measure_rows"]

DERIVED = {
    "first_response_hours": ("first_response_at", "opened_at"),
    "resolution_hours": ("resolved_at", "opened_at"),
}
"""Ticket measures derived from two timestamps: name -> (later, earlier)."""

LEVER_OUTCOMES = ("churn", "spend", "nps")

_MIN_EVENTS = 10
_SOURCES = {"tickets": "opened_at", "events": "ts"}


def measure_rows(tables: Mapping[str, Any], measure: str) -> tuple[Any, str, str]:
    """``customer_id, _t, _x`` rows of an operational measure, its source noun and name.

    ``first_response_hours`` and ``resolution_hours`` come from ticket timestamps; any other
    numeric column of tickets or events (``tickets.COL`` or ``events.COL`` to say which) is
    taken as it is, dated by the ticket's ``opened_at`` or the event's ``ts``.

    Returns
    -------
    tuple
        The rows (an Ibis table), the singular noun of the source (``ticket``/``event``) and
        the measure's column name.
    """
    table, _, column = measure.rpartition(".")
    if table and table not in _SOURCES:
        raise CxroiError(f"{param('measure')} {measure!r}: the table must be tickets or events")
    choices: list[str] = []
    for name, when in _SOURCES.items():
        if table and name != table:
            continue
        t = tables[name]
        if name == "tickets" and column in DERIVED:
            later, earlier = DERIVED[column]
            x = (t[later].epoch_seconds() - t[earlier].epoch_seconds()) / 3600.0
        elif column in t.columns and t[column].type().is_numeric():
            x = t[column].cast("float64")
        else:
            numeric = [c for c, ty in t.schema().items() if ty.is_numeric()]
            choices += [*(DERIVED if name == "tickets" else ()), *numeric]
            continue
        rows = t.select(customer_id=t.customer_id, _t=t[when], _x=x)
        rows = rows.filter(rows._x.notnull() & rows.customer_id.notnull())
        if rows.count().execute() == 0:
            raise CxroiError(f"measure {measure!r}: no {name} with a value of {column}")
        return rows, name[:-1], column
    raise CxroiError(
        f"unknown measure {measure!r}; choose {', '.join(dict.fromkeys(choices)) or 'nothing'}"
        " (a numeric column of tickets or events)"
    )


def lever_effects(
    tables: Mapping[str, Any],
    measure: str = "first_response_hours",
    *,
    outcome: str = "churn",
    threshold: float | None = None,
    confounders: Sequence[str] | None = None,
    change: tuple[float, float] | None = None,
    survey: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Association of an operational measure with churn, spend or NPS, adjusted.

    ``churn``: Cox proportional hazards on the customer-month panel (counting-process form):
    the hazard of churning in month :math:`m` against the measure's worst ticket (or event)
    in month :math:`m-1` (a flag ``> threshold``, or the value), adjusted for having had a
    measured ticket, the NPS group so far (``unknown`` before the first response is a group of
    its own), the customer's rate of measured tickets and the confounders.
    ``spend`` / ``nps``: per-customer regression (OLS, HC1 errors) of spend per year / latest
    NPS on the customer's median measure and the confounders; with a ``threshold``, also the
    doubly robust (AIPW) difference between customers above and below it.

    Parameters
    ----------
    tables
        The canonical tables by name (``Workspace.tables``).
    measure
        ``first_response_hours``, ``resolution_hours`` or any numeric column of tickets or
        events (say ``events.delay_days``, or just ``delay_days``: tickets are searched first).
    outcome
        ``churn``, ``spend`` or ``nps``.
    threshold
        Compare measure above ``threshold`` with below; default a linear effect.
    confounders
        Ledger columns to adjust for; default ``plan``, ``region``, ``tenure_years`` (those
        present).
    change
        ``(from, to)`` values of the measure for the reading; default its 75th and 25th
        percentiles.
    survey
        NPS from this survey only.
    level
        Interval level.

    Returns
    -------
    pandas.DataFrame
        One row per estimate: ``outcome``, ``method``, ``effect`` (what is estimated),
        ``estimate``, ``ci_low``, ``ci_high``, ``level``, ``p_value``, ``n`` (customers),
        ``adjusted_for`` (comma-separated) and ``reading``.
    """
    if outcome not in LEVER_OUTCOMES:
        raise CxroiError(
            f"unknown {param('outcome')} {outcome!r}; choose {', '.join(LEVER_OUTCOMES)}"
        )
    if outcome == "churn":
        rows = [_churn(tables, measure, threshold, confounders, change, survey, level)]
    else:
        rows = _customer(tables, measure, outcome, threshold, confounders, change, survey, level)
    return pd.DataFrame(rows)


def _change(values: pd.Series, change: tuple[float, float] | None) -> tuple[float, float]:
    if change is not None:
        return float(change[0]), float(change[1])
    v = values.dropna()
    return float(v.quantile(0.75)), float(v.quantile(0.25))


def _churn(tables, measure, threshold, confounders, change, survey, level) -> dict[str, Any]:
    """The churn row: the lagged measure's hazard ratio on the customer-month panel (engine)."""
    rows, noun, name = measure_rows(tables, measure)
    led = customer_ledger(tables, survey=survey)
    conf = default_confounders(list(led.columns), confounders)
    per_year = f"{noun}s_per_year"
    total = rows.group_by("customer_id").aggregate(_total=rows.count())
    led = led.left_join(total, "customer_id").drop("customer_id_right")
    led = led.mutate(**{per_year: led._total.fill_null(0) / led.exposure_years})
    panel = customer_month_panel(led, keep=[*conf, per_year])
    panel = with_measure(with_nps(panel, tables["responses"], survey=survey), rows)
    panel = panel.mutate(
        nps_group=panel.nps_group.fill_null("unknown"),
        measured_prev=(panel.n_measured_prev > 0).cast("float64"),
        treat=(panel.measure_prev > threshold).fill_null(False).cast("float64")
        if threshold is not None
        else panel.measure_prev.fill_null(0.0),
    )
    facts = panel.aggregate(events=panel.churned.sum(), values=panel.treat.nunique()).to_pandas()
    check_events(int(facts["events"].iloc[0] or 0), _MIN_EVENTS)
    if int(facts["values"].iloc[0]) < 2:
        raise CxroiError(
            f"{name} is the same in every month after a measured {noun}"
            + (f" (all on one side of {threshold:g})" if threshold is not None else "")
            + "; there is nothing to compare"
        )
    # the NPS group is a nuisance here: its reference is its commonest level
    cox = PoissonHazard(
        ["treat", "measured_prev", per_year, "nps_group", *conf], level=level,
        min_events=_MIN_EVENTS,
    ).fit(panel)  # fmt: skip
    beta = float(cox.params_["treat"])
    se = float(cox.standard_errors_["treat"])
    p = float(cox.hazard_ratios_.loc["treat", "p_value"])
    q = z(level)
    article = "an" if noun[0] in "aeiou" else "a"
    adj = ", ".join([f"having {article} {noun}", "NPS group so far", f"{noun} rate", *conf])
    what = name.replace("_", " ")
    if threshold is not None:
        hr, lo, hi = math.exp(beta), math.exp(beta - q * se), math.exp(beta + q * se)
        effect = f"hazard ratio, {name} > {threshold:g} in the previous month"
        reading = (
            f"{article.capitalize()} {noun} with {what} over {threshold:g} is associated with a "
            f"churn hazard {hr:.2f} times as high the next month ({level:.0%} CI "
            f"{lo:.2f}-{hi:.2f}), adjusted for {adj}."
        )
    else:
        if change is None:
            measured = panel.filter(panel.measured_prev == 1)
            a, b = quantiles(measured, "treat", (0.75, 0.25))
        else:
            a, b = float(change[0]), float(change[1])
        d = b - a
        hr = math.exp(beta * d)
        lo, hi = sorted((math.exp((beta - q * se) * d), math.exp((beta + q * se) * d)))
        effect = f"hazard ratio, {name} {a:.3g} -> {b:.3g}"
        reading = (
            f"Cutting {what} from {a:.3g} to {b:.3g} is associated with a "
            f"churn hazard {hr:.2f} times as high ({level:.0%} CI {lo:.2f}-{hi:.2f}), "
            f"adjusted for {adj}."
        )
    return dict(
        outcome="churn", method="cox (time-varying)", effect=effect, estimate=hr, ci_low=lo,
        ci_high=hi, level=level, p_value=p, n=int(led.count().execute()), adjusted_for=adj,
        reading=reading,
    )  # fmt: skip


def _customer(tables, measure, outcome, threshold, confounders, change, survey, level):
    """Spend or NPS rows: per-customer regression adjustment (and AIPW with a threshold)."""
    import statsmodels.api as sm
    from scipy import stats

    led = ledger_frame(tables, survey=survey)
    measured, noun, measure = measure_rows(tables, measure)
    per = measured.group_by("customer_id").aggregate(treat=measured._x.median()).to_pandas()
    df = led.merge(per, on="customer_id", how="inner")
    if outcome == "spend":
        df["y"] = df["spend"] / df["exposure_years"]
        label, unit = "spend per year", ""
    else:
        df["y"] = df["nps_latest"]
        label, unit = "NPS score", " points"
    df = df[df["y"].notna() & df["treat"].notna()]
    conf = default_confounders(list(led.columns), confounders)
    if len(df) < 10 + len(conf):
        raise CxroiError(f"too few customers with {noun}s and an outcome: {len(df)}")
    xc = design(df, conf)
    q = z(level)
    adj = ", ".join(conf) or "nothing"
    what = measure.replace("_", " ")

    def row(method: str, effect: str, est: float, se: float, lead: str) -> dict[str, Any]:
        lo, hi = est - q * se, est + q * se
        return dict(
            outcome=outcome, method=method, effect=effect, estimate=est, ci_low=lo, ci_high=hi,
            level=level, p_value=float(2 * stats.norm.sf(abs(est / se))), n=len(df),
            adjusted_for=adj,
            reading=f"{lead} a {label} {est:+.2f}{unit} different ({level:.0%} CI {lo:+.2f} to "
            f"{hi:+.2f}), adjusted for {adj}",
        )  # fmt: skip

    if threshold is None:
        a, b = _change(df["treat"], change)
        x = sm.add_constant(pd.concat([df["treat"], xc], axis=1), has_constant="add")
        fit = sm.OLS(df["y"], x).fit(cov_type="HC1")
        d = b - a
        r = row("regression adjustment", f"difference, {measure} {a:.3g} -> {b:.3g}",
                float(fit.params["treat"]) * d, abs(float(fit.bse["treat"]) * d),
                f"Cutting {what} from {a:.3g} to {b:.3g} is associated with")  # fmt: skip
        r["reading"] += "."
        return [r]
    t = (df["treat"] > threshold).astype(float)
    x = sm.add_constant(pd.concat([t.rename("treat"), xc], axis=1), has_constant="add")
    fit = sm.OLS(df["y"], x).fit(cov_type="HC1")
    effect = f"difference, {measure} > {threshold:g} vs below"
    lead = f"Customers whose median {what} is over {threshold:g} have"
    est, se = aipw(df["y"].to_numpy(float), t.to_numpy(), xc.to_numpy(float))
    rows = [
        row("regression adjustment", effect, float(fit.params["treat"]),
            float(fit.bse["treat"]), lead),
        row("doubly robust (AIPW)", effect, est, se, lead),
    ]  # fmt: skip
    for r in rows:
        r["reading"] += f" ({r['method']})."
    return rows


def aipw(y: np.ndarray, t: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Augmented inverse-probability-weighted average treatment effect and its standard error.

    Propensity :math:`\\hat e` by logistic regression, outcome models :math:`\\hat\\mu_1`,
    :math:`\\hat\\mu_0` by least squares on each arm (propensities clipped to [0.01, 0.99]):

    .. math::

        \\hat\\tau = \\frac1n \\sum_i \\hat\\mu_1(x_i) - \\hat\\mu_0(x_i)
        + \\frac{t_i (y_i - \\hat\\mu_1(x_i))}{\\hat e(x_i)}
        - \\frac{(1 - t_i)(y_i - \\hat\\mu_0(x_i))}{1 - \\hat e(x_i)}
    """
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if t.min() == t.max():
        raise CxroiError("every customer is on the same side of the threshold; pick another")
    xs = x if x.shape[1] else np.zeros((len(y), 1))
    e = LogisticRegression(max_iter=1000).fit(xs, t).predict_proba(xs)[:, 1]
    e = np.clip(e, 0.01, 0.99)
    mu1 = LinearRegression().fit(xs[t == 1], y[t == 1]).predict(xs)
    mu0 = LinearRegression().fit(xs[t == 0], y[t == 0]).predict(xs)
    psi = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
    return float(psi.mean()), float(psi.std(ddof=1) / math.sqrt(len(y)))
