"""What an initiative returned, after launch: ``cxroi roi measure``.

The path is measured link by link, A → C → B:

* **who is compared.** The treated customers are the initiative's target group less its
  randomised holdout (:mod:`cxroi.holdout`). With a holdout, the holdout is the comparison:
  randomised at launch, it needs no parallel-trends assumption. Without one, the comparison is
  every customer no initiative of the register targets while the data runs. Customers that
  another initiative also reaches are left out of both groups, so each effect is this
  initiative's alone, on the customers it reached alone (a warning says how many).
* **C, perception:** NPS points and NPS score of the relationship survey (the customer as
  subject), per customer and month, by imputation DiD (:func:`cxroi.models.did.imputation_did`)
  — the same customers before and after, not pooled means. With an observational comparison
  each customer attribute (plan, region, channel, …) gets a linear month trend in the
  untreated-outcome model (parallel trends within attributes: spend, for one, drifts apart
  between plans as customers stop buying at different speeds); a randomised holdout gets none.
* **B, behaviour:** the churn hazard ratio (:func:`cxroi.models.did.hazard_did`) and spend per
  customer-month (imputation DiD on every month each customer was active, zeros included).
  Spend falls with tenure as customers stop buying, in money the faster the more a customer
  buys, so a targeted cell falls at a speed of its own: with an observational comparison
  the spend DiD also scales the comparison customers' mean month curve for the targeted
  group, fitted on its months before launch
  (:func:`cxroi.analyses.initiative_panels.targeted_trend`).
* **money:** the measured hazard ratio and spend effect, applied to the customers active at
  launch with their observed churn and margin, valued over the months observed since launch
  (:func:`cxroi.models.roi.realised_paths`), with a 95% Monte Carlo band over both effects;
  beside it ``roi simulate``'s value for the same customers (those measured), months, costs
  and discounting, from the expected NPS change and the data before launch only, with its
  90% predictive band.
* **do they agree?** The realised value is an estimate: it carries the sampling error of
  this measurement (its Monte Carlo draws), which a trend-adjusted comparison makes larger
  than the outcome noise ``roi simulate`` foresees for an ideal one. So the realised value is
  set against the simulation's band *for this measurement*: the 90% band of the simulated
  expected value (the estimates' uncertainty, draw by draw) plus this measurement's error
  (the realised draw less the realised estimate, paired draw by draw). It agrees when it
  falls inside; the simulation's own predictive band is reported beside it.

At scale the customer-months never leave the engine: the hazard cells (churns and months at
risk by month, group and attributes) and the treated customers' churn and margin after launch
are counted there over every customer. The two imputation DiDs need one row per customer and
month, so above ``MAX_CUSTOMERS`` customers a group enters them as a random sample of that
many (NPS: ``NPS_SAMPLE_FACTOR`` times as many); the estimator and its clustered interval are
unchanged, the interval only as wide as the sample makes it, and ``method`` says so. A test
checks that the sampled estimates differ from the DiD on every customer by no more than
three standard errors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.analyses.initiative_panels import (
    attributes,
    customer_spans,
    groups,
    hazard_cells,
    id_frame,
    missing_to_none,
    month_index,
    months_frame,
    months_table,
    nps_panel,
    targeted_trend,
    treated_after,
    trends,
)  # fmt: skip
from cxroi.analyses.roi import simulation
from cxroi.cache import cached
from cxroi.errors import CxroiError, param
from cxroi.models.did import DiDEstimate, hazard_did, imputation_did
from cxroi.models.roi import ROIPaths, realised_paths
from cxroi.results import Result, Table, estimate_frame, format_cell
from cxroi.window import Window, to_date

__all__ = ["roi_measure"]

MIN_TREATED = 30
"""Fewer treated observations than this flag an effect ``small-n``."""
RELATIONSHIP = "relationship"
MAX_CUSTOMERS = 5_000
"""Customers of each group in the spend DiD (one row per month active: ~20 per customer)."""
NPS_SAMPLE_FACTOR = 5
"""The NPS DiD takes this many times ``MAX_CUSTOMERS`` (one row per month answered)."""


def _sampled(g: dict[str, Any], caps: dict[str, int | None]) -> str:
    """The method's note on the DiDs fitted on a random sample of customers (or '')."""
    n_t, n_c = len(g["treated"]), len(g["control"])
    parts = [
        f"{name} on a random sample of {min(cap, n_t):,} of {n_t:,} targeted and "
        f"{min(cap, n_c):,} of {n_c:,} comparison customers"
        for name, cap in caps.items()
        if cap is not None and max(n_t, n_c) > cap
    ]
    return "; " + " and ".join(parts) if parts else ""


