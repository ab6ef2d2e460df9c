"""How customers move through the journey: funnels, paths and directly-follows counts, in the
engine.

**Funnel** of ordered steps :math:`s_1 … s_k` with a conversion window :math:`W`: a customer
enters at their first event at :math:`s_1` (time :math:`t_1`) and reaches step :math:`j` at
their first event at :math:`s_j` no earlier than the step before and no later than
:math:`t_1 + W`. Per step: customers reaching it, the step-to-step and overall conversion
(Wilson intervals), and the hours from the step before (p50, p95). Each step is one grouped
join of its events with the customers who reached the step before, so only one row per
customer and step is ever built, in the engine.

**Paths**: each customer's touchpoints in time order with consecutive repeats collapsed
(``app → app → app`` is ``app``), cut after ``length`` steps; the most frequent ones, and how
their shares differ between customers who churned in the window and those who did not
(two-proportion intervals, :func:`cxroi.metrics.compare.proportion_diff_from_counts`).

**Directly follows**: every pair (touchpoint, the same customer's next touchpoint) with its
count and the hours between them (p50, p95), the process-mining graph (van der Aalst) without
a process-mining library: pm4py is AGPL, and the counts come from the same per-customer
sorted lists that the paths read. Pairs leaving the map (a next touchpoint
that no touchpoint of the map measures) are marked.

Paths and directly-follows pairs read each customer's events in time order
(:func:`cxroi.journey.sequences.sequence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi._types import Tables
from cxroi.errors import CxroiError
from cxroi.journey.sequences import Steps, journey_events, sequence
from cxroi.metrics._intervals import wilson
from cxroi.metrics.compare import proportion_diff_from_counts

__all__ = ["ARROW", "churned_customers", "directly_follows", "funnel", "paths"]

ARROW = " → "
HOURS = 3600.0


def ibis_builtin_agg(fn: Any) -> Any:
    """Declare ``fn`` as the DuckDB aggregate ``arg_min`` (imported late: Ibis is heavy)."""
    import ibis

    return ibis.udf.agg.builtin(name="arg_min")(fn)


def funnel(
    tables: Tables,
    steps: Sequence[str],
    *,
    within_days: float | None = 30.0,
    by: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """The funnel of ``steps`` (event touchpoints), overall and per value of customer column
    ``by``.

    Returns
    -------
    pandas.DataFrame
        ``segment`` (``all``, or the value of ``by``), ``step`` (1…k), ``touchpoint``,
        ``customers``, ``conversion`` (from the step before, with ``ci_low``/``ci_high``),
        ``overall`` (from step 1, with ``overall_ci_low``/``overall_ci_high``), ``drop_off``
        (customers lost since the step before), ``hours_p50`` and ``hours_p95`` (from the
        step before).

    Raises
    ------
    CxroiError
        With fewer than two steps, a step no event has, a repeated step, a window that is not
        positive, or ``by`` not a customer column.
    """
    import ibis

    steps = [s.strip() for s in steps if s.strip()]
    if len(steps) < 2:
        raise CxroiError(f"a funnel needs at least two steps, got {len(steps)}")
    if len(set(steps)) != len(steps):
        raise CxroiError(f"a funnel step is repeated: {', '.join(steps)}")
    if within_days is not None and not within_days > 0:
        raise CxroiError(f"the conversion window must be positive, got {within_days:g} days")
    ev = journey_events(tables)
    known = set(ev.select("touchpoint").distinct().to_pandas()["touchpoint"].astype(str))
    unknown = [s for s in steps if s not in known]
    if unknown:
        raise CxroiError(f"no event has touchpoint {', '.join(map(repr, unknown))}; the "
                         f"events have {', '.join(sorted(known))}")  # fmt: skip
    cust = tables["customers"]
    if by is not None and by not in cust.columns:
        raise CxroiError(f"no customer column {by!r}; the customers have "
                         f"{', '.join(c for c in cust.columns if c != 'customer_id')}")  # fmt: skip
    first = ev.filter(ev.touchpoint == steps[0])
    reached = first.group_by("customer_id").aggregate(t1=first.ts.min())
    reached = reached.mutate(t_prev=reached.t1)
    window = ibis.interval(seconds=int(within_days * 86400)) if within_days else None
    seg = (
        cust.select("customer_id", segment=cust[by].cast("string").fill_null("missing"))
        if by
        else None
    )
    parts = [_step_counts(reached, seg, 1, steps[0], gap=False)]
    for j, step in enumerate(steps[1:], start=2):
        e = ev.filter(ev.touchpoint == step).select("customer_id", "ts")
        x = reached.inner_join(e, "customer_id")
        ok = x.ts >= x.t_prev
        if window is not None:
            ok &= x.ts <= x.t1 + window
        x = x.filter(ok)
        nxt = x.group_by(["customer_id", "t1", "t_prev"]).aggregate(t=x.ts.min())
        nxt = nxt.mutate(gap_h=(nxt.t.epoch_seconds() - nxt.t_prev.epoch_seconds()) / HOURS)
        parts.append(_step_counts(nxt, seg, j, step, gap=True))
        reached = nxt.select("customer_id", "t1", t_prev=nxt.t).cache()
    counts = pd.concat(parts, ignore_index=True)
    return _funnel_frame(counts, steps, level)


def _step_counts(r: Any, seg: Any, j: int, step: str, *, gap: bool) -> pd.DataFrame:
    """Customers at step ``j`` (and the hours from the step before), overall as ``all`` and
    per segment."""

    def aggs(t: Any) -> dict[str, Any]:
        a = {"customers": t.count()}
        if gap:
            a |= {"hours_p50": t.gap_h.quantile(0.5), "hours_p95": t.gap_h.quantile(0.95)}
        return a

    out = r.aggregate(**aggs(r)).to_pandas().assign(segment="all")
    if seg is not None:
        t = r.inner_join(seg, "customer_id")
        per = t.group_by("segment").aggregate(**aggs(t)).to_pandas()
        out = pd.concat([out, per], ignore_index=True)
    return out.assign(step=j, touchpoint=step)


def _funnel_frame(counts: pd.DataFrame, steps: Sequence[str], level: float) -> pd.DataFrame:
    rows = []
    for segment, g in counts.groupby("segment", sort=False):
        g = g.set_index("step").reindex(range(1, len(steps) + 1))
        n = g["customers"].fillna(0).to_numpy(float)
        prev = np.r_[n[0], n[:-1]]
        conv, _, lo, hi = wilson(n, prev, level=level)
        over, _, olo, ohi = wilson(n, np.full_like(n, n[0]), level=level)
        for j, step in enumerate(steps):
            rows.append({
                "segment": segment, "step": j + 1, "touchpoint": step, "customers": int(n[j]),
                "conversion": float(conv[j]) if j else 1.0,
                "ci_low": float(lo[j]) if j else np.nan, "ci_high": float(hi[j]) if j else np.nan,
                "overall": float(over[j]), "overall_ci_low": float(olo[j]) if j else np.nan,
                "overall_ci_high": float(ohi[j]) if j else np.nan,
                "drop_off": int(prev[j] - n[j]),
                "hours_p50": float(g["hours_p50"].iloc[j]) if "hours_p50" in g and j else np.nan,
                "hours_p95": float(g["hours_p95"].iloc[j]) if "hours_p95" in g and j else np.nan,
                "n": int(prev[j]),
            })  # fmt: skip
    out = pd.DataFrame(rows)
    # segment order: all first, then by entering customers
    size = out[out["step"] == 1].set_index("segment")["customers"]
    key = out["segment"].map(lambda s: (s != "all", -int(size.get(s, 0)), str(s)))
    return out.assign(_k=key).sort_values(["_k", "step"]).drop(columns="_k").reset_index(drop=True)


@ibis_builtin_agg
def _first_n(arg: str, key: int, n: int) -> list[str]:  # type: ignore[empty-body]
    """DuckDB's ``arg_min(arg, key, n)``: the ``arg`` of the ``n`` smallest ``key``, in order."""


