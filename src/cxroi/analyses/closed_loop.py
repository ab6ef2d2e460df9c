"""Closed-loop ROI: what following up a detractor does to churn and customer value.

``cxroi roi closed-loop``. When cases are opened on detractor answers and a random share of
them is held out at opening (status ``held_out``: recorded, not followed up), the followed-up
and held-out cases differ only by the follow-up, so a plain comparison is causal:

* **churn**: each customer's first case starts a clock; churn within ``window_months`` of
  it is the event (censored at the window's end or the data end). The hazard ratio of
  followed-up vs held-out cases comes from :class:`cxroi.models.survival.ChurnCox` (lifelines'
  Cox model), the churn share within the window per arm from Kaplan-Meier (Greenwood
  intervals). Only a customer's first case counts, so customers are independent and an
  earlier follow-up cannot colour a later one.
* **value**: the hazard ratio turned into customer value per followed-up case
  (:func:`cxroi.models.roi.followup_value`): the case customers' monthly margin times the
  discounted extra survival, with a 95% band from the hazard ratio's interval; and for all
  followed-up cases so far.

Nothing is said where there is no holdout: without one, followed-up detractors are the ones
the team chose to call, and a comparison would measure the choice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError, param
from cxroi.models.ledger import ledger_frame
from cxroi.models.roi import followup_value
from cxroi.models.survival import ChurnCox, kaplan_meier
from cxroi.results import Result, Table, estimate_frame, format_cell
from cxroi.window import Window, data_bounds

__all__ = ["roi_closed_loop"]

HELD_OUT = "held_out"
DAYS_PER_MONTH = 365.25 / 12


def _first_cases(ws: WorkspaceLike) -> pd.DataFrame:
    cases, rs = ws.table("cases"), ws.table("responses")
    j = cases.inner_join(rs.select("response_id", "customer_id"), "response_id")
    j = j.filter(j.customer_id.notnull())
    frame = j.select("customer_id", "case_id", "status", "opened_at").to_pandas()
    frame = frame.sort_values(["opened_at", "case_id"]).drop_duplicates("customer_id")
    return frame


def roi_closed_loop(
    ws: WorkspaceLike,
    *,
    window_months: int = 6,
    horizon_months: int = 36,
    draws: int = 2000,
    random_state: int = 0,
) -> Result:
    """Effect of following up detractor cases on churn and value, against the holdout.

    Parameters
    ----------
    window_months
        Months after a case in which churn is compared (and the follow-up assumed to act).
    horizon_months
        Months over which the extra survival is valued.

    Returns
    -------
    Result
        Table ``effects``: ``churn_hazard_ratio`` (followed-up vs held-out), the churn share
        within the window per arm, and ``value_per_case`` (customer value a follow-up adds),
        each with its 95% interval; ``value_all_cases`` in ``params``.
    """
    if window_months < 1:
        raise CxroiError(f"{param('window_months')} must be at least 1, got {window_months}")
    if horizon_months < window_months:
        raise CxroiError(
            f"{param('horizon_months')} ({horizon_months}) must cover the window "
            f"({window_months} months)"
        )
    first = _first_cases(ws)
    if first.empty:
        raise CxroiError("the workspace has no cases: nothing to close the loop on")
    held = first["status"] == HELD_OUT
    if not held.any():
        raise CxroiError(
            "no case is held out (status 'held_out'): without a random holdout recorded at "
            "opening, followed-up and other detractors differ by who was chosen, so the "
            "effect of following up cannot be measured"
        )
    if held.all():
        raise CxroiError("every case is held out: there is no followed-up case to compare")
    _, last = data_bounds(ws.tables)
    led = ledger_frame(ws.tables)[["customer_id", "exit", "churned", "spend", "support_cost",
                                   "exposure_years"]]  # fmt: skip
    f = first.merge(led, on="customer_id", how="inner")
    opened = pd.to_datetime(f["opened_at"])
    exit_ = pd.to_datetime(f["exit"])
    stop = (opened + pd.Timedelta(days=window_months * DAYS_PER_MONTH)).clip(
        upper=pd.Timestamp(last) + pd.Timedelta(days=1)
    )
    end = exit_.where(exit_ < stop, stop)
    f["entry"] = 0.0
    f["duration"] = ((end - opened).dt.total_seconds() / 86400 / DAYS_PER_MONTH).clip(lower=0)
    f["churned"] = ((f["churned"] == 1) & (exit_ <= stop)).astype(int)
    f = f[f["duration"] > 0]
    f["followed"] = (f["status"] != HELD_OUT).astype(float)
    f["arm"] = np.where(f["followed"] > 0, "followed up", "held out")
    cox = ChurnCox(["followed"], penalizer=0.0).fit(f)
    hr = cox.hazard_ratios_.loc["followed"]
    km = kaplan_meier(f, by="arm", times=(float(window_months),))

    months = f["exposure_years"] * 12
    margin = float((f["spend"] - f["support_cost"]).sum() / months.sum())
    fol = f[f["followed"] > 0]
    h1 = float(fol["churned"].sum() / fol["duration"].sum())
    rng = np.random.default_rng(random_state)
    b, se = float(cox.params_["followed"]), float(cox.standard_errors_["followed"])
    hrs = np.exp(np.concatenate([[b], rng.normal(b, se, draws)]))
    rate = ws.settings.discount_rate
    value = followup_value(
        churn_monthly=h1, hazard_ratio=hrs, margin_monthly=margin, window_months=window_months,
        horizon_months=horizon_months, discount_rate=rate,
    )  # fmt: skip
    v_lo, v_hi = np.quantile(value[1:], [0.025, 0.975])
    n_fol, n_held = int((f["followed"] > 0).sum()), int((f["followed"] == 0).sum())
    rows = [
        {"metric": "churn_hazard_ratio", "unit": "ratio", "estimate": hr["estimate"],
         "ci_low": hr["ci_low"], "ci_high": hr["ci_high"], "n": len(f),
         "method": f"Cox model, followed-up vs held-out first cases, churn within "
                   f"{window_months} months (lifelines)"},
    ]  # fmt: skip
    for _, k in km.iterrows():
        rows.append({"metric": f"churn_within_window ({k['segment']})", "unit": "share",
                     "estimate": 1 - k["estimate"], "ci_low": 1 - k["ci_high"],
                     "ci_high": 1 - k["ci_low"], "n": int(k["n"]),
                     "method": "Kaplan-Meier, Greenwood interval"})  # fmt: skip
    rows.append({"metric": "value_per_case", "unit": "money", "estimate": float(value[0]),
                 "ci_low": float(v_lo), "ci_high": float(v_hi), "n": n_fol,
                 "method": f"margin x discounted extra survival over {horizon_months} months, "
                           "Monte Carlo over the hazard ratio"})  # fmt: skip
    effects = estimate_frame(rows, level=0.95, min_n=30)
    total = float(value[0]) * n_fol
    readings = [
        f"Following up a detractor changes their churn hazard over the next {window_months} "
        f"months by a ratio of {hr['estimate']:.2f} (95% CI {hr['ci_low']:.2f} to "
        f"{hr['ci_high']:.2f}), from {n_fol:,} followed-up and {n_held:,} held-out cases.",
        f"That is worth {format_cell(float(value[0]))} of customer value per follow-up (95% "
        f"{format_cell(float(v_lo))} to {format_cell(float(v_hi))}), "
        f"{format_cell(total)} for the {n_fol:,} followed up so far; compare it with what a "
        "follow-up costs.",
    ]
    warn = []
    if hr["ci_low"] <= 1 <= hr["ci_high"]:
        warn.append("the interval of the hazard ratio includes 1: no effect of following up "
                    "can be told apart from chance yet")  # fmt: skip
    method = (
        "randomised holdout of cases recorded at opening (status held_out); first case per "
        f"customer; churn within {window_months} months compared by a Cox model; value: "
        f"margin per customer-month x discounted extra survival over {horizon_months} months"
    )
    return Result(
        "roi_closed_loop",
        "Closed-loop ROI: following up detractors",
        [
            Table(
                "effects",
                "What following up a detractor does",
                effects,
                method=method,
                view=["metric", "estimate", "ci_low", "ci_high", "n", "flag"],
            )
        ],  # fmt: skip
        method=method,
        window=Window.resolve(ws.tables).as_dict(),
        params={
            "window_months": window_months,
            "horizon_months": horizon_months,
            "followed_cases": n_fol,
            "held_out_cases": n_held,
            "churn_monthly_followed": h1,
            "margin_monthly": margin,
            "value_all_cases": total,
            "discount_rate": rate,
            "draws": draws,
        },
        warnings=warn,
        readings=readings,
    )
