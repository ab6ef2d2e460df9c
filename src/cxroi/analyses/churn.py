"""``cxroi churn``: contract survival by segment, Cox hazard ratios, retention CLV by segment.

The per-customer churn frame is built in the engine (:func:`cxroi.models.survival.churn_frame`);
Kaplan-Meier survival and retention CLV are per segment; the hazard ratios come from the
piecewise-exponential model (:class:`cxroi.models.hazard.PoissonHazard`, the Cox model with
Breslow ties) on the customer-month panel counted in the engine, with the NPS group of the
latest answer and a slow first response in the previous calendar month as time-varying
covariates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError, param
from cxroi.models.hazard import PoissonHazard, customer_month_panel, with_measure, with_nps
from cxroi.models.survival import churn_frame, kaplan_meier, retention_clv
from cxroi.results import SMALL_N, Result, Table, estimate_frame
from cxroi.window import Window

__all__ = ["churn"]


@progress.task("churn")
def churn(
    ws: WorkspaceLike,
    *,
    by: str = "plan",
    as_of: object | None = None,
    observed_from: object | None = None,
    survey: str | None = None,
    discount_rate: float | None = None,
    slow_response_hours: float = 24.0,
    times: Sequence[float] = (3, 6, 12, 24),
    level: float = 0.95,
) -> Result:
    """Survival by segment, Cox hazard ratios and retention CLV of a workspace's contracts.

    Parameters
    ----------
    ws
        The workspace (its ``discount_rate`` and ``min_n`` are the defaults).
    by
        Customer attribute to segment by (also a Cox covariate).
    as_of, observed_from
        End and start of observation (a day or a period); defaults: the last and the first
        day of activity in the data (:func:`cxroi.window.data_bounds`).
    survey
        Use NPS answers from this survey only.
    discount_rate
        Annual rate of the retention CLV; default the workspace's.
    slow_response_hours
        A ticket is slow when its first response takes longer.
    times
        Tenures in months at which survival is reported.
    level
        Interval level.

    Returns
    -------
    Result
        ``survival`` (Kaplan-Meier: ``estimate`` is the share still subscribed at ``time``),
        ``hazard_ratios`` (Cox: ``estimate`` is the hazard ratio of ``term``) and ``segments``
        (retention CLV: ``estimate`` is the CLV); window ``as_of``/``observed_from``; params
        ``n_customers``, ``n_churned``, ``n_cox``, ``n_events``.
    """
    tables = ws.tables
    settings = ws.settings
    min_n = settings.min_n
    win = Window.resolve(tables, since=observed_from, as_of=as_of, since_name="observed_from")
    customers = tables["customers"]
    if by not in customers.columns:
        raise CxroiError(
            f"{param('by')} {by!r} is not a column of customers; choose from "
            f"{', '.join(customers.columns)}"
        )
    frame_expr = churn_frame(
        tables["contracts"], as_of=win.end, customers=customers, observed_from=win.start
    )
    frame = frame_expr.execute()
    if frame.empty:
        raise CxroiError("no contract customers to analyse (is the contracts table empty?)")
    rate = settings.discount_rate if discount_rate is None else float(discount_rate)

    survival = estimate_frame(
        kaplan_meier(frame, by=by, times=times, min_n=min_n, level=level), level=level
    )
    cox, covariates = _cox(tables, frame_expr, by, survey, slow_response_hours, level)
    hazard = estimate_frame(cox.summary.reset_index(), level=level, min_n=min_n)
    segments = estimate_frame(
        retention_clv(frame, by=by, annual_discount_rate=rate, min_n=min_n, level=level),
        level=level,
    )
    small = segments.loc[segments["flag"].str.contains(SMALL_N), "segment"].tolist()
    notes = [f"segment(s) {', '.join(small)} have fewer than {min_n} customers"] if small else []

    return Result(
        "churn",
        f"Contract churn by {by}",
        [
            Table(
                "survival",
                f"Still subscribed (Kaplan-Meier) by {by}",
                survival,
                method="Kaplan-Meier with delayed entry at observed_from; log(-log) Greenwood "
                "intervals",
                view=["segment", "time", "estimate", "ci_low", "ci_high", "n", "churned", "flag"],
            ),
            Table(
                "hazard_ratios",
                f"Cox hazard ratios, {cox.n_:,} customers, {cox.n_events_:,} churned",
                hazard,
                method=(
                    "Cox proportional hazards on the customer-month panel, fitted as a "
                    "piecewise-exponential (Poisson) model of churn per calendar month and "
                    "covariate pattern, counted in the engine: NPS group of the "
                    f"latest answer (vs promoters), a first response over {slow_response_hours:g}"
                    f" h in the previous month, and {by}"
                ),
                view=["term", "estimate", "ci_low", "ci_high", "n", "p_value", "flag"],
            ),
            Table(
                "segments",
                f"Retention CLV by {by}",
                segments,
                method=(
                    "CLV = m·r/(1 + i − r) per month from a constant monthly hazard (exact "
                    "Poisson interval) and the mean monthly value; the interval pairs the ends "
                    "of both"
                ),
                view=[
                    "segment",
                    "n",
                    "monthly_churn",
                    "monthly_value",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "flag",
                ],
            ),
        ],
        method="Kaplan-Meier, Cox proportional hazards and retention CLV of contract churn",
        adjustment=covariates,
        window={"as_of": win.end.isoformat(), "observed_from": win.start.isoformat()},
        params={
            "by": by,
            "survey": survey,
            "discount_rate": rate,
            "slow_response_hours": slow_response_hours,
            "min_n": min_n,
            "n_customers": int(len(frame)),
            "n_churned": int(frame.churned.sum()),
            "n_cox": cox.n_,
            "n_events": cox.n_events_,
        },
        warnings=notes,
        readings=_readings(hazard, level),
    )


def _cox(tables, frame, by, survey, slow_hours, level) -> tuple[PoissonHazard, list[str]]:
    """The hazard model on the customer-month panel of the churn frame's customers (engine)."""
    spans = frame.select("customer_id", "entry_date", "exit_date", "churned", by)
    panel = customer_month_panel(spans, entry="entry_date", exit="exit_date", keep=[by])
    panel = with_nps(panel, tables["responses"], survey=survey)
    tickets = tables["tickets"]
    hours = (tickets.first_response_at.epoch_seconds() - tickets.opened_at.epoch_seconds()) / 3600
    rows = tickets.select(customer_id=tickets.customer_id, _t=tickets.opened_at, _x=hours)
    covariates = ["nps_group"]
    if rows.filter(rows._x.notnull()).count().execute():
        panel = with_measure(panel, rows)
        panel = panel.mutate(slow_response=(panel.measure_prev > slow_hours).fill_null(False))
        covariates.append("slow_response")
    covariates.append(by)
    cox = PoissonHazard(covariates, reference={"nps_group": "promoter"}, level=level).fit(panel)
    return cox, covariates


def _readings(hazard: pd.DataFrame, level: float) -> list[str]:
    out = []
    for r in hazard.itertuples():
        if not (math.isfinite(r.estimate) and math.isfinite(r.ci_low)):
            continue
        term = str(r.term)
        if term.startswith("nps_group="):
            who = f"{term.split('=', 1)[1].capitalize()}s"
            vs = " of promoters"
        elif term == "slow_response":
            who, vs = "Customers in the month after a slow first response", ""
        else:
            continue
        out.append(
            f"{who} churn at {r.estimate:.2f} times the rate{vs} ({level:.0%} CI "
            f"{r.ci_low:.2f}-{r.ci_high:.2f})."
        )
    return out