def paths(
    tables: Tables,
    *,
    length: int = 4,
    top: int = 10,
    churned: Any = None,
    level: float = 0.95,
    steps: Any = None,
) -> pd.DataFrame:
    """The ``top`` most frequent paths of at most ``length`` steps, with the share of customers
    who took each, overall and among customers who churned and who did not.

    ``churned`` is an Ibis table of ``customer_id`` and a boolean ``churned`` (the customer
    ledger's); without it the churn columns are left out. ``steps``: :func:`sequence` of the
    tables, when already built. A path is the touchpoints of the customer's first ``length``
    runs (an event whose touchpoint differs from the one before starts a run), taken from the
    customer's sorted list (:class:`Steps`) with a list filter, in the engine.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``path``, ``steps``, ``customers``, ``share``; with ``churned``: ``churned``,
        ``share_churned``, ``retained``, ``share_retained`` and ``estimate`` (churned share
        minus retained share) with ``ci_low``, ``ci_high``, ``p_value``.
    """
    import ibis

    if length < 1 or top < 1:
        raise CxroiError(f"paths: length and top must be at least 1, got {length} and {top}")
    s = sequence(tables) if steps is None else steps
    if isinstance(s, Steps):
        t = s.table
        codes = t.keys.map(s.code)
        # the key before is read from the list itself: a list of codes referenced inside the
        # lambda would be recomputed for every element
        runs = codes.filter(lambda c, i: (i == 0) | (c != s.code(t.keys[i - 1])))
        p = t.select("customer_id", _codes=runs[:length])
    else:
        e = s.filter(s.prev_tp.isnull() | (s.prev_tp != s.touchpoint))
        first = _first_n(e.touchpoint.cast("string"), e.rn, ibis.literal(length))
        p = e.group_by("customer_id").aggregate(_steps=first)
        p = p.mutate(path=p._steps.join(ARROW), steps=p._steps.length())
    if churned is not None:
        p = p.left_join(churned.select("customer_id", "churned"), "customer_id")
        p = p.mutate(churned=p.churned.fill_null(False).cast("int64"))
    else:
        p = p.mutate(churned=ibis.literal(0))
    if isinstance(s, Steps):
        agg = p.group_by("_codes").aggregate(customers=p.count(), churned=p.churned.sum())
        agg = agg.select(
            path=agg._codes.map(s.name).join(ARROW), steps=agg._codes.length(),
            customers=agg.customers, churned=agg.churned,
        )  # fmt: skip
    else:
        agg = p.group_by(["path", "steps"]).aggregate(customers=p.count(), churned=p.churned.sum())
    agg = agg.mutate(_n=agg.customers.sum().over(), _c=agg.churned.sum().over())
    out = agg.order_by([ibis.desc("customers"), "path"]).limit(top).to_pandas()
    n = float(out["_n"].iloc[0]) if len(out) else 0.0
    c = float(out["_c"].iloc[0]) if len(out) else 0.0
    out = out.drop(columns=["_n", "_c"])
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out["share"] = out["customers"] / n if n else np.nan
    if churned is None:
        return out.drop(columns="churned")
    out["retained"] = out["customers"] - out["churned"]
    out["share_churned"] = out["churned"] / c if c else np.nan
    out["share_retained"] = out["retained"] / (n - c) if n - c else np.nan
    d = proportion_diff_from_counts(out["retained"], n - c, out["churned"], c, level=level)
    out["estimate"], out["ci_low"], out["ci_high"] = d["diff"], d["ci_low"], d["ci_high"]
    out["p_value"] = d["p_value"]
    out["n"] = int(n)
    return out


