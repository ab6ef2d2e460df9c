"""The lifetime-value report behind ``cxroi clv``: fit, check against a holdout, value segments.

One call, :func:`clv_report`, runs the whole analysis on a workspace: the per-customer summary
in the engine (:func:`cxroi.models.rfm.rfm_summary`), BG/NBD and Gamma-Gamma fits, the model's
fit on a holdout period (predicted vs actual repeat purchases, in total and by calibration
frequency, as in Fader, Hardie & Lee 2005, figure 4) and discounted CLV by a customer
attribute, each segment with ``n``, a 95% interval and a small-``n`` flag.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from ibis import _
from scipy import stats

from cxroi.errors import CxroiError, SmallSampleWarning
from cxroi.models.clv import BetaGeo, GammaGamma, discounted_purchases
from cxroi.models.rfm import TIME_UNITS, rfm_summary

__all__ = ["clv_report", "holdout_by_frequency"]

_UNITS_PER_YEAR = {u: 365.25 / d for u, d in TIME_UNITS.items()}


def holdout_by_frequency(
    frequency: np.ndarray, actual: np.ndarray, predicted: np.ndarray, *, top: int = 7
) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases by calibration frequency (``top``+ pooled).

    Returns
    -------
    DataFrame
        ``frequency`` (``"0"``, ``"1"``, …, ``"7+"``), ``n``, ``actual``, ``predicted`` (means
        per customer).
    """
    bucket = np.minimum(np.asarray(frequency, dtype=int), top)
    df = pd.DataFrame({"bucket": bucket, "actual": actual, "predicted": predicted})
    out = df.groupby("bucket").agg(
        n=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    labels = [f"{b}+" if b == top else str(b) for b in out.index]
    return out.reset_index(drop=True).assign(frequency=labels)[
        ["frequency", "n", "actual", "predicted"]
    ]


def clv_report(
    ws: Any,
    *,
    calibration_end: object,
    holdout_end: object | None = None,
    time_unit: str = "week",
    horizon: float | None = None,
    discount_rate: float | None = None,
    by: str = "plan",
) -> dict[str, Any]:
    """Fit BG/NBD + Gamma-Gamma on a workspace's transactions and value its customers.

    Parameters
    ----------
    ws : cxroi.store.Workspace
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
    dict
        ``params`` (BG/NBD ``r, alpha, a, b``), ``params_se``, ``log_likelihood``,
        ``spend_params`` (Gamma-Gamma ``p, q, v``), ``spend_params_se``, ``n_customers``,
        ``n_repeat``, ``refunds_excluded``, ``holdout`` (``None`` or a dict with ``duration``,
        ``actual``, ``predicted`` totals and ``by_frequency`` DataFrame) and ``segments`` —
        a DataFrame with ``segment, n, mean_clv, lower_95, upper_95, total_clv, small_n``.

    Notes
    -----
    The segment interval is the normal interval of the mean CLV over the segment's customers
    (customer-to-customer variation); it does not include the uncertainty of the fitted
    parameters. The time-unit discount rate is :math:`(1 + R)^{1/u} - 1` for an annual rate
    :math:`R` and :math:`u` units per year; discounting is per week for ``day`` units.
    """
    settings = ws.settings
    rate = settings.discount_rate if discount_rate is None else float(discount_rate)
    if not 0 <= rate < 1:
        raise CxroiError(f"discount rate must be in [0, 1) per year, got {rate}")
    if time_unit not in TIME_UNITS:
        raise CxroiError(f"time_unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}")
    per_year = _UNITS_PER_YEAR[time_unit]
    horizon = per_year if horizon is None else float(horizon)
    customers = ws.table("customers")
    if by not in customers.columns:
        raise CxroiError(
            f"--by {by!r} is not a column of customers; choose from {', '.join(customers.columns)}"
        )
    tx = ws.table("transactions")
    summary = rfm_summary(
        tx, calibration_end=calibration_end, holdout_end=holdout_end, time_unit=time_unit
    ).execute()
    if summary.empty:
        raise CxroiError(
            f"no customer has a purchase on or before the calibration end {calibration_end}"
        )
    refunds = int(tx.filter(_.amount < 0).count().execute())
    freq = summary.frequency.to_numpy(float)
    rec = summary.recency.to_numpy(float)
    age = summary["T"].to_numpy(float)
    bg = BetaGeo().fit(freq, rec, age)
    repeat = summary[(summary.frequency > 0) & (summary.monetary_value > 0)]
    if len(repeat) < 10:
        raise CxroiError(
            f"only {len(repeat)} customers made a repeat purchase with positive spend before "
            f"{calibration_end}; the spend model needs at least 10"
        )
    gg = GammaGamma().fit(repeat.frequency, repeat.monetary_value)
    # Repeat buyers whose repeat purchases all had zero amount carry no spend information:
    # they get the population mean spend (as customers without repeat purchases do).
    money = summary.monetary_value.where(summary.monetary_value > 0).to_numpy(float)
    spend = gg.conditional_expected_average_value(np.where(np.isnan(money), 0.0, freq), money)
    per_unit = (1 + rate) ** (1 / per_year) - 1
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

    holdout = None
    if holdout_end is not None:
        duration = float(summary.holdout_duration.iloc[0])
        predicted = bg.conditional_expected_purchases(duration, freq, rec, age)
        actual = summary.holdout_frequency.to_numpy(float)
        holdout = {
            "duration": duration,
            "actual": float(actual.sum()),
            "predicted": float(predicted.sum()),
            "by_frequency": holdout_by_frequency(freq, actual, predicted),
        }

    attrs = customers.select("customer_id", by).execute()
    frame = summary[["customer_id"]].assign(clv=values).merge(attrs, on="customer_id", how="left")
    segments = _segments(frame, by, settings.min_n)
    return {
        "params": dict(bg.params_),
        "params_se": dict(bg.standard_errors_),
        "log_likelihood": bg.log_likelihood_,
        "spend_params": dict(gg.params_),
        "spend_params_se": dict(gg.standard_errors_),
        "n_customers": int(len(summary)),
        "n_repeat": int(len(repeat)),
        "refunds_excluded": refunds,
        "time_unit": time_unit,
        "horizon": horizon,
        "annual_discount_rate": rate,
        "holdout": holdout,
        "segments": segments,
    }


def _segments(frame: pd.DataFrame, by: str, min_n: int) -> pd.DataFrame:
    z = stats.norm.ppf(0.975)
    key = frame[by].astype(object).where(frame[by].notna(), "missing").astype(str)
    rows = []
    for name, g in frame.groupby(key):
        n = len(g)
        mean = float(g.clv.mean())
        half = z * float(g.clv.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
        rows.append(
            {
                "segment": name,
                "n": n,
                "mean_clv": mean,
                "lower_95": mean - half,
                "upper_95": mean + half,
                "total_clv": float(g.clv.sum()),
                "small_n": n < min_n,
            }
        )
    out = pd.DataFrame(rows)
    small = out.loc[out.small_n, "segment"].tolist()
    if small:
        warnings.warn(
            f"CLV by {by}: segment(s) {', '.join(small)} have fewer than {min_n} customers",
            SmallSampleWarning,
            stacklevel=3,
        )
    return out
