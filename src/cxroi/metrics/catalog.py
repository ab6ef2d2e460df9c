"""The catalogue of scorecard metrics: name, unit, source and formula from grouped counts.

The scorecard (:mod:`cxroi.metrics.scorecard`) runs one grouped aggregation per source table in
the engine and joins the results into a small "wide grid" (one row per period x group, with
counts, sums and sums of squares). This module turns that grid into every metric's value, ``n`` and
interval (:func:`metric_values`) and into the p-values of a change against a baseline
(:func:`metric_tests`), calling the one formula module of each metric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxroi.metrics import money
from cxroi.metrics._intervals import mean_interval, wilson
from cxroi.metrics.ces import ces_from_moments
from cxroi.metrics.compare import (
    mean_diff_from_moments,
    nps_diff_from_counts,
    proportion_diff_from_counts,
)
from cxroi.metrics.csat import csat_from_counts
from cxroi.metrics.nps import nps_from_counts

__all__ = ["DEFAULT_METRICS", "METRICS", "Metric", "metric_tests", "metric_values"]


@dataclass(frozen=True)
class Metric:
    """One scorecard metric (see :data:`METRICS`)."""

    name: str
    source: str  # the wide-frame family it needs
    unit: str  # "points", "%", "score", "currency", "customers", ...
    estimate: bool  # carries an interval; flagged small-n
    empty_flag: str
    description: str


METRICS: tuple[Metric, ...] = (
    Metric("nps", "nps", "points", True, "no-responses", "Net Promoter Score, -100..100"),
    Metric("csat", "csat", "%", True, "no-responses", "CSAT: share of 4-5 on 1-5"),
    Metric("ces", "ces", "score", True, "no-responses", "CES: mean on 1-7"),
    Metric("ces_5_7", "ces", "%", True, "no-responses", "CES: share of 5-7 on 1-7"),
    Metric("revenue", "transactions", "currency", False, "", "sum of transaction amounts"),
    Metric("transactions", "transactions", "transactions", False, "", "number of transactions"),
    Metric("buying_customers", "transactions", "customers", False, "", "customers who bought"),
    Metric(
        "avg_transaction",
        "transactions",
        "currency",
        True,
        "no-transactions",
        "average transaction size: revenue / transactions",
    ),
    Metric(
        "active_customers",
        "contracts",
        "customers",
        False,
        "",
        "customers with an active contract at the period start",
    ),
    Metric(
        "lost_customers",
        "contracts",
        "customers",
        False,
        "",
        "active at the start, coverage ended in the period",
    ),
    Metric(
        "churn_rate", "contracts", "%", True, "no-active-customers", "lost / active at the start"
    ),
    Metric(
        "new_customers",
        "contracts",
        "customers",
        False,
        "",
        "customers whose first contract starts in the period",
    ),
    Metric(
        "contract_value_signed",
        "contracts",
        "currency",
        False,
        "",
        "value of contracts starting in the period",
    ),
    Metric(
        "avg_contract_value",
        "contracts",
        "currency",
        False,
        "no-new-customers",
        "contract value signed / new customers",
    ),
    Metric("tickets", "tickets", "tickets", False, "", "support tickets opened"),
    Metric("support_cost", "tickets", "currency", False, "", "sum of ticket cost"),
    Metric(
        "support_cost_per_ticket",
        "tickets",
        "currency",
        True,
        "no-tickets",
        "mean cost of tickets with a cost",
    ),
    Metric(
        "support_cost_per_customer",
        "tickets+contracts",
        "currency",
        False,
        "no-active-customers",
        "support cost / active customers",
    ),
    Metric(
        "revenue_per_customer",
        "transactions+contracts",
        "currency",
        False,
        "no-active-customers",
        "revenue / active customers",
    ),
    Metric(
        "clv_simple",
        "transactions+contracts",
        "currency",
        True,
        "no-active-customers",
        "revenue per active customer / churn rate",
    ),
    Metric(
        "clv_retention",
        "transactions+contracts",
        "currency",
        True,
        "no-active-customers",
        "m r / (1 + i - r): m revenue per active customer, r = 1 - churn",
    ),
)
"""Every scorecard metric: name, source, unit, whether it is an estimate, its empty flag."""

DEFAULT_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS if m.name != "buying_customers")
"""Metrics reported unless ``metrics=`` asks otherwise (``buying_customers`` needs a distinct
count over every transaction, the costliest scan, so it is reported on request)."""


def _num(w: pd.DataFrame, col: str) -> np.ndarray:
    return (
        w[col].to_numpy(dtype="float64", na_value=np.nan) if col in w else np.full(len(w), np.nan)
    )


def metric_values(
    w: pd.DataFrame, have: set[str], *, level: float, disc: float
) -> dict[str, tuple[np.ndarray, ...]]:
    """Every metric the grid allows, computed from its counts.

    Parameters
    ----------
    w
        The wide grid: one row per period x group with the counts of each source family
        (``nps_promoters``, ``csat_n``, ``revenue``, ``active``, ``lost``, ...).
    have
        Families present: ``nps``, ``csat``, ``ces``, ``transactions``, ``contracts``,
        ``tickets``.
    level
        Confidence level of the intervals.
    disc
        Per-period discount rate of the retention CLV.

    Returns
    -------
    dict
        Metric name -> ``(value, n, ci_low, ci_high)`` arrays aligned with ``w``. Shares are in
        percent. The CLV intervals carry the churn rate's uncertainty only.
    """
    f = _num
    out: dict[str, tuple[np.ndarray, ...]] = {}
    nan = np.full(len(w), np.nan)
    if "nps" in have:
        r = nps_from_counts(
            f(w, "nps_promoters"), f(w, "nps_passives"), f(w, "nps_detractors"), level=level
        )
        out["nps"] = (r["nps"], r["n"], r["ci_low"], r["ci_high"])
    if "csat" in have:
        r = csat_from_counts(f(w, "csat_satisfied"), f(w, "csat_n"), level=level)
        out["csat"] = (r["csat"], r["n"], r["ci_low"], r["ci_high"])
    if "ces" in have:
        r = ces_from_moments(
            f(w, "ces_n"), f(w, "ces_sum"), f(w, "ces_sumsq"), f(w, "ces_easy"), level=level
        )
        out["ces"] = (r["mean"], r["n"], r["ci_low"], r["ci_high"])
        out["ces_5_7"] = (r["share_5_7"], r["n"], r["share_ci_low"], r["share_ci_high"])
    if "transactions" in have:
        n, rev = f(w, "transactions"), f(w, "revenue")
        mean, _, _, lo, hi = mean_interval(n, rev, f(w, "amount_sumsq"), level=level)
        out["revenue"] = (rev, n, nan, nan)
        out["transactions"] = (n, n, nan, nan)
        if "buying_customers" in w:
            out["buying_customers"] = (f(w, "buying_customers"), n, nan, nan)
        out["avg_transaction"] = (mean, n, lo, hi)
    if "contracts" in have:
        act, lost = f(w, "active"), f(w, "lost")
        p, _, lo, hi = wilson(lost, act, level=level)
        out["active_customers"] = (act, act, nan, nan)
        out["lost_customers"] = (lost, act, nan, nan)
        out["churn_rate"] = (100 * p, act, 100 * lo, 100 * hi)
        new, val = f(w, "new_customers"), f(w, "contract_value_signed")
        with np.errstate(divide="ignore", invalid="ignore"):
            acv = np.where(new > 0, val / np.where(new > 0, new, 1), np.nan)
        out["new_customers"] = (new, new, nan, nan)
        out["contract_value_signed"] = (val, f(w, "contracts_signed"), nan, nan)
        out["avg_contract_value"] = (acv, new, nan, nan)
    if "tickets" in have:
        n = f(w, "tickets")
        out["tickets"] = (n, n, nan, nan)
        if "support_cost" in w:
            cost = f(w, "support_cost")
            mean, _, _, lo, hi = mean_interval(
                f(w, "cost_n"), cost, f(w, "cost_sumsq"), level=level
            )
            out["support_cost"] = (cost, n, nan, nan)
            out["support_cost_per_ticket"] = (mean, f(w, "cost_n"), lo, hi)
            if "contracts" in have:
                act = f(w, "active")
                with np.errstate(divide="ignore", invalid="ignore"):
                    pc = np.where(act > 0, cost / np.where(act > 0, act, 1), np.nan)
                out["support_cost_per_customer"] = (pc, act, nan, nan)
    if "transactions" in have and "contracts" in have:
        act, rev = f(w, "active"), f(w, "revenue")
        cv, _, clo, chi = out["churn_rate"]
        with np.errstate(divide="ignore", invalid="ignore"):
            arpu = np.where(act > 0, rev / np.where(act > 0, act, 1), np.nan)
        c, c_lo, c_hi = cv / 100, clo / 100, chi / 100
        # The CLV intervals carry the churn rate's uncertainty (CLV is monotone in churn).
        out["revenue_per_customer"] = (arpu, act, nan, nan)
        out["clv_simple"] = (
            money.simple_clv(arpu, c),
            act,
            money.simple_clv(arpu, c_hi),
            money.simple_clv(arpu, c_lo),
        )
        out["clv_retention"] = (
            money.retention_clv(arpu, 1 - c, disc),
            act,
            money.retention_clv(arpu, 1 - c_hi, disc),
            money.retention_clv(arpu, 1 - c_lo, disc),
        )
    return out


def metric_tests(w: pd.DataFrame, b: pd.DataFrame, *, level: float) -> dict[str, np.ndarray]:
    """P-values of the change from baseline rows ``b`` to rows ``w`` (aligned row by row).

    NPS: adjusted-Wald difference; CSAT, CES 5-7 and churn: two-proportion z-test; CES mean,
    transaction size and cost per ticket: Welch's t-test. Other metrics have no test.

    Returns
    -------
    dict
        Metric name -> array of two-sided p-values.
    """
    f = _num
    p: dict[str, np.ndarray] = {}
    if "nps_promoters" in w:
        cols = ("nps_promoters", "nps_passives", "nps_detractors")
        r = nps_diff_from_counts(
            tuple(f(b, c) for c in cols), tuple(f(w, c) for c in cols), level=level
        )
        p["nps"] = r["p_value"]
    if "csat_n" in w:
        p["csat"] = proportion_diff_from_counts(
            f(b, "csat_satisfied"),
            f(b, "csat_n"),
            f(w, "csat_satisfied"),
            f(w, "csat_n"),
            level=level,
        )["p_value"]
    if "ces_n" in w:
        mom = ("ces_n", "ces_sum", "ces_sumsq")
        p["ces"] = mean_diff_from_moments(
            tuple(f(b, c) for c in mom), tuple(f(w, c) for c in mom), level=level
        )["p_value"]
        p["ces_5_7"] = proportion_diff_from_counts(
            f(b, "ces_easy"), f(b, "ces_n"), f(w, "ces_easy"), f(w, "ces_n"), level=level
        )["p_value"]
    if "transactions" in w:
        mom = ("transactions", "revenue", "amount_sumsq")
        p["avg_transaction"] = mean_diff_from_moments(
            tuple(f(b, c) for c in mom), tuple(f(w, c) for c in mom), level=level
        )["p_value"]
    if "active" in w:
        p["churn_rate"] = proportion_diff_from_counts(
            f(b, "lost"), f(b, "active"), f(w, "lost"), f(w, "active"), level=level
        )["p_value"]
    if "cost_n" in w:
        mom = ("cost_n", "support_cost", "cost_sumsq")
        p["support_cost_per_ticket"] = mean_diff_from_moments(
            tuple(f(b, c) for c in mom), tuple(f(w, c) for c in mom), level=level
        )["p_value"]
    return p
