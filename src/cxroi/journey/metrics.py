"""Touchpoint metrics of a journey map, computed in the engine.

For every touchpoint of the map (:class:`cxroi.journey.document.Journey`):

- **volume and reach**: its events and the distinct customers behind them (exact counts);
- **perception**: NPS, CSAT and CES of the responses given at the touchpoint (those whose
  ``touchpoint`` the map lists under ``measured_by.surveys``), with the scorecard's
  definitions and intervals: the same engine aggregates
  (:func:`cxroi.metrics.nps.nps_aggregates` and its CSAT and CES twins) and the same
  conversion to metrics (:func:`cxroi.metrics.catalog.metric_values`);
- **tickets and cost to serve**: the tickets the map assigns to it (``measured_by.tickets``, a
  category or channel), their count and total and mean cost;
- **time to the next step**: for each of its events, the time until the same customer's next
  event at any touchpoint, p50 and p95 in hours (each customer's events in time order,
  :mod:`cxroi.journey.sequences`; the last event of a customer has no next step).

Volume, reach and time come from one pass over the events: on DuckDB each customer's packed
sorted list, whose touchpoint bits count the customers (:func:`event_metrics`).

Each touchpoint's values of the data are attached to it through a small mapping table joined
in the engine, so one event value may measure several touchpoints; only one row per touchpoint
and metric reaches Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from cxroi._types import Tables
from cxroi.journey.document import Journey, Touchpoint
from cxroi.journey.sequences import (
    MASK_BITS,
    is_duckdb,
    journey_events,
    keyed_sequences,
    touchpoint_names,
)
from cxroi.metrics.catalog import metric_values
from cxroi.metrics.ces import ces_aggregates
from cxroi.metrics.csat import csat_aggregates
from cxroi.metrics.nps import nps_aggregates

__all__ = ["HOURS", "event_metrics", "joined", "mapping", "touchpoint_metrics"]

HOURS = 3600.0
_PERCEPTION = ("nps", "csat", "ces")


def mapping(journey: Journey, values: Callable[[Touchpoint], Sequence[str]]) -> pd.DataFrame:
    """``tp`` (touchpoint id) and each data ``value`` that measures it."""
    rows = [(t.id, v) for t in journey.touchpoints for v in values(t)]
    return pd.DataFrame(rows, columns=["tp", "value"], dtype=object)


def _ticket_values(t: Touchpoint, field: str) -> Sequence[str]:
    return t.tickets.get(field, ())


def joined(t: Any, col: str, mapping: pd.DataFrame) -> Any:
    import ibis

    if mapping.empty:
        return None
    m = ibis.memtable(mapping)
    t = t.filter(t[col].notnull())
    return t.inner_join(m, t[col].cast("string") == m.value)


def event_metrics(
    tables: Tables, mapped: pd.DataFrame, *, packed: bool | None = None
) -> pd.DataFrame | None:
    """Per touchpoint ``tp`` of ``mapped`` (:func:`mapping` of the event values): ``events``,
    distinct ``customers``, ``gaps`` (its events followed by another of the customer) and
    ``p50``, ``p95`` of the hours to that next event; ``None`` when nothing maps.

    ``packed`` (default: on DuckDB) reads the packed sequences with touchpoint masks
    (:func:`cxroi.journey.sequences.keyed_sequences`; up to
    :data:`~cxroi.journey.sequences.MASK_BITS` touchpoints), otherwise a window ``LEAD``
    over each customer's events; both give the same answers."""
    import ibis

    if mapped.empty:
        return None
    ev = journey_events(tables)
    if packed is None:
        packed = is_duckdb(ev)
    names = touchpoint_names(ev) if packed else ()
    if packed and len(names) <= MASK_BITS:
        where = {n: i for i, n in enumerate(names)}
        codes = pd.DataFrame(
            [(tp, where[v]) for tp, v in mapped.itertuples(index=False) if v in where],
            columns=["tp", "code"],
        )
        if codes.empty:
            return None
        s = keyed_sequences(ev, names, masks=True)
        t = s.table.cache()
        # each event beside the customer's next one: two lists unnested side by side
        e = t.select(k=t.keys.unnest(), nk=t.keys[1:].unnest())
        e = e.select(code=s.code(e.k), gap_h=(s.seconds(e.nk) - s.seconds(e.k)) / HOURS)
        cm = ibis.memtable(codes)
        j = e.inner_join(cm, "code")
        g = j.group_by("tp").aggregate(events=j.count(), gaps=j.gap_h.count(),
                                       q=j.gap_h.quantile([0.5, 0.95]))  # fmt: skip
        # a touchpoint's customers: those with any of its bits set
        tm = cm.group_by("tp").aggregate(_m=(ibis.literal(1, "int64") << cm.code).bit_or())
        c = t.select("mask").cross_join(tm)
        c = c.filter((c.mask & c._m) != 0)
        c = c.group_by("tp").aggregate(customers=c.count())
        f = g.left_join(c, "tp").select("tp", "events", "customers", "gaps", "q").to_pandas()
        f["customers"] = f["customers"].fillna(0).astype("int64")
    else:
        w = ibis.window(group_by="customer_id", order_by=["ts", "touchpoint"])
        ev = ev.mutate(next_ts=ev.ts.lead().over(w))
        # float64 before dividing: Spark reads a float literal as a decimal and rounds
        ev = ev.mutate(
            gap_h=(ev.next_ts.epoch_seconds() - ev.ts.epoch_seconds()).cast("float64") / HOURS
        )
        j = joined(ev, "touchpoint", mapped)
        # p50 and p95 from one sort of each touchpoint's gaps (a quantile list), not two
        f = j.group_by("tp").aggregate(
            events=j.count(), customers=j.customer_id.nunique(), gaps=j.gap_h.count(),
            q=j.gap_h.quantile([0.5, 0.95]),
        ).to_pandas()  # fmt: skip
    q = [v if v is not None and len(v) == 2 else (np.nan, np.nan) for v in f.pop("q")]
    f["p50"], f["p95"] = [float(a) for a, _ in q], [float(b) for _, b in q]
    return f


