"""What an initiative should return, before launch: ``cxroi roi simulate``.

Reads the initiative from the register, sizes its target group and its NPS mix from the
customer ledger, takes the behaviour of each NPS group (churn, spend, cost to serve) with its
bootstrap uncertainty from the value of perception, and values the expected NPS change over
the horizon (:mod:`cxroi.models.roi`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.analyses.initiatives import initiative_record
from cxroi.errors import CxroiError, param
from cxroi.metrics.nps import GROUPS, nps_group_expr
from cxroi.models.initiative import target_filter
from cxroi.models.ledger import ledger_frame
from cxroi.models.perception import group_draws
from cxroi.models.roi import roi_paths
from cxroi.results import Result, Table, estimate_frame, format_cell
from cxroi.window import Window

__all__ = ["roi_simulate"]

ASSUMPTIONS = (
    "an NPS change of D points is D% of the target customers moving one group up, split "
    "between detractor->passive and passive->promoter by their current shares; moved customers "
    "stay in their new group for the horizon; the target group is the customers active at "
    "launch; the effect is immediate and constant"
)


def _groups_before(ws: WorkspaceLike, day: dt.date, survey: str | None) -> pd.DataFrame:
    """Each customer's NPS group from their last answer before ``day``."""
    rs = ws.table("responses")
    rs = rs.filter(rs.nps.notnull() & rs.customer_id.notnull() & (rs.ts.date() < day))
    if survey is not None:
        rs = rs.filter(rs.survey == survey)
    last = rs.group_by("customer_id").aggregate(nps=rs.nps.argmax(rs.ts))
    return (
        last.mutate(nps_group=nps_group_expr(last.nps))
        .select("customer_id", "nps_group")
        .to_pandas()
    )


