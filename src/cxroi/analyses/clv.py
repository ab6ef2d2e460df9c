"""The lifetime-value analysis behind ``cxroi clv``: fit, check against a holdout, value segments.

:func:`clv` runs the whole analysis on a workspace: the per-customer summary in the engine
(:func:`cxroi.models.rfm.rfm_summary`), BG/NBD and Gamma-Gamma fits
(:mod:`cxroi.models.clv`), the model's fit on a holdout period (predicted vs actual repeat
purchases, in total and by calibration frequency, as in Fader, Hardie & Lee 2005, figure 4)
and discounted CLV by a customer attribute, each segment with ``n``, an interval and the
``small-n`` flag.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from ibis import _
from scipy import stats

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError, SmallSampleWarning, param
from cxroi.metrics.money import period_discount_rate
from cxroi.models.clv import BetaGeo, GammaGamma, discounted_purchases, holdout_by_frequency
from cxroi.models.rfm import TIME_UNITS, rfm_summary
from cxroi.results import SMALL_N, Result, Table, estimate_frame

__all__ = ["clv"]

DAYS_PER_YEAR = 365.25
LEVEL = 0.95


@progress.task("clv")
def clv(
    ws: WorkspaceLike,
    *,
    calibration_end: object,
    holdout_end: object | None = None,
    time_unit: str = "week",
    horizon: float | None = None,
    discount_rate: float | None = None,
    by: str = "plan",
) -> Result:
    """Fit BG/NBD + Gamma-Gamma on a workspace's transactions and value its customers.

    Parameters
    ----------
    ws
        The workspace (its ``transactions`` and ``customers`` tables are read).
    calibration_end : date or str
        Last day of the calibration period; CLV is for the ``horizon`` after it.
    holdout_end : date or str, optional
        Compare predicted and actual repeat purchases in ``(calibration_end, holdout_end]``.
    time_unit : {"day", "week", "month"}
        Unit of the summary and of ``horizon``.
    horizon : float, optional
        CLV horizon in ``time_unit``s; default one year.
    discount_rate : float, optional
        Annual discount rate; default the workspace's ``discount_rate``.
    by : str
        Customer attribute (column of ``customers``) to segment CLV by.

    Returns
    -------
    Result
        Tables ``segments`` (first: ``segment``, mean CLV as ``estimate`` with its interval,
        ``n``, ``total_clv``, ``flag``), ``params`` (BG/NBD ``r, alpha, a, b``) and
        ``spend_params`` (Gamma-Gamma ``p, q, v``), each parameter with ``estimate``, ``se``,
        interval and ``n``, and ``holdout`` (with ``holdout_end`` only: predicted and actual
        repeat purchases in total and by calibration frequency). ``params`` carry the counts,
        log-likelihoods, time unit, horizon, discount rate and holdout totals.

    Notes
    -----
    The segment interval is the normal interval of the mean CLV over the segment's customers
    (customer-to-customer variation); it does not include the uncertainty of the fitted
    parameters. The time-unit discount rate is
    :func:`cxroi.metrics.money.period_discount_rate`; discounting is per week for ``day``
    units.
    """
    s = ws.settings
    rate = s.discount_rate if discount_rate is None else float(discount_rate)
    if time_unit not in TIME_UNITS:
        raise CxroiError(
            f"{param('time_unit')} must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}"
        )
    per_unit = period_discount_rate(rate, time_unit)
    horizon = DAYS_PER_YEAR / TIME_UNITS[time_unit] if horizon is None else float(horizon)
    customers = ws.table("customers")
    if by not in customers.columns:
        raise CxroiError(
            f"{param('by')} {by!r} is not a column of customers; "
            f"choose from {', '.join(customers.columns)}"
        )
    tx = ws.table("transactions")
    progress.step("summarising purchases per customer")
    summary = rfm_summary(
        tx, calibration_end=calibration_end, holdout_end=holdout_end, time_unit=time_unit
    ).execute()
    if summary.empty:
        raise CxroiError(
            f"no customer has a purchase on or before {param('calibration_end')} {calibration_end}"
        )
    refunds = int(tx.filter(_.amount < 0).count().execute())
    freq = summary.frequency.to_numpy(float)
    rec = summary.recency.to_numpy(float)
    age = summary["T"].to_numpy(float)
    progress.step(f"fitting BG/NBD on {len(summary):,} customers")
    bg = BetaGeo().fit(freq, rec, age)
    repeat = summary[(summary.frequency > 0) & (summary.monetary_value > 0)]
    if len(repeat) < 10:
        raise CxroiError(
            f"only {len(repeat)} customers made a repeat purchase with positive spend before "
            f"{param('calibration_end')} {calibration_end}; the spend model needs at least 10"
        )
    progress.step(f"fitting Gamma-Gamma on {len(repeat):,} repeat buyers")
    gg = GammaGamma().fit(repeat.frequency, repeat.monetary_value)
    # Repeat buyers whose repeat purchases all had zero amount carry no spend information:
    # they get the population mean spend (as customers without repeat purchases do).
    money = summary.monetary_value.where(summary.monetary_value > 0).to_numpy(float)
    progress.step("valuing every customer")
    spend = gg.conditional_expected_average_value(np.where(np.isnan(money), 0.0, freq), money)
    purchases = discounted_purchases(
        bg,
        freq,
        rec,
        age,
        horizon=horizon,
        discount_rate=per_unit,
        step=7.0 if time_unit == "day" else 1.0,
    )
    values = purchases * spend

    params = {
        "n_customers": int(len(summary)),
        "n_repeat": int(len(repeat)),
        "refunds_excluded": refunds,
        "log_likelihood": bg.log_likelihood_,
        "spend_log_likelihood": gg.log_likelihood_,
        "time_unit": time_unit,
        "horizon": horizon,
        "discount_rate": rate,
        "discount_rate_per_unit": per_unit,
        "by": by,
    }
    tables = [
        _param_table("params", f"BG/NBD, {len(summary):,} customers, per {time_unit}", bg),
        _param_table("spend_params", f"Gamma-Gamma, {len(repeat):,} repeat buyers", gg),
    ]
    if holdout_end is not None:
        duration = float(summary.holdout_duration.iloc[0])
        predicted = bg.conditional_expected_purchases(duration, freq, rec, age)
        actual = summary.holdout_frequency.to_numpy(float)
        params |= {
            "holdout_duration": duration,
            "holdout_actual": float(actual.sum()),
            "holdout_predicted": float(predicted.sum()),
        }
        tables.append(_holdout_table(freq, actual, predicted, duration, time_unit))

    attrs = customers.select("customer_id", by).execute()
    frame = summary[["customer_id"]].assign(clv=values).merge(attrs, on="customer_id", how="left")
    segments, small = _segments(frame, by, s.min_n)
    title = f"CLV by {by} (horizon {horizon:.0f} {time_unit}s)"
    tables.insert(
        0,
        Table(
            "segments",
            title,
            segments,
            method="mean discounted CLV per customer (BG/NBD × Gamma-Gamma); normal interval "
            "of the mean over the segment's customers",
        ),
    )
    warns = []
    if small:
        msg = f"CLV by {by}: segment(s) {', '.join(small)} have fewer than {s.min_n} customers"
        warnings.warn(msg, SmallSampleWarning, stacklevel=2)
        warns.append(msg)
    window = {"calibration_end": str(calibration_end)}
    if holdout_end is not None:
        window["holdout_end"] = str(holdout_end)
    return Result(
        "clv",
        title,
        tables,
        method="BG/NBD (Fader, Hardie & Lee 2005) × Gamma-Gamma (Fader & Hardie 2013), "
        f"discounted at {rate:.1%} a year",
        window=window,
        params=params,
        warnings=warns,
        readings=_readings(segments, by, horizon, time_unit),
    )


def _param_table(name: str, title: str, model: BetaGeo | GammaGamma) -> Table:
    f = model.summary.reset_index().assign(n=model.n_customers_)
    return Table(
        name,
        title,
        estimate_frame(f, level=LEVEL),
        method="maximum likelihood; standard errors from the observed information, interval "
        "normal on the log scale",
    )


def _holdout_table(
    freq: np.ndarray, actual: np.ndarray, predicted: np.ndarray, duration: float, unit: str
) -> Table:
    by_freq = holdout_by_frequency(freq, actual, predicted)
    total = pd.DataFrame(
        {
            "frequency": ["all"],
            "n": [len(actual)],
            "actual": [float(actual.mean())],
            "predicted": [float(predicted.mean())],
        }
    )
    f = pd.concat([total, by_freq], ignore_index=True)
    f = pd.DataFrame(
        {
            "frequency": f["frequency"],
            "actual": f["actual"] * f["n"],
            "estimate": f["predicted"] * f["n"],
            "actual_per_customer": f["actual"],
            "predicted_per_customer": f["predicted"],
            "n": f["n"].astype("int64"),
        }
    )
    # The totals row holds the exact sums (the products above round).
    f.loc[0, ["actual", "estimate"]] = [float(actual.sum()), float(predicted.sum())]
    return Table(
        "holdout",
        f"Holdout repeat purchases ({duration:g} {unit}s)",
        estimate_frame(f, level=LEVEL, no_interval="point-only"),
        method="estimate: BG/NBD expected repeat purchases in the holdout given each customer's "
        "calibration history (a point prediction), beside the actual ones; by calibration "
        "frequency as in Fader, Hardie & Lee (2005), figure 4",
    )


def _segments(frame: pd.DataFrame, by: str, min_n: int) -> tuple[pd.DataFrame, list[str]]:
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    key = frame[by].astype(object).where(frame[by].notna(), "missing").astype(str)
    rows = []
    for name, g in frame.groupby(key):
        n = len(g)
        mean = float(g.clv.mean())
        half = z * float(g.clv.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
        rows.append(
            {
                "segment": name,
                "total_clv": float(g.clv.sum()),
                "estimate": mean,
                "ci_low": mean - half,
                "ci_high": mean + half,
                "n": n,
            }
        )
    out = estimate_frame(rows, level=LEVEL, min_n=min_n)
    small = out.loc[out["flag"].str.split(";").map(lambda f: SMALL_N in f), "segment"].tolist()
    return out, small


def _readings(segments: pd.DataFrame, by: str, horizon: float, unit: str) -> list[str]:
    if len(segments) < 2:
        return []
    top = segments.loc[segments["estimate"].idxmax()]
    low = segments.loc[segments["estimate"].idxmin()]
    return [
        f"Over the next {horizon:.0f} {unit}s a customer with {by} {top['segment']} is worth "
        f"{top['estimate']:,.2f} on average (95% interval {top['ci_low']:,.2f} to "
        f"{top['ci_high']:,.2f}), one with {by} {low['segment']} {low['estimate']:,.2f}."
    ]