def _effect_row(metric: str, unit: str, e: DiDEstimate, n: int) -> dict[str, Any]:
    return {
        "metric": metric,
        "unit": unit,
        "estimate": e.estimate,
        "ci_low": e.ci_low,
        "ci_high": e.ci_high,
        "level": 0.95,
        "n": n,
        "pretrend_p": e.pretrend_p,
        "method": e.method,
    }


@progress.task("roi measure")
def roi_measure(
    ws: WorkspaceLike,
    initiative_id: str,
    *,
    survey: str | None = RELATIONSHIP,
    horizon_months: int | None = None,
    draws: int = 2000,
    expected_sd: float = 0.0,
    random_state: int = 0,
    max_customers: int | None = MAX_CUSTOMERS,
) -> Result:
    """Realised effects of an initiative on perception and behaviour, and its realised ROI.

    Parameters
    ----------
    initiative_id
        An initiative of the register that launched before the data end.
    survey
        The survey whose NPS is the perception measured (default the relationship survey;
        ``None``: every response with an NPS).
    horizon_months
        Months valued (default: the whole months observed since launch).
    draws
        Monte Carlo draws of the two behaviour effects for the ROI band.
    expected_sd
        Standard deviation of the expected NPS change for the simulated ROI beside the
        realised one (``roi simulate --effect-sd``; default 0: the change taken as given).
    random_state
        Seed of the Monte Carlo draws and of the samples below.
    max_customers
        Customers of each group (treated, comparison) in the spend DiD; a larger group is
        represented by a random sample of this many (the NPS DiD takes
        ``NPS_SAMPLE_FACTOR`` times as many: answers are sparser than months). The churn
        hazard and the money always count every customer. ``None``: every customer.

    Returns
    -------
    Result
        Table ``effects`` (NPS points, NPS score, churn hazard ratio, spend per month: each
        with its 95% interval, ``n`` treated observations, method and pre-trend p-value),
        table ``roi`` (realised NPV, ROI, payback, benefit and cost with a 95% band, and the
        simulated value for the same horizon with its 90% band) and table ``pretrend``; the
        realised ``npv``, ``roi`` and ``payback_months`` also in ``params``. Computed once
        per state of the data (:mod:`cxroi.cache`; the register and the settings are part of
        it): asked again, the answer is read back.
    """
    options: dict[str, Any] = {
        "initiative_id": initiative_id, "survey": survey, "horizon_months": horizon_months,
        "draws": draws, "expected_sd": expected_sd, "random_state": random_state,
        "max_customers": max_customers,
    }  # fmt: skip
    got = cached(ws, "roi-measure", options, lambda: {"result": _measure(ws, **options)})
    result = got["result"]
    assert isinstance(result, Result)
    return result