def churned_customers(tables: Tables) -> Any:
    """``customer_id`` and boolean ``churned`` of every customer with a contract: the customer
    ledger's churn (:func:`cxroi.models.ledger.customer_ledger`: contracts, none of them
    active), read from the contracts alone. The ledger joins every table's per-customer
    aggregates (19.6 million transactions at a million customers) to give the same column;
    the paths need only this one. Customers without a contract are not churned, as there."""
    ct = tables["contracts"]
    cust = tables["customers"].select("customer_id")
    a = ct.group_by("customer_id").aggregate(
        _n=ct.count(), _active=ct.end_date.isnull().ifelse(1, 0).cast("int64").sum()
    )
    a = a.semi_join(cust, "customer_id")
    return a.select("customer_id", churned=(a._n > 0) & (a._active == 0))


def directly_follows(
    tables: Tables, mapped: Sequence[str] | None = None, *, steps: Any = None
) -> pd.DataFrame:
    """Every (touchpoint, next touchpoint) pair of the same customer, repeats collapsed, with
    its count, distinct customers and hours between (p50, p95): from the last event of a run
    at the touchpoint to the first at the next one (the time the step hands over, as
    process-mining tools measure it).

    ``mapped``: the event touchpoints the journey map measures; pairs whose next touchpoint is
    not among them are marked ``leaves_map``. ``steps``: :func:`sequence` of the tables, when
    already built.
    """
    import ibis

    s = sequence(tables) if steps is None else steps
    if isinstance(s, Steps):
        t = s.table
        # each event beside the next one of the customer: two lists unnested side by side
        # (the shorter padded with a null)
        e = t.select("customer_id", k=t.keys.unnest(), nk=t.keys[1:].unnest())
        e = e.select("customer_id", a=s.code(e.k), b=s.code(e.nk),
                     gap_h=(s.seconds(e.nk) - s.seconds(e.k)) / HOURS)  # fmt: skip
        e = e.filter(e.b.notnull() & (e.b != e.a))
        g = e.group_by(["a", "b"]).aggregate(
            count=e.count(), customers=e.customer_id.nunique(),
            _q=e.gap_h.quantile([0.5, 0.95]),  # one sort of each pair's hours
        )  # fmt: skip
        g = g.select(touchpoint=s.name(g.a), next_tp=s.name(g.b), count=g["count"],
                     customers=g.customers, _q=g._q)  # fmt: skip
    else:
        e = s.filter(s.next_tp.notnull() & (s.next_tp != s.touchpoint))
        e = e.mutate(gap_h=(e.next_ts.epoch_seconds() - e.ts.epoch_seconds()) / HOURS)
        g = e.group_by(["touchpoint", "next_tp"]).aggregate(
            count=e.count(), customers=e.customer_id.nunique(),
            _q=e.gap_h.quantile([0.5, 0.95]),
        )  # fmt: skip
    out = g.order_by([ibis.desc("count"), "touchpoint", "next_tp"]).to_pandas()
    q = [v if v is not None and len(v) == 2 else (np.nan, np.nan) for v in out.pop("_q")]
    out["hours_p50"] = np.array([a for a, _ in q], dtype=float)
    out["hours_p95"] = np.array([b for _, b in q], dtype=float)
    out = out.rename(columns={"touchpoint": "from", "next_tp": "to"})
    if mapped is not None:
        inside = set(mapped)
        out["leaves_map"] = out["from"].isin(inside) & ~out["to"].isin(inside)
    return out
