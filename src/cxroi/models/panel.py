"""The customer-month panel in memory (pandas): one row per customer and calendar month at risk.

The analyses build the same panel in the engine and only fetch its counts
(:mod:`cxroi.models.hazard`); this in-memory version is the small-data reference that the
engine panel is checked against, and it feeds :class:`cxroi.models.survival.ChurnCox` when a
lifelines fit of the rows themselves is wanted.

A customer is at risk from the calendar month of ``entry`` (the later of the start and the
first day observed, so customers who started before the data are left-truncated) to the month
of ``exit`` (the churn date, or the end of the data); the row of a churner's exit month carries
the event. The time axis is the calendar month since the first entry month: row :math:`m`
covers :math:`[m, m + 1)`, in counting-process form for a Cox model with delayed entry.

Two kinds of time-varying covariate come with it, each reduced to one value per customer-month
in the engine first (:func:`monthly_nps`, :func:`monthly_measure`):

- ``nps``: the latest NPS score given in the month or before (optionally only while it is at
  most ``max_age`` months old), and its ``nps_group`` (:func:`cxroi.metrics.nps.nps_group`: no
  current score, no group);
- ``measure_prev`` / ``n_measured_prev``: the worst (largest) value and the count of an
  operational measure (say the first-response hours of tickets) in the *previous* calendar
  month, since an experience can only act on churn after it happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.metrics.nps import nps_group

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["customer_months", "month_index", "month_of", "monthly_measure", "monthly_nps"]


def month_index(values: object, origin: pd.Period) -> np.ndarray:
    """Calendar months from ``origin`` to each date, timestamp or month in ``values``.

    >>> month_index(["2024-01-31", "2024-03-01"], pd.Period("2024-01", "M")).tolist()
    [0, 2]
    """
    s = pd.Series(values)
    if isinstance(s.dtype, pd.PeriodDtype):
        return (pd.PeriodIndex(s).asi8 - origin.ordinal).astype(np.int64)
    ts = pd.to_datetime(s)
    return ((ts.dt.year - origin.year) * 12 + (ts.dt.month - origin.month)).to_numpy(np.int64)


def month_of(values: object) -> pd.Series:
    """The calendar month (``Period[M]``) of each date or timestamp in ``values``.

    >>> month_of(["2024-01-31"]).tolist()
    [Period('2024-01', 'M')]
    """
    ords = month_index(values, pd.Period("1970-01", "M"))
    return pd.Series(pd.PeriodIndex.from_ordinals(ords, freq="M"))


def monthly_nps(responses: ir.Table, *, survey: str | None = None) -> pd.DataFrame:
    """The latest NPS score of each customer in each calendar month (computed in the engine).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``period`` (the calendar month, ``Period[M]``) and ``nps``.
    """
    rs = responses.filter(responses.customer_id.notnull() & responses.nps.notnull())
    if survey is not None:
        if "survey" not in rs.columns:
            raise CxroiError("responses have no 'survey' column to filter on")
        rs = rs.filter(rs.survey == survey)
    rs = rs.mutate(period=rs.ts.truncate("M"))
    out = rs.group_by(["customer_id", "period"]).aggregate(nps=rs.nps.argmax(rs.ts)).to_pandas()
    return out.assign(period=month_of(out["period"]).to_numpy())


def monthly_measure(rows: ir.Table, *, time: str = "_t", value: str = "_x") -> pd.DataFrame:
    """The largest value and the count of a measure per customer and calendar month (engine).

    Parameters
    ----------
    rows
        One row per measured thing (a ticket, an event): ``customer_id``, its timestamp
        ``time`` and its value ``value`` (rows with a missing value are not counted).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``period`` (``Period[M]``), ``x_max`` and ``n``.
    """
    r = rows.filter(rows[value].notnull() & rows.customer_id.notnull())
    r = r.mutate(period=r[time].truncate("M"))
    agg = r.group_by(["customer_id", "period"]).aggregate(x_max=r[value].max(), n=r.count())
    out = agg.to_pandas()
    return out.assign(period=month_of(out["period"]).to_numpy())


def customer_months(
    spans: pd.DataFrame,
    *,
    entry: str = "entry",
    exit: str = "exit",
    churned: str = "churned",
    nps: pd.DataFrame | None = None,
    max_age: int | None = None,
    measure: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The customer-month panel of ``spans`` (one row per customer and month at risk).

    Parameters
    ----------
    spans
        One row per customer: ``customer_id``, the first and last day at risk (columns
        ``entry`` and ``exit``) and whether the customer churned on the last (``churned``,
        bool or 0/1).
    nps
        :func:`monthly_nps`: scores per customer-month. A score counts from its month on,
        also for a customer who gave it before entering the panel.
    max_age
        Months a score stays current (0: only the month it was given); ``None``: for ever.
    measure
        :func:`monthly_measure` of an operational measure; it acts on the month after.

    Returns
    -------
    pandas.DataFrame
        Sorted by customer and month: ``customer_id``, ``month`` (index from the first entry
        month), ``period`` (the calendar month, ``Period[M]``), ``start`` and ``stop``
        (``month`` and ``month + 1``, the Cox time axis), ``churned`` (1 in a churner's exit
        month, else 0);
        with ``nps``: ``nps`` and ``nps_group`` (missing without a current score); with
        ``measure``: ``measure_prev`` (largest value in the previous month, missing if none)
        and ``n_measured_prev`` (count in the previous month).
    """
    if max_age is not None and max_age < 0:
        raise CxroiError(f"max_age must be 0 or more months, got {max_age}")
    missing = [c for c in ("customer_id", entry, exit, churned) if c not in spans.columns]
    if missing:
        raise CxroiError(f"the customer spans lack column(s): {', '.join(missing)}")
    if spans.empty:
        raise CxroiError("no customers to build a customer-month panel from")
    origin = pd.Timestamp(pd.to_datetime(spans[entry]).min()).to_period("M")
    first = month_index(spans[entry], origin)
    last = month_index(spans[exit], origin)
    counts = np.maximum(last - first + 1, 0)
    idx = np.repeat(np.arange(len(spans)), counts)
    month = np.arange(idx.size) - np.repeat(np.cumsum(counts) - counts, counts) + first[idx]
    event = spans[churned].fillna(False).astype(bool).to_numpy()
    panel = pd.DataFrame(
        {
            "customer_id": spans["customer_id"].to_numpy()[idx],
            "month": month,
            "period": pd.PeriodIndex.from_ordinals(origin.ordinal + month, freq="M"),
            "start": month.astype(float),
            "stop": month + 1.0,
            "churned": (event[idx] & (month == last[idx])).astype(int),
        }
    )
    if nps is not None:
        panel = _with_nps(panel, nps, origin, max_age)
    if measure is not None:
        m = measure[["customer_id", "x_max", "n"]].copy()
        m["month"] = month_index(measure["period"], origin) + 1  # acts on the next month
        panel = panel.merge(m, on=["customer_id", "month"], how="left")
        panel = panel.rename(columns={"x_max": "measure_prev", "n": "n_measured_prev"})
        panel["n_measured_prev"] = panel["n_measured_prev"].fillna(0).astype(int)
    return panel.sort_values(["customer_id", "month"], ignore_index=True)


def _with_nps(
    panel: pd.DataFrame, nps: pd.DataFrame, origin: pd.Period, max_age: int | None
) -> pd.DataFrame:
    """The latest score at or before each row's month (within ``max_age``) and its group."""
    answers = pd.DataFrame(
        {
            "customer_id": nps["customer_id"].to_numpy(),
            "month": month_index(nps["period"], origin),
            "nps": nps["nps"].astype(float).to_numpy(),
        }
    )
    answers = answers[answers["customer_id"].isin(panel["customer_id"])]
    answers = answers.assign(seen=answers["month"]).sort_values("month", kind="stable")
    panel = pd.merge_asof(
        panel.sort_values("month", kind="stable"),
        answers,
        on="month",
        by="customer_id",
        direction="backward",
    )
    if max_age is not None:
        panel.loc[panel["month"] - panel["seen"] > max_age, "nps"] = np.nan
    panel["nps_group"] = nps_group(panel["nps"].to_numpy())
    return panel.drop(columns="seen")
