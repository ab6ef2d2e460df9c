"""Scorecard analyses of a workspace: the scorecard, its alerts and retention cohorts.

Each function reads the workspace's tables and settings (``min_n``, NPS benchmark bands,
discount rate, currency), calls :mod:`cxroi.metrics.scorecard`, :mod:`cxroi.monitor` or
:mod:`cxroi.metrics.money`, and returns one :class:`~cxroi.results.Result`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.metrics.money import retention_cohorts
from cxroi.metrics.scorecard import benchmark_bands, benchmark_note
from cxroi.metrics.scorecard import scorecard as scorecard_frame
from cxroi.monitor.alerts import ALERT_METRICS
from cxroi.monitor.alerts import alerts as alerts_frame
from cxroi.results import SMALL_N, Result, Table, estimate_frame, format_cell

__all__ = ["alerts", "cohorts", "scorecard"]

SCORECARD_METHOD = (
    "NPS adjusted Wald (Rocks 2016); CSAT, CES 5-7, churn Wilson; means Student t; CLV carries "
    "the churn rate's uncertainty; intervals clipped to their scale; totals exact"
)
COMPARE_METHOD = (
    "change: NPS adjusted-Wald difference, two-proportion z-test for shares and churn, Welch's "
    "t-test for means"
)


def _by(by: Sequence[str] | str) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _span(frame: pd.DataFrame, since: object, until: object) -> dict[str, object]:
    if len(frame):
        return {"since": frame["period"].iloc[0], "until": frame["period"].iloc[-1]}
    return {"since": since, "until": until}


@progress.task("scorecard")
def scorecard(
    ws: WorkspaceLike,
    *,
    by: Sequence[str] | str = (),
    period: str = "month",
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    min_n: int | None = None,
    compare: str | dt.date | None = None,
    metrics: Sequence[str] | None = None,
) -> Result:
    """Every CX and money metric by period and group, with ``n``, interval and flags.

    Parameters
    ----------
    ws
        The workspace; its ``min_n``, ``nps_benchmarks``, ``discount_rate`` and ``currency``
        settings are used.
    by, period, since, until, compare, metrics
        As for :func:`cxroi.metrics.scorecard.scorecard` (``since``/``until`` in the one
        period grammar of :func:`cxroi.window.period_span`).
    min_n
        Flag estimates below this ``n`` (default: the workspace's ``min_n``).

    Returns
    -------
    Result
        Table ``scorecard`` (one row per period × group × metric: ``value``, ``ci_low``,
        ``ci_high``, ``level``, ``n``, ``flag``, ``unit``, ``benchmark``, and ``change``,
        ``p_value`` with ``compare``); ``params`` carry the settings used and the
        ``benchmark_note``; ``window`` the first and last period reported.
    """
    s = ws.settings
    by = _by(by)
    min_n = s.min_n if min_n is None else int(min_n)
    bands = benchmark_bands(s.nps_benchmarks)
    note = benchmark_note(bands)
    frame = scorecard_frame(
        ws.tables,
        by=by,
        period=period,
        since=since,
        until=until,
        min_n=min_n,
        compare=compare,
        benchmarks=bands,
        discount_rate=s.discount_rate,
        currency=s.currency,
        metrics=metrics,
    )
    method = SCORECARD_METHOD + (f"; {COMPARE_METHOD}" if compare is not None else "")
    view = [c for c in frame.columns if c not in ("period_start", "level")]
    small = (
        int(frame["flag"].map(lambda f: SMALL_N in str(f).split(";")).sum()) if len(frame) else 0
    )
    warns = (
        [f"{small} estimate(s) rest on fewer than {min_n} observations (flagged {SMALL_N})"]
        if small
        else []
    )
    title = f"Scorecard ({note})"
    return Result(
        "scorecard",
        title,
        [Table("scorecard", title, frame, method=method, view=view)],
        method=method,
        window={**_span(frame, since, until), "period": period},
        params={
            "by": by,
            "period": period,
            "min_n": min_n,
            "compare": compare,
            "metrics": sorted(frame["metric"].unique()) if len(frame) else list(metrics or []),
            "discount_rate": s.discount_rate,
            "currency": s.currency,
            "nps_benchmarks": {k: list(v) for k, v in bands.items()},
            "benchmark_note": note,
        },
        warnings=warns,
        readings=_nps_readings(frame, by),
    )


def _nps_readings(frame: pd.DataFrame, by: list[str]) -> list[str]:
    """The last period's NPS in words (overall scorecards only)."""
    if by or not len(frame):
        return []
    rows = frame[(frame["metric"] == "nps") & frame["value"].notna()]
    if not len(rows):
        return []
    r = rows.iloc[-1]
    ci = (
        f" (95% interval {format_cell(r['ci_low'])} to {format_cell(r['ci_high'])}, n = {r['n']})"
        if np.isfinite(r["ci_low"])
        else f" (n = {r['n']})"
    )
    band = f", {r['benchmark']}" if r["benchmark"] else ""
    return [f"NPS in {r['period']}: {format_cell(r['value'])}{ci}{band}."]


@progress.task("alerts")
def alerts(
    ws: WorkspaceLike,
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
    min_n: int | None = None,
) -> Result:
    """Metric points outside their control band, sustained shifts and significant changes.

    Parameters are those of :func:`cxroi.monitor.alerts`; ``min_n`` defaults to the
    workspace's. Returns a result with table ``alerts`` (one row per alert, latest first:
    ``rule``, ``value`` with the point's interval, ``n``, ``flag``, the band's ``centre``,
    ``lower``, ``upper`` and a ``detail``).
    """
    by = _by(by)
    min_n = ws.settings.min_n if min_n is None else int(min_n)
    frame = alerts_frame(
        ws.tables,
        metrics=metrics,
        by=by,
        period=period,
        since=since,
        until=until,
        sigma=sigma,
        window=window,
        run=run,
        recent=recent,
        min_n=min_n,
    )
    method = (
        f"control bands of {sigma:g} standard errors around the "
        + (f"{window} periods before each point" if window else "other points of the series")
        + f" (individuals chart for totals); shift: {run} points in a row on one side of the "
        "centre; change: the last period against the one before it. Points flagged "
        f"{SMALL_N} or empty never alert."
    )
    readings = [] if len(frame) else ["No alerts: every watched metric stayed inside its band."]
    return Result(
        "alerts",
        f"Alerts ({len(frame)})",
        [Table("alerts", "Alerts", frame, method=method)],
        method=method,
        window={"since": since, "until": until, "period": period},
        params={
            "by": by,
            "metrics": list(metrics) if metrics is not None else list(ALERT_METRICS),
            "sigma": sigma,
            "window": window,
            "run": run,
            "recent": recent,
            "min_n": min_n,
        },
        readings=readings,
    )


@progress.task("retention cohorts")
def cohorts(ws: WorkspaceLike, *, period: str = "month") -> Result:
    """Retention by signup cohort: the share of each cohort active at each later period start.

    Returns a result with table ``cohorts``: ``cohort``, ``age`` (periods since signup),
    ``retained``, ``estimate`` (the retained share), ``ci_low``, ``ci_high`` (Wilson),
    ``level``, ``n`` (the cohort's size) and ``flag`` (``small-n`` below the workspace's
    ``min_n``).
    """
    raw = retention_cohorts(ws.table("contracts"), ws.table("customers"), period=period)
    frame = estimate_frame(
        raw.rename(columns={"rate": "estimate", "customers": "n"}), min_n=ws.settings.min_n
    )
    method = (
        "share of each signup cohort (signup date, else first contract start) with an active "
        "contract at the start of each later period; Wilson interval"
    )
    return Result(
        "cohorts",
        f"Retention by signup {period}",
        [Table("cohorts", f"Retention by signup {period}", frame, method=method)],
        method=method,
        window={"period": period},
        params={"period": period, "min_n": ws.settings.min_n},
    )
