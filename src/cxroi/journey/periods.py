"""What the pain points read from the data, in the engine: each touchpoint's reach, CSAT and
backstage timings before and in a recent window, and each customer's CSAT at every touchpoint
beside their overall NPS.

- :func:`period_metrics`: per touchpoint of the map and period (``before``, ``recent``): the
  distinct customers of its events, the CSAT counts of the responses given at it (the
  scorecard's aggregates, :func:`cxroi.metrics.csat.csat_aggregates`) and, for each backstage
  event type it names, the p50 hours from such an event to the same customer's next event.
- :func:`customer_scores`: one row per customer with an answer at a touchpoint or an overall
  answer: ``nps_overall`` (the mean NPS of the answers given at no touchpoint, or of one
  survey) and ``csat:<touchpoint>`` (the mean CSAT of the answers given there; what
  ``cxroi drivers`` calls ``touchpoint:NAME``, through the map's ``measured_by.surveys``).

Only one row per touchpoint and period, or per customer and touchpoint, reaches Python.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from cxroi._types import Tables
from cxroi.errors import CxroiError
from cxroi.journey.document import Journey
from cxroi.journey.metrics import HOURS, joined, mapping
from cxroi.metrics.csat import csat_aggregates

__all__ = ["BACKSTAGE_PREFIX", "PERIODS", "customer_scores", "period_metrics"]

PERIODS = ("before", "recent")
BACKSTAGE_PREFIX = "backstage:"
"""Prefix of a backstage event type's rows (an event type may share a touchpoint's id)."""


def _period(col: Any, cut: dt.datetime) -> Any:
    import ibis

    return ibis.ifelse(col >= ibis.literal(cut), PERIODS[1], PERIODS[0])


def period_metrics(tables: Tables, journey: Journey, cut: dt.datetime) -> pd.DataFrame:
    """Per touchpoint (and ``backstage:EVENT``) and period: ``customers``, ``events``,
    ``csat_n``, ``csat_satisfied`` and ``next_p50_hours``; a period is ``recent`` from ``cut``
    on, else ``before``."""
    import ibis

    ev = tables["events"]
    w = ibis.window(group_by="customer_id", order_by=["ts", "touchpoint"])
    ev = ev.mutate(next_ts=ev.ts.lead().over(w), period=_period(ev.ts, cut))
    ev = ev.mutate(gap_h=(ev.next_ts.epoch_seconds() - ev.ts.epoch_seconds()) / HOURS)
    rows = [(t.id, v) for t in journey.touchpoints for v in t.events]
    rows += sorted({(f"{BACKSTAGE_PREFIX}{b.event}", b.event) for t in journey.touchpoints
                    for b in t.backstage if b.event})  # fmt: skip
    keys = ["tp", "period"]
    frames = []
    if rows:
        j = ev.filter(ev.touchpoint.notnull())
        m = ibis.memtable(pd.DataFrame(rows, columns=["tp", "value"], dtype=object))
        j = j.inner_join(m, j.touchpoint.cast("string") == m.value)
        frames.append(j.group_by(keys).aggregate(
            customers=j.customer_id.nunique(), events=j.count(),
            next_p50_hours=j.gap_h.quantile(0.5),
        ).to_pandas())  # fmt: skip
    rs = tables["responses"]
    j = joined(rs, "touchpoint", mapping(journey, lambda t: t.surveys))
    if j is not None and "csat" in rs.columns:
        j = j.mutate(period=_period(j.ts, cut))
        frames.append(j.group_by(keys).aggregate(**csat_aggregates(j.csat.cast("int64")))
                      .to_pandas())  # fmt: skip
    if not frames:
        return pd.DataFrame(columns=keys)
    out = frames[0]
    for f in frames[1:]:
        out = out.merge(f, on=keys, how="outer")
    return out


def customer_scores(tables: Tables, journey: Journey, *, survey: str | None = None) -> pd.DataFrame:
    """One row per customer: ``customer_id``, ``nps_overall`` and ``csat:<touchpoint>`` for
    every touchpoint of the map that surveys measure (missing where the customer gave none).

    Raises
    ------
    CxroiError
        When no answer is an overall one (given at no touchpoint, or of ``survey``).
    """
    rs = tables["responses"]
    rs = rs.filter(rs.customer_id.notnull())
    overall = rs.filter(rs.survey == survey) if survey is not None else rs.filter(
        rs.touchpoint.isnull())  # fmt: skip
    overall = overall.filter(overall.nps.notnull())
    nps = overall.group_by("customer_id").aggregate(nps_overall=overall.nps.cast("float64").mean())
    frame = nps.to_pandas()
    if frame.empty:
        where = f"of survey {survey!r}" if survey is not None else "given at no touchpoint"
        raise CxroiError(f"no overall NPS: no answer with an NPS is {where}; name the "
                         "relationship survey with --survey")  # fmt: skip
    j = joined(rs, "touchpoint", mapping(journey, lambda t: t.surveys))
    if j is not None and "csat" in rs.columns:
        j = j.filter(j.csat.notnull())
        at = j.group_by(["customer_id", "tp"]).aggregate(csat=j.csat.cast("float64").mean())
        wide = at.to_pandas().pivot(index="customer_id", columns="tp", values="csat")
        wide.columns = [f"csat:{c}" for c in wide.columns]
        frame = frame.merge(wide, left_on="customer_id", right_index=True, how="outer")
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
