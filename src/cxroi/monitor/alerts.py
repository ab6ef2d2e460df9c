"""Metric series with control bands, and the alerts they raise.

Everything comes from :func:`cxroi.metrics.scorecard.scorecard` (so from engine-side
aggregations over the tables passed in); this module only judges the small per-period series.

Alert rules, per metric and group:

- ``outside-band``: a point beyond its control band (:func:`~cxroi.monitor.control.control_band`);
- ``shift``: ``run`` consecutive points on one side of the series' centre line (reported once,
  at the point completing the run);
- ``change``: the last period differs significantly from the one before it (the scorecard's
  ``compare`` tests: NPS adjusted-Wald difference, two-proportion z-test, Welch's t-test).

Points flagged ``small-n`` or empty never alert. Each alert row carries the point's interval,
``level``, ``n`` and scorecard ``flag`` (the result contract), beside the control band.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError, param
from cxroi.metrics import money
from cxroi.metrics.scorecard import METRICS, scorecard
from cxroi.monitor.control import control_band, shift_runs
from cxroi.results import SMALL_N

__all__ = ["ALERT_METRICS", "alerts", "series"]

ALERT_METRICS: tuple[str, ...] = (
    "nps",
    "csat",
    "ces",
    "churn_rate",
    "avg_transaction",
    "support_cost_per_ticket",
)
"""Metrics watched by default: the estimates, whose bands come from their sampling error.
Totals (revenue, active customers) can be watched on request; their individuals chart flags
every point of a steady trend, which is rarely news."""


def series(
    tables: Mapping[str, Any],
    metric: str,
    *,
    by: Sequence[str] | str = (),
    period: str = "month",
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    sigma: float = 3.0,
    window: int | None = 6,
    min_n: int = 30,
    level: float = 0.95,
) -> pd.DataFrame:
    """One metric's series per group, with its control band.

    Parameters
    ----------
    tables
        A mapping of table name to table (as for :func:`~cxroi.metrics.scorecard.scorecard`).
    metric
        A scorecard metric name.
    by, period, since, until, min_n, level
        As for the scorecard.
    sigma, window
        Band width in standard errors, and the trailing periods the centre comes from
        (see :func:`~cxroi.monitor.control.control_band`).

    Returns
    -------
    pandas.DataFrame
        The scorecard rows of ``metric`` plus ``centre``, ``lower``, ``upper``, ``outside``.
    """
    if metric not in {m.name for m in METRICS}:
        raise CxroiError(f"unknown {param('metric')} {metric!r}")
    sc = scorecard(
        tables,
        by=by,
        period=period,
        since=since,
        until=until,
        min_n=min_n,
        level=level,
        metrics=[metric],
    )
    return _banded(sc, by, sigma=sigma, window=window, level=level, min_n=int(min_n))


def _banded(
    sc: pd.DataFrame,
    by: Sequence[str] | str,
    *,
    sigma: float,
    window: int | None,
    level: float,
    min_n: int,
) -> pd.DataFrame:
    by = [by] if isinstance(by, str) else list(by)
    parts = []
    for _, g in sc.groupby([*by, "metric"], sort=False) if len(sc) else []:
        est = g["ci_low"].notna().any()
        parts.append(
            control_band(g, sigma=sigma, window=window, level=level, min_n=min_n if est else 1)
        )
    if not parts:
        return sc.assign(centre=np.nan, lower=np.nan, upper=np.nan, outside=None)
    return pd.concat(parts).sort_index()


def alerts(
    tables: Mapping[str, Any],
    *,
    metrics: Sequence[str] | None = None,
    by: Sequence[str] | str = (),
    period: str = "month",
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    sigma: float = 3.0,
    window: int | None = 6,
    run: int = 8,
    recent: int | None = None,
    min_n: int = 30,
    level: float = 0.95,
) -> pd.DataFrame:
    """Every alert on the watched metrics: points outside their band, shifts, last changes.

    Parameters
    ----------
    tables
        A mapping of table name to table (as for :func:`~cxroi.metrics.scorecard.scorecard`).
    metrics
        Metrics to watch (default :data:`ALERT_METRICS`, as far as the data has them).
    by, period, since, until, min_n, level
        As for the scorecard.
    sigma, window
        Band width in standard errors and the trailing periods the centre comes from.
    run
        Consecutive points on one side of the centre that make a shift.
    recent
        Only report alerts in the last ``recent`` periods (default: every period).

    Returns
    -------
    pandas.DataFrame
        ``period``, the ``by`` columns, ``metric``, ``rule`` (``outside-band``, ``shift``,
        ``change``), ``value``, ``n``, ``centre``, ``lower``, ``upper``, ``detail``, and the
        point's ``ci_low``, ``ci_high``, ``level`` and scorecard ``flag``; one row per alert,
        latest first.
    """
    by_l = [by] if isinstance(by, str) else list(by)
    watch = list(metrics) if metrics is not None else list(ALERT_METRICS)
    min_n_v = int(min_n)
    sc = scorecard(
        tables,
        by=by_l,
        period=period,
        since=since,
        until=until,
        min_n=min_n_v,
        level=level,
        metrics=watch,
    )
    cols = [
        "period", *by_l, "metric", "rule", "value", "n", "centre", "lower", "upper", "detail",
        "ci_low", "ci_high", "level", "flag",
    ]  # fmt: skip
    if sc.empty:
        return pd.DataFrame(columns=cols)
    banded = _banded(sc, by_l, sigma=sigma, window=window, level=level, min_n=min_n_v)
    quiet = banded["flag"].map(_quiet)
    rows: list[dict] = []
    for _, g in banded.groupby([*by_l, "metric"], sort=False):
        g = g[~quiet.loc[g.index]]
        for _, r in g[g["outside"].notna()].iterrows():
            rows.append(
                {
                    **_key(r, by_l),
                    "rule": "outside-band",
                    **_vals(r),
                    "detail": f"{r['outside']} the {sigma:g}-sigma band"
                    + (f" of the {window} periods before" if window else ""),
                    **_interval(r),
                }
            )
        ok = g["value"].notna()
        if ok.sum() >= run:
            w = g.loc[ok, "n"].astype(float) if g["ci_low"].notna().any() else None
            centre = float(np.average(g.loc[ok, "value"], weights=w))
            marks = shift_runs(g.loc[ok, "value"], centre, run=run)
            starts = np.flatnonzero((marks != 0) & (np.r_[0, marks[:-1]] != marks))
            for i in starts:
                r = g.loc[ok].iloc[i]
                side = "above" if marks[i] > 0 else "below"
                rows.append(
                    {
                        **_key(r, by_l),
                        "rule": "shift",
                        **_vals(r),
                        "centre": centre,
                        "detail": f"{run} periods in a row {side} the centre {centre:.4g}",
                        **_interval(r),
                    }
                )
    # The last period against the one before it.
    k_last = int(max(money.parse_period(p, period) for p in sc["period"].unique()))
    last_label = money.period_label(k_last, period)
    prev = money.period_label(k_last - 1, period)
    if (sc["period"] == prev).any():
        cmp_ = scorecard(
            tables,
            by=by_l,
            period=period,
            since=prev,
            until=last_label,
            min_n=min_n_v,
            level=level,
            metrics=watch,
            compare=prev,
        )
        flags = cmp_["flag"].map(_flags)
        hit = cmp_[
            (cmp_["period"] == last_label)
            & flags.map(lambda f: "significant" in f and SMALL_N not in f)
        ]
        for _, r in hit.iterrows():
            rows.append(
                {
                    **_key(r, by_l),
                    "rule": "change",
                    "value": r["value"],
                    "n": r["n"],
                    "centre": np.nan,
                    "lower": np.nan,
                    "upper": np.nan,
                    "detail": f"{r['change']:+.4g} vs {prev} (p={r['p_value']:.2g})",
                    **_interval(r),
                }
            )
    out = pd.DataFrame(rows, columns=cols)
    if recent is not None:
        keep = {money.period_label(k_last - i, period) for i in range(recent)}
        out = out[out["period"].isin(keep)]
    if out.empty:
        return out.reset_index(drop=True)
    return out.sort_values(["period", "metric"], ascending=[False, True]).reset_index(drop=True)


def _key(r: pd.Series, by: list[str]) -> dict:
    return {"period": r["period"], **{b: r[b] for b in by}, "metric": r["metric"]}


def _vals(r: pd.Series) -> dict:
    return {k: r[k] for k in ("value", "n", "centre", "lower", "upper")}


def _interval(r: pd.Series) -> dict:
    return {k: r[k] for k in ("ci_low", "ci_high", "level", "flag")}


def _flags(flag: Any) -> list[str]:
    return [f for f in str(flag or "").split(";") if f]


def _quiet(flag: Any) -> bool:
    """Points that never alert: small samples and empty cells (``no-...`` flags)."""
    return any(f == SMALL_N or f.startswith("no-") for f in _flags(flag))