def _measure(
    ws: WorkspaceLike,
    initiative_id: str,
    *,
    survey: str | None,
    horizon_months: int | None,
    draws: int,
    expected_sd: float,
    random_state: int,
    max_customers: int | None,
) -> Result:
    """:func:`roi_measure`, computed."""
    if horizon_months is not None and horizon_months < 1:
        raise CxroiError(f"{param('horizon_months')} must be at least 1, got {horizon_months}")
    g = groups(ws, initiative_id)
    rec, first, last = g["rec"], g["first"], g["last"]
    start = to_date(rec["start_date"], "start")
    if start > last:
        raise CxroiError(
            f"initiative {initiative_id} starts on {start}, after the data end ({last}): "
            "there is nothing to measure yet; use roi simulate before launch"
        )
    launch = month_index(start, first)
    if launch <= 1:
        raise CxroiError(
            f"initiative {initiative_id} started on {start}, in the first month of the data "
            f"({first}): there is no before period to compare with"
        )
    end_day = (
        last
        if missing_to_none(rec["end_date"]) is None
        else min(to_date(rec["end_date"], "end"), last)
    )
    end = month_index(end_day, first)
    if end <= launch:
        raise CxroiError(
            f"initiative {initiative_id} launched on {start} and the data end on {end_day}: no "
            "whole month after launch yet; measure again when a month of data has arrived"
        )
    if not g["treated"]:
        raise CxroiError(f"initiative {initiative_id} reached no customer on its own to measure")
    if not g["control"]:
        raise CxroiError(
            f"initiative {initiative_id} has no comparison customers: every customer is "
            "targeted by some initiative, and it recorded no holdout"
        )
    warn: list[str] = []
    if g["overlap_left_out"]:
        warn.append(
            f"{g['overlap_left_out']:,} of {initiative_id}'s customers are also targeted by "
            f"{', '.join(g['overlapping'])}: they are left out of both groups, so the effect "
            f"is {initiative_id}'s alone on the customers it reached alone"
        )
    if survey is not None and "survey" in ws.table("responses").columns:
        rs = ws.table("responses")
        known = set(rs.select("survey").distinct().to_pandas()["survey"].dropna())
        if survey not in known:
            warn.append(f"no {survey!r} survey: NPS from every response instead")
            survey = None
    ids = id_frame(ws, g, launch, end, random_state=random_state)
    attrs = attributes(ws, g["treated"] | g["control"])
    # a randomised holdout needs no adjustment (and a small one cannot carry it); an
    # observational comparison gets a trend per customer attribute
    attr_cols = [] if g["randomised"] else list(attrs.columns[1:])
    nps_cap = None if max_customers is None else NPS_SAMPLE_FACTOR * max_customers
    nps = nps_panel(ws, ids, g, survey, sample=nps_cap).merge(attrs, on="customer_id", how="left")
    nps, trend = trends(nps, attr_cols, levels=False)
    rows, pre = [], []
    for metric, unit in (("nps_points", "NPS points"), ("nps_score", "points on 0-10")):
        e = imputation_did(nps, metric, covariates=trend)
        rows.append(_effect_row(metric, unit, e, e.n_treated_obs))
        if metric == "nps_points":
            pre = [{"outcome": metric, "lead": k, "coefficient": v} for k, v in e.leads.items()]
            nps_e = e
    # the customer-months stay in the engine: counted there into hazard cells, and read
    # into pandas only for the customers of the spend DiD
    spans = customer_spans(ws, ids, g)
    try:
        months = months_table(spans, g)
        cells = hazard_cells(ws, months, attr_cols, launch)
        spend = months_frame(ws, months, g, sample=max_customers)
        after = treated_after(ws, months, g, launch)
    finally:
        spans.release()
    cells, cell_terms = trends(cells, attr_cols, levels=True)
    hz = hazard_did(cells, covariates=cell_terms, randomised=g["randomised"])
    rows.append(_effect_row("churn_hazard_ratio", "ratio", hz, hz.n_treated_obs))
    pre += [{"outcome": "churn_hazard_ratio", "lead": k, "coefficient": v}
            for k, v in hz.leads.items()]  # fmt: skip
    spend = spend.merge(attrs, on="customer_id", how="left")
    spend, base = trends(spend, attr_cols, levels=False)
    spend, trend = (spend, base) if g["randomised"] else targeted_trend(spend, base, "spend")
    sp = imputation_did(spend, "spend", covariates=trend)
    if trend != base and not np.isfinite(sp.pretrend_p):
        # the targeted curve is fitted on the months before launch, which leaves no room for
        # lead terms there: the pre-trend test is that of the attribute trends alone
        pt = imputation_did(spend, "spend", covariates=base)
        sp = replace(sp, pretrend_p=pt.pretrend_p, pretrend_stat=pt.pretrend_stat, leads=pt.leads)
    rows.append(_effect_row("spend_per_month", "money", sp, sp.n_treated_obs))
    effects = estimate_frame(rows, min_n=MIN_TREATED)
    if sp.pretrend_failed and trend != base:
        warn.append(
            f"pre-trend check fails for spend on the attribute trends alone (p = "
            f"{sp.pretrend_p:.3f}): before launch the targeted customers' spend already moved "
            "at a speed of its own; the estimate carries that speed on along the comparison "
            "customers' curve, fitted on those months, but may still be biased"
        )
    for e, name in ((nps_e, "NPS"), (hz, "churn"), (sp, "spend")):
        if e.pretrend_failed and not (name == "spend" and trend != base):
            warn.append(
                f"pre-trend check fails for {name} (p = {e.pretrend_p:.3f}): before launch the "
                "targeted and comparison customers already moved apart, so this effect may be "
                "biased"
            )
    sampled = _sampled(g, {"NPS": nps_cap, "spend": max_customers})
    n_launch, h1, m1 = (after[k] for k in ("customers_at_launch", "churn_monthly",
                                           "margin_monthly"))  # fmt: skip
    horizon = int(horizon_months or (end - launch + 1))
    rng = np.random.default_rng(random_state)
    hr = np.concatenate([[hz.estimate], np.exp(rng.normal(np.log(hz.estimate), hz.se, draws))])
    ds = np.concatenate([[sp.estimate], rng.normal(sp.estimate, sp.se, draws)])
    running = missing_to_none(rec.get("running_cost")) or 0.0
    rate = ws.settings.discount_rate
    paths = realised_paths(
        customers=n_launch, churn_monthly=h1, margin_monthly=m1, hazard_ratio=hr,
        spend_effect=ds, cost=float(rec["cost"]), running_cost=float(running),
        horizon_months=horizon, discount_rate=rate,
    )  # fmt: skip
    sim = _simulated(
        ws, initiative_id, horizon, start, survey, expected_sd, warn, g["treated"], paths,
        draws, random_state,
    )  # fmt: skip
    roi_rows = []
    for q, x, unit in (("npv", paths.npv, "money"), ("roi", paths.roi, "ratio"),
                       ("benefit", paths.pv_benefit, "money"),
                       ("payback_months", paths.payback_month, "month")):  # fmt: skip
        lo, hi = (np.nanquantile(x[1:], [0.025, 0.975]) if np.isfinite(x[1:]).any()
                  else (np.nan, np.nan))  # fmt: skip
        s = sim.get(q, {})
        roi_rows.append({"quantity": q, "unit": unit, "estimate": float(x[0]),
                         "ci_low": float(lo), "ci_high": float(hi), "level": 0.95,
                         "n": n_launch, "simulated": s.get("estimate", np.nan),
                         "simulated_low": s.get("ci_low", np.nan),
                         "simulated_high": s.get("ci_high", np.nan),
                         "agreement_low": s.get("agreement_low", np.nan),
                         "agreement_high": s.get("agreement_high", np.nan)})  # fmt: skip
    roi_rows.append({"quantity": "cost", "unit": "money", "estimate": paths.pv_cost,
                     "n": n_launch, "flag": "exact", "simulated": paths.pv_cost})  # fmt: skip
    roi = estimate_frame(roi_rows, level=0.95, no_interval="not-estimable")
    costs = (
        f"one-off cost {format_cell(float(rec['cost']))} at launch and running cost "
        f"{format_cell(float(running))} a month for {horizon} months, discounted at "
        f"{rate:.0%} a year; the effect on support cost is not counted"
    )
    npv, roi_x, pay = float(paths.npv[0]), float(paths.roi[0]), float(paths.payback_month[0])
    agree = in_band = None
    if "npv" in sim and np.isfinite(sim["npv"].get("agreement_low", np.nan)):
        agree = bool(sim["npv"]["agreement_low"] <= npv <= sim["npv"]["agreement_high"])
        in_band = bool(sim["npv"]["ci_low"] <= npv <= sim["npv"]["ci_high"])
    readings = _readings(initiative_id, rec, effects, npv, roi_x, pay, horizon, sim, agree)
    method = (
        f"treated: the target group less its holdout; comparison: {g['design']}. "
        f"{nps_e.method}; {hz.method}{sampled}. Money: {costs}."
    )
    return Result(
        "roi_measure",
        f"ROI after launch: {initiative_id}",
        [
            Table(
                "effects",
                f"Realised effects of {initiative_id}",
                effects,
                method=method,
                view=["metric", "estimate", "ci_low", "ci_high", "n", "pretrend_p", "flag"],
            ),
            Table(
                "roi",
                f"Realised ROI of {initiative_id} over {horizon} months",
                roi,
                view=[
                    "quantity",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "simulated",
                    "simulated_low",
                    "simulated_high",
                    "agreement_low",
                    "agreement_high",
                    "flag",
                ],
            ),
            Table(
                "pretrend",
                "Pre-launch leads (NPS points; churn hazard ratio by quarter)",
                pd.DataFrame(pre, columns=["outcome", "lead", "coefficient"]),
                kind="data",
            ),
        ],  # fmt: skip
        method=method,
        window=Window.resolve(ws.tables).as_dict(),
        params={
            "initiative_id": initiative_id,
            "level": rec["level"],
            "design": g["design"],
            "treated_customers": len(g["treated"]),
            "comparison_customers": len(g["control"]),
            "left_out_overlap": g["overlap_left_out"],
            "launch": str(start),
            "months_after_launch": end - launch + 1,
            "horizon_months": horizon,
            "customers_at_launch": n_launch,
            "churn_monthly": h1,
            "margin_monthly": m1,
            "npv": npv,
            "roi": roi_x,
            "payback_months": None if np.isnan(pay) else pay,
            "costs_counted": costs,
            "simulated_customers": int(sim["customers"]["estimate"]) if sim else None,
            "simulated_spend_path": list(sim.get("spend_path", {}).values()) or None,
            "spend_monthly": after["spend_monthly"],
            "simulated_agrees": agree,
            "simulated_band_covers": in_band,
            "survey": survey,
            "draws": draws,
            "max_customers": max_customers,
        },
        warnings=warn,
        readings=readings,
    )