def touchpoint_metrics(tables: Tables, journey: Journey, *, level: float = 0.95) -> pd.DataFrame:
    """One row per touchpoint and metric, long.

    Returns
    -------
    pandas.DataFrame
        ``stage``, ``touchpoint``, ``name``, ``metric``, ``value``, ``ci_low``, ``ci_high``,
        ``n`` (the events, responses or tickets behind it) and ``flag`` (``exact`` for counts,
        ``no-data`` where nothing measures it). Metrics: ``events``, ``customers``, ``nps``,
        ``csat``, ``ces``, ``tickets``, ``ticket_cost``, ``cost_per_ticket``,
        ``next_step_p50_hours``, ``next_step_p95_hours``.
    """
    import ibis

    ids = [t.id for t in journey.touchpoints]
    frames: dict[str, pd.DataFrame] = {}
    f = event_metrics(tables, mapping(journey, lambda t: t.events))
    if f is not None:
        frames["events"] = f
    rs = tables["responses"]
    j = joined(rs, "touchpoint", mapping(journey, lambda t: t.surveys))
    if j is not None:
        aggs: dict[str, Any] = {}
        for m, agg in zip(_PERCEPTION, (nps_aggregates, csat_aggregates, ces_aggregates),
                          strict=True):  # fmt: skip
            if m in j.columns:
                aggs |= agg(j[m].cast("int64"))
        frames["responses"] = j.group_by("tp").aggregate(**aggs).to_pandas()
    tk = tables["tickets"]
    parts = []
    for f in ("category", "channel"):
        j = joined(tk, f, mapping(journey, partial(_ticket_values, field=f)))
        if j is not None:
            parts.append(j.select("tp", "ticket_id", "cost"))
    if parts:
        u = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=True)
        frames["tickets"] = u.group_by("tp").aggregate(
            tickets=u.count(), cost=u.cost.sum(), costed=u.cost.count()
        ).to_pandas()  # fmt: skip
    return _rows(journey, ids, frames, level)


def _rows(
    journey: Journey, ids: list[str], frames: dict[str, pd.DataFrame], level: float
) -> pd.DataFrame:
    def frame(name: str) -> pd.DataFrame:
        f = frames.get(name)
        return (f if f is not None else pd.DataFrame({"tp": []})).set_index("tp").reindex(ids)

    e, r, k = frame("events"), frame("responses"), frame("tickets")
    have = {m for m in _PERCEPTION if f"{m}_n" in r or f"{m}_promoters" in r}
    perception = metric_values(r.reset_index(drop=True), have, level=level, disc=0.0)
    rows: list[dict[str, Any]] = []
    for i, t in enumerate(journey.touchpoints):

        def add(metric: str, value: Any, n: Any, lo: Any = np.nan, hi: Any = np.nan,
                exact: bool = False, t: Any = t) -> None:  # fmt: skip
            nn = 0 if pd.isna(n) else int(n)
            v = float(value) if pd.notna(value) and nn > 0 else np.nan
            flag = "no-data" if nn == 0 else ("exact" if exact else "")
            rows.append({"stage": t.stage, "touchpoint": t.id, "name": t.name, "metric": metric,
                         "value": v, "ci_low": float(lo), "ci_high": float(hi), "n": nn,
                         "flag": flag})  # fmt: skip

        events = e["events"].iloc[i] if "events" in e else np.nan
        add("events", events, events, exact=True)
        add("customers", e["customers"].iloc[i] if "customers" in e else np.nan, events,
            exact=True)  # fmt: skip
        for m in _PERCEPTION:
            if m in perception:
                val, n, lo, hi = (a[i] for a in perception[m])
                add(m, val, n, lo, hi)
            else:
                add(m, np.nan, 0)
        tickets = k["tickets"].iloc[i] if "tickets" in k else np.nan
        add("tickets", tickets, tickets, exact=True)
        costed = k["costed"].iloc[i] if "costed" in k else np.nan
        cost = k["cost"].iloc[i] if "cost" in k else np.nan
        add("ticket_cost", cost, costed, exact=True)
        add("cost_per_ticket", cost / costed if costed else np.nan, costed, exact=True)
        gaps = e["gaps"].iloc[i] if "gaps" in e else np.nan
        for q in ("p50", "p95"):
            add(f"next_step_{q}_hours", e[q].iloc[i] if q in e else np.nan, gaps,
                exact=True)  # fmt: skip
    return pd.DataFrame(rows)
