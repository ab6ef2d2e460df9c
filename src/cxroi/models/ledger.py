"""The per-customer A -> C -> B ledger: one row per customer, built in the engine.

Each row joins what the company did for the customer (A: tickets, first-response and
resolution times, cost to serve), what the customer thinks (C: latest and mean NPS, the NPS
group) and what the customer did (B: spend, purchases, churn and exposure), plus every
attribute of the customers table (plan, region, ...). All aggregation runs as one Ibis
expression; only the per-customer result is executed.

Exposure is counted from ``entry`` (the later of the customer's start and the first day the
data cover, :func:`cxroi.window.data_bounds`, so customers who signed up before the data begin
are left-truncated rather than credited with unobserved survival) to ``exit`` (the last
contract end for a churned customer, else the end of the data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.frames import to_frame
from cxroi.metrics.nps import nps_group_expr
from cxroi.window import data_bounds

__all__ = ["DAYS_PER_YEAR", "customer_ledger", "ledger_frame"]

DAYS_PER_YEAR = 365.25


def _hours(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    # float64 before dividing: Spark reads 3600.0 as a decimal, and integer / decimal rounds
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / 3600.0


def customer_ledger(
    tables: Mapping[str, ir.Table],
    *,
    as_of: dt.date | None = None,
    survey: str | None = None,
) -> ir.Table:
    """The per-customer ledger as an Ibis expression (nothing is executed but the bounds).

    Parameters
    ----------
    tables
        The canonical tables by name (``Workspace.tables``): customers, transactions,
        contracts, responses and tickets.
    as_of
        End of the data; default the last day of activity (:func:`cxroi.window.data_bounds`).
    survey
        Only responses of this survey give the customer's NPS (e.g. the relationship survey);
        default all responses with an NPS.

    Returns
    -------
    ibis.Table
        One row per customer of the customers table: its columns, then ``entry``, ``exit``,
        ``exposure_years``, ``tenure_years`` (at entry), ``churned``, ``spend``,
        ``purchases``, ``nps_latest``, ``nps_mean``, ``responses``, ``nps_group``
        (:func:`cxroi.metrics.nps.nps_group_expr`: missing without a response), ``tickets``,
        ``support_cost``, ``first_response_hours`` and ``resolution_hours`` (medians over the
        customer's tickets).
    """
    start_day, last_day = data_bounds(tables)
    if start_day is None or last_day is None:
        raise CxroiError("the workspace holds no transactions, responses, tickets or events yet")
    end = as_of or last_day
    cust = tables["customers"]
    tx = tables["transactions"]
    ct = tables["contracts"]
    rs = tables["responses"]
    tk = tables["tickets"]

    tx_agg = tx.group_by("customer_id").aggregate(
        spend=tx.amount.sum(), purchases=tx.count(), first_purchase=tx.ts.min()
    )
    ct_agg = ct.group_by("customer_id").aggregate(
        contracts=ct.count(),
        active_contracts=ct.end_date.isnull().ifelse(1, 0).cast("int64").sum(),
        contract_start=ct.start_date.min(),
        last_end=ct.end_date.max(),
    )
    rr = rs.filter(rs.customer_id.notnull() & rs.nps.notnull())
    if survey is not None:
        if "survey" not in rs.columns:
            raise CxroiError("responses have no 'survey' column to filter on")
        rr = rr.filter(rr.survey == survey)
    rs_agg = rr.group_by("customer_id").aggregate(
        nps_latest=rr.nps.argmax(rr.ts), nps_mean=rr.nps.mean(), responses=rr.count()
    )
    tk_agg = tk.group_by("customer_id").aggregate(
        tickets=tk.count(),
        support_cost=tk.cost.sum(),
        first_response_hours=_hours(tk.first_response_at, tk.opened_at).median(),
        resolution_hours=_hours(tk.resolved_at, tk.opened_at).median(),
    )
    led = cust
    for agg in (tx_agg, ct_agg, rs_agg, tk_agg):
        led = led.left_join(agg, "customer_id").drop("customer_id_right")
    start = ibis.coalesce(
        *([led.signup_date] if "signup_date" in led.columns else []),
        led.contract_start,
        led.first_purchase.date(),
    )
    led = led.mutate(_start=start)
    churned = (led.contracts.fill_null(0) > 0) & (led.active_contracts.fill_null(0) == 0)
    entry = ibis.greatest(led._start.fill_null(start_day), ibis.literal(start_day))
    exit_ = ibis.ifelse(churned, ibis.least(led.last_end, ibis.literal(end)), ibis.literal(end))
    # ifelse, not a cast: PostgreSQL casts no boolean to bigint
    led = led.mutate(entry=entry, exit=exit_, churned=churned.ifelse(1, 0).cast("int64"))
    days = led.exit.delta(led.entry, unit="day").cast("float64")
    led = led.mutate(
        exposure_years=ibis.greatest(days, 1.0) / DAYS_PER_YEAR,
        tenure_years=led.entry.delta(led._start.fill_null(start_day), unit="day").cast("float64")
        / DAYS_PER_YEAR,
        spend=led.spend.fill_null(0.0),
        purchases=led.purchases.fill_null(0),
        responses=led.responses.fill_null(0),
        tickets=led.tickets.fill_null(0),
        support_cost=led.support_cost.fill_null(0.0),
        nps_group=nps_group_expr(led.nps_latest),
    )
    return led.drop("_start", "first_purchase", "contract_start", "last_end", "active_contracts")


def ledger_frame(
    tables: Mapping[str, ir.Table],
    *,
    as_of: dt.date | None = None,
    survey: str | None = None,
) -> pd.DataFrame:
    """Execute :func:`customer_ledger` (one row per customer) into pandas, in ``customer_id``
    order: an engine returns the rows of a query without ``ORDER BY`` in any order, and the
    bootstraps over customers downstream draw one weight per row."""
    led = customer_ledger(tables, as_of=as_of, survey=survey)
    df = to_frame(led.order_by("customer_id"))
    if df.empty:
        raise CxroiError("the workspace holds no customers yet; ingest the customers table")
    return df
