"""The customer profile as of a day: one row per customer, what was known about them then.

Segments, archetypes and churn risk all read the same point-in-time profile: nothing after
``as_of`` enters it, so a model fitted on the profile of an earlier day can be validated on
the churn that followed (out of time). The aggregation is one Ibis expression, run in the
engine where the tables live; only the per-customer rows come back.

Columns (besides every column of the customers table):

- ``start`` (signup date, else the first contract or purchase), ``tenure_months``;
- contracts: ``contract_customer`` (has a contract started on or before ``as_of``),
  ``active`` (a contract customer with a contract open on ``as_of``), ``churn_date`` (last
  contract end of a customer with none open), ``contract_value`` (recurring value per month
  of the contracts open on ``as_of``), ``monthly_value`` (the same, or for a churned customer
  that of their last contracts), ``contracts``;
- purchases: ``purchases``, ``spend``, ``avg_transaction`` (spend ÷ purchases),
  ``recency_days`` (days since the last purchase), ``purchases_recent``, ``spend_recent``
  (within ``recent_days`` before ``as_of``), ``spend_per_month`` (spend over the months
  observed);
- journeys: ``visits_per_month`` (touchpoint events per month within ``recent_days``);
- support: ``tickets``, ``tickets_recent``, ``slow_recent`` (tickets within ``recent_days``
  whose first response took longer than ``slow_response_hours``), ``support_cost``;
- perception: ``nps_last`` and ``nps_last_at`` (the latest NPS answer and its day),
  ``nps_group`` (missing without an answer), ``nps_answers``, ``csat_last``, ``ces_last``
  (latest answers, missing without one).

A missing answer stays missing: nothing is imputed here.

:func:`margin_per_month` and :func:`customer_clv` are the one per-customer value of segments,
archetypes, churn risk and opportunities: recurring contract value plus purchases, less cost to
serve, per month; the retention CLV of DESIGN.md at a given monthly churn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from cxroi.errors import CxroiError
from cxroi.metrics.money import period_discount_rate, retention_clv
from cxroi.metrics.nps import nps_group_expr
from cxroi.window import to_date

__all__ = [
    "DAYS_PER_MONTH",
    "customer_clv",
    "customer_profile",
    "margin_per_month",
    "monthly_value",
]

DAYS_PER_MONTH = 365.25 / 12
_PERIOD_MONTHS = {"month": 1.0, "quarter": 3.0, "year": 12.0}


def monthly_value(c: ir.Table) -> ir.FloatingValue:
    """A contract's recurring value per month: ``value`` over the months of its
    ``billing_period`` (month, quarter, year; none is monthly; an unknown period 0)."""
    if "billing_period" not in c.columns:
        return c.value.cast("float64")
    months = ibis.cases(
        *[(c.billing_period == k, v) for k, v in _PERIOD_MONTHS.items()],
        (c.billing_period.isnull(), 1.0),
        else_=ibis.null("float64"),
    )
    return ibis.ifelse(months.isnull(), 0.0, c.value / months)


def customer_profile(
    tables: Mapping[str, ir.Table],
    *,
    as_of: object,
    recent_days: int = 90,
    slow_response_hours: float = 24.0,
    survey: str | None = None,
) -> ir.Table:
    """The per-customer profile on ``as_of`` (an Ibis expression; nothing is executed).

    Parameters
    ----------
    tables
        The canonical tables by name (``Workspace.tables``). Only ``customers`` is needed;
        missing or empty activity tables give zeros and missing answers.
    as_of
        The day of the profile (inclusive): later rows are ignored.
    recent_days
        Length of the recent window of ``purchases_recent``, ``tickets_recent``,
        ``slow_recent`` and ``visits_per_month``.
    slow_response_hours
        A ticket's first response is slow above this.
    survey
        Only this survey's answers give ``nps_last`` (e.g. the relationship survey).

    Returns
    -------
    ibis.Table
        One row per customer who started on or before ``as_of``; see the module docstring.
    """
    day = to_date(as_of, "as_of")
    end = ibis.literal(day)
    end_ts = ibis.literal(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
    since_ts = ibis.literal(
        dt.datetime.combine(day - dt.timedelta(days=recent_days - 1), dt.time())
    )
    cust = tables["customers"]
    out = cust
    joined: list[tuple[ir.Table, dict[str, object]]] = []

    ct = tables.get("contracts")
    if ct is not None:
        c = ct.filter(ct.start_date <= end)
        c = c.mutate(
            open=c.end_date.isnull() | (c.end_date > end),
            monthly=monthly_value(c),
            last_end_c=c.end_date.max().over(group_by="customer_id"),
        )
        joined.append(
            (
                c.group_by("customer_id").aggregate(
                    contracts=_.count(),
                    n_open=_.open.cast("int64").sum(),
                    contract_start=_.start_date.min(),
                    last_end=_.end_date.max(),
                    contract_value=_.monthly.sum(where=_.open),
                    last_value=_.monthly.sum(where=_.end_date == _.last_end_c),
                ),
                {},
            )
        )
    tx = tables.get("transactions")
    if tx is not None:
        t = tx.filter((tx.ts < end_ts) & (tx.amount >= 0))
        recent = t.ts >= since_ts
        joined.append(
            (
                t.group_by("customer_id").aggregate(
                    purchases=_.count(),
                    spend=_.amount.sum(),
                    first_purchase=_.ts.min(),
                    last_purchase=_.ts.max(),
                    purchases_recent=recent.cast("int64").sum(),
                    spend_recent=ibis.ifelse(recent, t.amount, 0.0).sum(),
                ),
                {},
            )
        )
    ev = tables.get("events")
    if ev is not None:
        e = ev.filter((ev.ts < end_ts) & (ev.ts >= since_ts))
        joined.append((e.group_by("customer_id").aggregate(visits_recent=_.count()), {}))
    tk = tables.get("tickets")
    if tk is not None:
        k = tk.filter(tk.opened_at < end_ts)
        hours = (k.first_response_at.epoch_seconds() - k.opened_at.epoch_seconds()) / 3600.0
        answered = k.first_response_at.notnull() & (k.first_response_at < end_ts)
        slow = (answered & (hours > slow_response_hours)) | (
            ~answered
            & (
                (end_ts.epoch_seconds() - k.opened_at.epoch_seconds()) / 3600.0
                > slow_response_hours
            )
        )
        recent_t = k.opened_at >= since_ts
        joined.append(
            (
                k.mutate(_slow=slow, _recent=recent_t)
                .group_by("customer_id")
                .aggregate(
                    tickets=_.count(),
                    tickets_recent=_._recent.cast("int64").sum(),
                    slow_recent=(_._recent & _._slow).cast("int64").sum(),
                    support_cost=_.cost.sum(),
                ),
                {},
            )
        )
    rs = tables.get("responses")
    if rs is not None:
        r = rs.filter(rs.customer_id.notnull() & (rs.ts < end_ts))
        n = r.filter(r.nps.notnull())
        if survey is not None:
            n = n.filter(n.survey == survey)
        joined.append(
            (
                n.group_by("customer_id").aggregate(
                    nps_last=_.nps.argmax(_.ts), nps_last_ts=_.ts.max(), nps_answers=_.count()
                ),
                {},
            )
        )
        for score in ("csat", "ces"):
            s = r.filter(r[score].notnull())
            joined.append(
                (
                    s.group_by("customer_id").aggregate(**{f"{score}_last": s[score].argmax(s.ts)}),
                    {},
                )
            )
    for agg, _unused in joined:
        out = out.left_join(agg, "customer_id").drop("customer_id_right")

    cols = set(out.columns)
    starts = [out[c] for c in ("signup_date",) if c in cols]
    if "contract_start" in cols:
        starts.append(out.contract_start)
    if "first_purchase" in cols:
        starts.append(out.first_purchase.date())
    if not starts:
        raise CxroiError("customers have no signup_date and there are no contracts or purchases")
    start = ibis.coalesce(*starts) if len(starts) > 1 else starts[0]
    out = out.mutate(start=start).filter(_.start.notnull() & (_.start <= end))
    tenure = end.delta(out.start, unit="day").cast("float64") / DAYS_PER_MONTH
    zero_i = ibis.literal(0, "int64")
    zero_f = ibis.literal(0.0, "float64")
    null_f = ibis.null("float64")

    def col(name: str, default: ir.Value) -> ir.Value:
        return out[name].fill_null(default) if name in cols else default

    contracts = col("contracts", zero_i)
    n_open = col("n_open", zero_i)
    purchases = col("purchases", zero_i)
    spend = col("spend", zero_f)
    months_seen = ibis.greatest(tenure, 1.0)
    new = {
        "tenure_months": tenure,
        "contract_customer": contracts > 0,
        "active": (contracts > 0) & (n_open > 0),
        "churn_date": (
            ibis.ifelse((contracts > 0) & (n_open == 0), out.last_end, ibis.null("date"))
            if "last_end" in cols
            else ibis.null("date")
        ),
        "contract_value": col("contract_value", zero_f),
        "monthly_value": ibis.ifelse(
            n_open > 0, col("contract_value", zero_f), col("last_value", zero_f)
        ),
        "contracts": contracts,
        "purchases": purchases,
        "spend": spend,
        "avg_transaction": ibis.ifelse(purchases > 0, spend / purchases.cast("float64"), null_f),
        "recency_days": (
            end.delta(out.last_purchase.date(), unit="day").cast("float64")
            if "last_purchase" in cols
            else null_f
        ),
        "purchases_recent": col("purchases_recent", zero_i),
        "spend_recent": col("spend_recent", zero_f),
        "spend_per_month": spend / months_seen,
        "visits_per_month": col("visits_recent", zero_i).cast("float64")
        / (recent_days / DAYS_PER_MONTH),
        "tickets": col("tickets", zero_i),
        "tickets_recent": col("tickets_recent", zero_i),
        "slow_recent": col("slow_recent", zero_i),
        "support_cost": col("support_cost", zero_f),
        "nps_last": out["nps_last"] if "nps_last" in cols else ibis.null("int64"),
        "nps_last_at": out["nps_last_ts"].date() if "nps_last_ts" in cols else ibis.null("date"),
        "nps_answers": col("nps_answers", zero_i),
        "csat_last": out["csat_last"] if "csat_last" in cols else ibis.null("int64"),
        "ces_last": out["ces_last"] if "ces_last" in cols else ibis.null("int64"),
    }
    new["nps_group"] = nps_group_expr(new["nps_last"])
    keep = [c for c in cust.columns]
    return out.select(*keep, start=out.start, **new).order_by("customer_id")


def margin_per_month(profile: pd.DataFrame) -> np.ndarray:
    """Each customer's value per month: recurring contract value (``monthly_value``) plus
    purchases (``spend_per_month``) less cost to serve (``support_cost`` over the months
    observed, at least one)."""
    months = np.maximum(profile["tenure_months"].to_numpy(float), 1.0)
    return (
        profile["monthly_value"].to_numpy(float)
        + profile["spend_per_month"].to_numpy(float)
        - profile["support_cost"].to_numpy(float) / months
    )


def customer_clv(margin: object, monthly_churn: object, annual_discount_rate: float) -> np.ndarray:
    """Retention CLV (:func:`cxroi.metrics.money.retention_clv`) of a monthly margin at a
    monthly churn probability, discounted monthly at the annual rate."""
    churn = np.asarray(monthly_churn, dtype=float)
    return retention_clv(margin, 1.0 - churn, period_discount_rate(annual_discount_rate, "month"))
