"""Transactions → per-customer purchase summary (frequency, recency, T, mean repeat spend).

This is the input of the lifetime-value models in :mod:`cxroi.models.clv`. The aggregation is
one Ibis expression, so it runs in the engine where the transactions live (DuckDB locally, a
warehouse at scale); only the per-customer summary comes back to Python.

Definitions, for a calibration period that ends on ``calibration_end`` (inclusive):

- purchases are counted in **days**: all of a customer's transactions on one calendar day
  are one purchase whose amount is their sum (Fader, Hardie & Lee 2005 do the same);
- ``frequency`` — number of *repeat* purchase days (days after the first one);
- ``recency`` — time from the first to the last purchase day (0 if ``frequency`` is 0);
- ``T`` — time from the first purchase day to ``calibration_end``;
- ``monetary_value`` — mean amount of the repeat purchase days; null if ``frequency`` is 0
  (the first purchase is left out, as in Fader & Hardie's Gamma-Gamma note);
- with ``holdout_end``: ``holdout_frequency`` (purchase days in
  ``(calibration_end, holdout_end]``, counted the same way), ``holdout_value`` (their total
  amount) and ``holdout_duration``.

Times are in days divided by the unit length: day = 1, week = 7, month = 365.25 / 12.
Only customers whose first purchase falls on or before ``calibration_end`` are summarised.

Rows with a negative amount are refunds, not purchases: they are left out of every count and
amount here (a day with only refunds is not a purchase day). Zero amounts count as purchases.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
from ibis import _

from cxroi.errors import CxroiError, param
from cxroi.window import to_date

__all__ = ["TIME_UNITS", "rfm_summary"]

_DAY = dt.timedelta(days=1)

TIME_UNITS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
"""Length of each supported time unit, in days."""


def rfm_summary(
    transactions: ir.Table,
    *,
    calibration_end: object,
    holdout_end: object | None = None,
    time_unit: str = "week",
    customer_col: str = "customer_id",
    ts_col: str = "ts",
    amount_col: str = "amount",
    merge_same_day: bool = True,
) -> ir.Table:
    """Per-customer BG/NBD and Gamma-Gamma inputs from raw transactions, as an Ibis expression.

    Parameters
    ----------
    transactions : ibis.Table
        One row per transaction with a customer key, a timestamp (or date) and an amount.
    calibration_end : date or str
        Last day of the calibration period (inclusive).
    holdout_end : date or str, optional
        Last day of the holdout period (inclusive); adds the holdout columns.
    time_unit : {"day", "week", "month"}
        Unit of ``recency``, ``T`` and ``holdout_duration``.
    customer_col, ts_col, amount_col : str
        Column names.
    merge_same_day : bool, default True
        Count purchase days (the published convention). ``False`` counts distinct timestamps
        and measures times exactly (to the second); the calibration period then ends at
        midnight after ``calibration_end``.

    Returns
    -------
    ibis.Table
        ``customer_id`` (named after ``customer_col``), ``first_purchase`` (date),
        ``frequency`` (int64), ``recency``, ``T``, ``monetary_value`` (float64), and with a
        holdout ``holdout_frequency``, ``holdout_value``, ``holdout_duration``.

    Examples
    --------
    >>> tx = tables["transactions"]  # doctest: +SKIP
    >>> summary = rfm_summary(tx, calibration_end="1997-09-30")  # doctest: +SKIP
    >>> df = summary.execute()  # doctest: +SKIP
    """
    if time_unit not in TIME_UNITS:
        raise CxroiError(
            f"{param('time_unit')} must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}"
        )
    missing = [c for c in (customer_col, ts_col, amount_col) if c not in transactions.columns]
    if missing:
        raise CxroiError(f"transactions: missing column(s) {', '.join(missing)}")
    unit = TIME_UNITS[time_unit]
    cal_end = to_date(calibration_end, "calibration_end")
    ho_end = None if holdout_end is None else to_date(holdout_end, "holdout_end")
    if ho_end is not None and ho_end <= cal_end:
        raise CxroiError(
            f"{param('holdout_end')} {ho_end} must be after {param('calibration_end')} {cal_end}"
        )
    t = transactions
    if merge_same_day:
        key = t[ts_col].cast("date")
        last_key = ibis.literal(ho_end or cal_end)
        cal_key = ibis.literal(cal_end)

        def span(later: ir.Value, earlier: ir.Value) -> ir.FloatingValue:
            return later.delta(earlier, unit="day").cast("float64") / unit
    else:
        # Exact times: the calibration period ends at midnight after ``calibration_end``.
        key = t[ts_col].cast("timestamp")
        last_key = ibis.literal(dt.datetime.combine(ho_end or cal_end, dt.time()) + _DAY)
        cal_key = ibis.literal(dt.datetime.combine(cal_end, dt.time()) + _DAY)

        def span(later: ir.Value, earlier: ir.Value) -> ir.FloatingValue:
            secs = later.epoch_seconds() - earlier.epoch_seconds()
            return secs.cast("float64") / (86400.0 * unit)

    in_period = (_.day <= last_key) if merge_same_day else (_.day < last_key)
    daily = (
        t.select(cid=t[customer_col], day=key, amount=t[amount_col].cast("float64"))
        .filter(_.amount >= 0, in_period)
        .group_by("cid", "day")
        .aggregate(amount=_.amount.sum())
    )
    in_cal = (_.day <= cal_key) if merge_same_day else (_.day < cal_key)
    cal = daily.filter(in_cal)
    cal = cal.mutate(first_day=_.day.min().over(group_by="cid"))
    per = cal.group_by("cid").aggregate(
        first_purchase=_.first_day.min(),
        last_day=_.day.max(),
        days=_.day.count(),
        repeat_amount=_.amount.sum(where=_.day != _.first_day),
    )
    frequency = (per.days - 1).cast("int64")
    out = per.select(
        cid=per.cid,
        first_purchase=per.first_purchase,
        frequency=frequency,
        recency=span(per.last_day, per.first_purchase),
        T=span(cal_key, per.first_purchase),
        monetary_value=ibis.ifelse(
            frequency > 0, per.repeat_amount / frequency.cast("float64"), ibis.null("float64")
        ),
    )
    if ho_end is not None:
        ho = (
            daily.filter(~in_cal)
            .group_by("cid")
            .aggregate(holdout_frequency=_.day.count(), holdout_value=_.amount.sum())
        )
        out = out.left_join(ho, "cid").select(
            *[out[c] for c in out.columns],
            holdout_frequency=ho.holdout_frequency.fill_null(0).cast("int64"),
            holdout_value=ho.holdout_value.fill_null(0.0),
            holdout_duration=ibis.literal((ho_end - cal_end).days / unit, "float64"),
        )
    return out.rename({customer_col: "cid"}).order_by(customer_col)
