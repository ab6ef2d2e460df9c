"""The contract-churn report behind ``cxroi churn``: survival, hazard ratios, retention CLV.

One call, :func:`churn_report`, runs the survival view on a workspace: the per-customer churn
frame in the engine (:func:`cxroi.models.survival.churn_frame`), Kaplan-Meier survival by
segment, a Cox model with the NPS group of the latest answer and slow support response in the
previous calendar month as time-varying covariates (:func:`~cxroi.models.survival.churn_periods`),
and retention CLV by segment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from cxroi.errors import CxroiError
from cxroi.models.rfm import to_date
from cxroi.models.survival import (
    ChurnCox,
    _check_frame,
    churn_frame,
    churn_periods,
    kaplan_meier,
    retention_clv,
)

__all__ = ["churn_report"]


def _data_bounds(ws: Any) -> tuple[dt.date | None, dt.date | None]:
    """Earliest activity date (transactions, responses, tickets, events) and latest date."""
    lows, highs = [], []
    for table, col in (
        ("transactions", "ts"),
        ("responses", "ts"),
        ("tickets", "opened_at"),
        ("events", "ts"),
    ):
        t = ws.table(table)
        lo, hi = t.aggregate(lo=t[col].min(), hi=t[col].max()).execute().iloc[0]
        if pd.notna(lo):
            lows.append(pd.Timestamp(lo).date())
            highs.append(pd.Timestamp(hi).date())
    c = ws.table("contracts")
    a, b = c.aggregate(a=c.start_date.max(), b=c.end_date.max()).execute().iloc[0]
    highs += [pd.Timestamp(v).date() for v in (a, b) if pd.notna(v)]
    return (min(lows) if lows else None), (max(highs) if highs else None)


def churn_report(
    ws: Any,
    *,
    by: str = "plan",
    as_of: object | None = None,
    observed_from: object | None = None,
    nps_survey: str | None = None,
    slow_response_hours: float = 24.0,
    discount_rate: float | None = None,
    times: Sequence[float] = (3, 6, 12, 24),
) -> dict[str, Any]:
    """Survival by segment, Cox hazard ratios and retention CLV for a workspace's contracts.

    Parameters
    ----------
    ws : cxroi.store.Workspace
    by : str
        Customer attribute to segment by (also a Cox covariate).
    as_of, observed_from : date or str, optional
        End and start of observation; defaults: the last date in the data and the earliest
        activity date (transactions, responses, tickets, events).
    nps_survey : str, optional
        Use NPS answers from this survey only.
    slow_response_hours : float
        A ticket is slow when its first response takes longer.
    discount_rate : float, optional
        Annual rate for retention CLV; default the workspace's.
    times : sequence of float
        Tenures in months at which survival is reported.

    Returns
    -------
    dict
        ``as_of``, ``observed_from``, ``n_customers``, ``n_churned``, ``survival``
        (:func:`kaplan_meier`), ``hazard_ratios`` (:class:`ChurnCox` on :func:`churn_periods`:
        NPS group of the latest answer, slow response in the previous calendar month, ``by``),
        ``n_cox``, ``n_events`` and ``segments`` (:func:`retention_clv`).
    """
    lo, hi = _data_bounds(ws)
    as_of = hi if as_of is None else to_date(as_of, "as_of")
    observed_from = lo if observed_from is None else to_date(observed_from, "observed_from")
    if as_of is None:
        raise CxroiError("no contracts in the workspace: load contracts first")
    customers = ws.table("customers")
    if by not in customers.columns:
        raise CxroiError(
            f"--by {by!r} is not a column of customers; choose from {', '.join(customers.columns)}"
        )
    responses, tickets = ws.table("responses"), ws.table("tickets")
    frame = churn_frame(
        ws.table("contracts"), as_of=as_of, customers=customers, observed_from=observed_from
    ).execute()
    _check_frame(frame, [by])
    r = responses.filter(responses.nps.notnull(), responses.customer_id.notnull())
    if nps_survey is not None:
        r = r.filter(r.survey == nps_survey)
    answers = r.select("customer_id", "ts", "nps").execute()
    hours = tickets.first_response_at.delta(tickets.opened_at, unit="second") / 3600.0
    slow = tickets.filter(hours > slow_response_hours).select("customer_id", "opened_at").execute()
    periods = churn_periods(
        frame, nps=answers, slow_tickets=slow if int(tickets.count().execute()) else None
    )
    covariates = [
        c for c in ("nps_group", "slow_response") if c in periods and periods[c].notna().any()
    ]
    covariates.append(by)
    cox = ChurnCox(covariates, reference={"nps_group": "promoter"}).fit(periods)
    rate = ws.settings.discount_rate if discount_rate is None else float(discount_rate)
    return {
        "as_of": as_of,
        "observed_from": observed_from,
        "n_customers": int(len(frame)),
        "n_churned": int(frame.churned.sum()),
        "n_cox": cox.n_,
        "n_events": cox.n_events_,
        "survival": kaplan_meier(frame, by=by, times=times, min_n=ws.settings.min_n),
        "hazard_ratios": cox.summary.reset_index(),
        "segments": retention_clv(frame, by=by, annual_discount_rate=rate, min_n=ws.settings.min_n),
    }