def _simulated(
    ws: WorkspaceLike, initiative_id: str, horizon: int, launch: dt.date, survey: str | None,
    expected_sd: float, warn: list[str], treated: set[str], realised: ROIPaths, draws: int,
    random_state: int,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """``roi simulate``'s value of the measured customers as at launch, for the same months:
    the estimate and the 90% predictive band, and the 90% band for this measurement (the
    simulated expected value plus the realised draws' error, paired draw by draw)."""
    try:
        sim = simulation(
            ws, initiative_id, horizon_months=horizon, draws=draws, as_of=launch,
            survey=survey, effect_sd=expected_sd, customers=treated,
            random_state=random_state + 2,  # draws of their own, apart from the realised ones
        )  # fmt: skip
    except CxroiError as err:
        warn.append(f"no simulated ROI beside the realised one: {err}")
        return {}
    warn += [f"simulated ROI: {w}" for w in sim.warnings]
    out: dict[str, dict[str, float]] = {"customers": {"estimate": float(sim.customers)}}
    if sim.spend_path is not None:  # expected spend per customer-month alive, month by month
        out["spend_path"] = {str(k): float(v) for k, v in enumerate(sim.spend_path, 1)}
    for q, x, e, r in (
        ("npv", sim.paths.npv, sim.expected.npv, realised.npv),
        ("roi", sim.paths.roi, sim.expected.roi, realised.roi),
        ("benefit", sim.paths.pv_benefit, sim.expected.pv_benefit, realised.pv_benefit),
        ("payback_months", sim.paths.payback_month, None, None),
    ):
        row = {"estimate": float(x[0])}
        row["ci_low"], row["ci_high"] = _band(x[1:])
        if e is not None and r is not None:
            k = min(len(e), len(r)) - 1
            row["agreement_low"], row["agreement_high"] = _band(
                e[1 : k + 1] + (r[1 : k + 1] - r[0])
            )
        out[q] = row
    return out


def _band(x: np.ndarray, level: float = 0.90) -> tuple[float, float]:
    """The central ``level`` band of the finite draws ``x`` (missing when there are none)."""
    x = x[np.isfinite(x)]
    if not len(x):
        return np.nan, np.nan
    lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _readings(
    iid: str, rec: Any, effects: pd.DataFrame, npv: float, roi: float, pay: float,
    horizon: int, sim: dict[str, dict[str, float]], agree: bool | None,
) -> list[str]:  # fmt: skip
    e = effects.set_index("metric")
    nps, hr = e.loc["nps_points"], e.loc["churn_hazard_ratio"]
    out = [
        f"{rec['name']} ({iid}, {rec['level']}) moved the NPS of the customers it reached by "
        f"{nps['estimate']:+.1f} points (95% CI {nps['ci_low']:+.1f} to {nps['ci_high']:+.1f}) "
        f"and their churn hazard by a ratio of {hr['estimate']:.2f} ({hr['ci_low']:.2f} to "
        f"{hr['ci_high']:.2f}).",
        f"Over the {horizon} months since launch it returned an NPV of {format_cell(npv)}: "
        f"ROI {roi:.2f}"
        + (f", paid back in month {pay:.0f}." if np.isfinite(pay) else ", not paid back yet."),
    ]
    if "npv" in sim:
        s = sim["npv"]
        out.append(
            f"Before launch, roi simulate expected {format_cell(s['estimate'])} (90% predictive"
            f" band {format_cell(s['ci_low'])} to {format_cell(s['ci_high'])}) for the same "
            "customers and months; with this measurement's own error the band is "
            f"{format_cell(s.get('agreement_low', np.nan))} to "
            f"{format_cell(s.get('agreement_high', np.nan))}: "
            + (
                "the realised value agrees with the simulation."
                if agree
                else "the realised value does not agree with the simulation."
            )  # fmt: skip
        )
    return out