def roi_simulate(
    ws: WorkspaceLike,
    initiative_id: str,
    *,
    horizon_months: int = 36,
    draws: int = 1000,
    effect: float | None = None,
    effect_sd: float = 0.0,
    survey: str | None = None,
    level: float = 0.90,
    random_state: int = 0,
    as_of: dt.date | None = None,
) -> Result:
    """Expected NPV, ROI and payback of an initiative, with a Monte Carlo band.

    Parameters
    ----------
    initiative_id
        An initiative of the register whose metric is ``nps``.
    horizon_months
        Months valued after launch.
    draws
        Monte Carlo draws (bootstrap replicates of each NPS group's churn and margin).
    effect, effect_sd
        Expected NPS change in points (default: the initiative's ``expected_effect``) and its
        standard deviation across draws (default 0: the change is taken as given).
    survey
        NPS from this survey only for the groups (e.g. the relationship survey).
    level
        Level of the band (0.90: the 5th to 95th percentile of the draws).
    as_of
        Value the initiative as on this day (e.g. its launch): the target group is the
        customers active then, with the NPS group of their last answer before it. Default:
        the customers active at the data end.

    Returns
    -------
    Result
        Table ``roi`` (NPV, ROI, payback month, benefit, cost: point estimate and band) and
        table ``fan`` (cumulative discounted net by month: the band's ends and median), with
        the probability that ROI > 0 in ``params`` and the assumptions in ``method``.
    """
    rec = initiative_record(ws, initiative_id)[1].iloc[0]
    metric = rec.get("metric")
    metric = "nps" if metric is None or pd.isna(metric) else metric
    if metric != "nps":
        raise CxroiError(
            f"initiative {initiative_id} aims at {metric}; roi simulate values NPS changes "
            "(a rating or CSAT path through the key drivers comes with ROI measurement)"
        )
    delta = effect if effect is not None else rec.get("expected_effect")
    if delta is None or pd.isna(delta):
        raise CxroiError(
            f"initiative {initiative_id} has no expected effect; give {param('effect')} "
            "(NPS points)"
        )
    if draws < 1:
        raise CxroiError(f"{param('draws')} must be at least 1, got {draws}")
    target = None if pd.isna(rec.get("target")) else rec.get("target")
    led = ledger_frame(ws.tables, survey=survey)
    cust = ws.table("customers")
    pred = target_filter(cust, target)
    ids = (cust if pred is None else cust.filter(pred)).select("customer_id").to_pandas()
    group = led[led["customer_id"].isin(ids["customer_id"])]
    if as_of is None:
        active = group[group["churned"] == 0]
    else:
        day = pd.Timestamp(as_of)
        live = (pd.to_datetime(group["entry"]) <= day) & (pd.to_datetime(group["exit"]) >= day)
        active = (
            group[live]
            .drop(columns="nps_group")
            .merge(_groups_before(ws, as_of, survey), on="customer_id", how="left")
        )
    rated = active["nps_group"].dropna()
    if rated.empty:
        raise CxroiError(f"no active customer of {initiative_id}'s target group has an NPS")
    shares = rated.value_counts(normalize=True).to_dict()
    rate = ws.settings.discount_rate
    beh = group_draws(led, n_boot=draws, discount_rate=rate, random_state=random_state)
    churn = {g: beh[g]["churn_rate"] for g in GROUPS if g in beh}
    margin = {
        g: beh[g]["spend_per_year"] - beh[g]["support_cost_per_year"] for g in GROUPS if g in beh
    }
    rng = np.random.default_rng(random_state + 1)
    deltas = np.full(draws + 1, float(delta))
    if effect_sd > 0:
        deltas[1:] = rng.normal(float(delta), effect_sd, draws)
    running = rec.get("running_cost")
    paths = roi_paths(
        customers=len(active), shares=shares, churn=churn, margin=margin, delta_points=deltas,
        cost=float(rec["cost"]), running_cost=0.0 if running is None or pd.isna(running)
        else float(running), horizon_months=horizon_months, discount_rate=rate,
    )  # fmt: skip
    alpha = (1 - level) / 2

    def band(x: np.ndarray) -> tuple[float, float]:
        body = x[1:] if len(x) > 1 else x
        if np.isnan(body).all():
            return np.nan, np.nan
        lo, hi = np.nanquantile(body, [alpha, 1 - alpha])
        return float(lo), float(hi)

    n = len(active)
    rows = []
    for name, x, unit in (
        ("npv", paths.npv, "money"),
        ("roi", paths.roi, "ratio"),
        ("benefit", paths.pv_benefit, "money"),
        ("payback_month", paths.payback_month, "month"),
    ):
        lo, hi = band(x)
        row = {"quantity": name, "unit": unit, "estimate": float(x[0]),
               "ci_low": lo, "ci_high": hi, "level": level, "n": n}  # fmt: skip
        if np.isnan(x[0]) or np.isnan(lo):  # e.g. no payback within the horizon
            row["flag"] = "not-estimable"
        rows.append(row)
    rows.append({"quantity": "cost", "unit": "money", "estimate": paths.pv_cost,
                 "ci_low": np.nan, "ci_high": np.nan, "n": n, "flag": "exact"})  # fmt: skip
    summary = estimate_frame(rows, level=level, no_interval="point-only")
    body = paths.net[1:] if len(paths.net) > 1 else paths.net
    lo_q, mid_q, hi_q = np.nanquantile(body, [alpha, 0.5, 1 - alpha], axis=0)
    fan = pd.DataFrame(
        {"month": np.arange(1, horizon_months + 1), "net_point": paths.net[0],
         "net_low": lo_q, "net_median": mid_q, "net_high": hi_q}
    )  # fmt: skip
    p_pos = float(np.mean(paths.roi[1:] > 0)) if draws else float(paths.roi[0] > 0)
    pay = paths.payback_month[0]
    reading = (
        f"Over {horizon_months} months, {rec['name']} ({initiative_id}) is expected to return "
        f"an NPV of {format_cell(paths.npv[0])} ({level:.0%} band "
        f"{format_cell(rows[0]['ci_low'])} to {format_cell(rows[0]['ci_high'])}) on a cost of "
        f"{format_cell(paths.pv_cost)}: ROI {paths.roi[0]:.2f}, probability ROI > 0 {p_pos:.2f}"
        + (
            f", paying back in month {pay:.0f}."
            if not np.isnan(pay)
            else ", not paying back within the horizon."
        )
    )
    method = (
        "Monte Carlo over bootstrap replicates of each NPS group's churn and margin "
        f"(value of perception, {draws} draws); {ASSUMPTIONS}"
    )
    return Result(
        "roi_simulate",
        f"ROI before launch: {initiative_id}",
        [
            Table(
                "roi",
                f"ROI before launch: {initiative_id} ({rec['level']})",
                summary,
                method=method,
            ),
            Table("fan", "Cumulative discounted net value by month", fan, kind="data"),
        ],  # fmt: skip
        method=method,
        window=Window.resolve(ws.tables).as_dict(),
        params={
            "initiative_id": initiative_id,
            "level": rec["level"],
            "target": target,
            "target_customers": n,
            "nps_change": float(delta),
            "effect_sd": effect_sd,
            "shares": {g: float(shares.get(g, 0.0)) for g in GROUPS},
            "horizon_months": horizon_months,
            "discount_rate": rate,
            "draws": draws,
            "probability_roi_positive": p_pos,
            "random_state": random_state,
            "as_of": None if as_of is None else str(as_of),
        },  # fmt: skip
        readings=[reading],
    )
