"""The CX and money scorecard: every metric by period and group, in long form, with uncertainty.

One row per period × group × metric with ``value``, ``n``, ``ci_low``, ``ci_high``, ``level``,
``unit``, ``flag`` and, for NPS, the ``benchmark`` band it falls in (the result contract of
:mod:`cxroi.results`). Every scan of raw rows is an Ibis expression executed in the engine (one
grouped aggregation per source table); only the counts, sums and sums of squares per period and
group come back, and the formula modules of :mod:`cxroi.metrics` turn them into values and
intervals.

Metric definitions are those of :mod:`cxroi.metrics.nps`, :mod:`~cxroi.metrics.csat`,
:mod:`~cxroi.metrics.ces` and :mod:`~cxroi.metrics.money`. Shares are in percent; money in the
workspace currency. Totals and counts (revenue, active customers, ...) are exact counts of the
data, so they carry no interval (``ci_low``/``ci_high`` are null, flag ``exact``) but still
carry ``n``.

The scorecard takes tables (a mapping of canonical name to Ibis table or frame) and plain
settings; :func:`cxroi.analyses.scorecard` reads them from a workspace.

Flags (``;``-separated): ``small-n`` (an estimate from fewer than ``min_n`` observations),
``no-responses``/``no-transactions``/``no-tickets``/``no-new-customers`` (nothing to measure;
the value is null), ``no-active-customers`` (a rate per active customer with nobody active),
``zero-churn`` (CLV unbounded: nobody was lost), ``significant`` (with ``compare=``: the change
against the baseline period is significant at the confidence level). A row without an interval
says why (:data:`cxroi.results.NO_INTERVAL`): ``exact`` (a count or total), ``no-data`` (nothing
to measure) or ``not-estimable`` (too few observations for an interval, or an unbounded one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxroi.errors import CxroiError, param
from cxroi.metrics import money
from cxroi.metrics.catalog import DEFAULT_METRICS, METRICS, metric_tests, metric_values
from cxroi.metrics.ces import ces_aggregates
from cxroi.metrics.csat import csat_aggregates
from cxroi.metrics.nps import nps_aggregates
from cxroi.results import SMALL_N, add_flag
from cxroi.schema import TABLES
from cxroi.window import data_bounds

__all__ = [
    "DEFAULT_BENCHMARKS",
    "DEFAULT_METRICS",
    "METRICS",
    "benchmark_bands",
    "benchmark_label",
    "benchmark_note",
    "scorecard",
]

DEFAULT_BENCHMARKS: dict[str, tuple[float, float]] = {
    "leaders": (50.0, 80.0),
    "average": (5.0, 10.0),
}
"""NPS bands from the brief: leaders such as Amazon and Costco run at 50-80, average firms 5-10."""

_TIME = {
    "responses": "ts",
    "transactions": "ts",
    "contracts": "start_date",
    "tickets": "opened_at",
}
_MISSING = "(missing)"


# -- inputs --------------------------------------------------------------------------------


def _resolve(tables: Mapping[str, Any]) -> dict[str, ir.Table | None]:
    """The scorecard's tables from a mapping of name to Ibis table, pandas frame or Arrow table."""
    if not isinstance(tables, Mapping):
        raise CxroiError(
            f"scorecard: {param('tables')} must be a mapping of table name -> table "
            f"(a workspace's tables are ws.tables), not {type(tables).__name__}"
        )
    names = ("customers", *_TIME, "events")
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise CxroiError(f"scorecard: unknown table(s) {', '.join(sorted(unknown))}")
    out: dict[str, ir.Table | None] = {}
    for n in names:
        t = tables.get(n)
        if t is None or isinstance(t, ir.Table):
            out[n] = t
        else:
            try:
                out[n] = ibis.memtable(t)
            except Exception as e:  # noqa: BLE001 - any unsupported object
                raise CxroiError(f"scorecard: cannot read table {n!r} ({e})") from None
    return out


def benchmark_bands(
    benchmarks: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, tuple[float, float]]:
    """NPS bands ``{name: (low, high)}``: ``benchmarks``, else :data:`DEFAULT_BENCHMARKS`."""
    b = benchmarks or DEFAULT_BENCHMARKS
    return {k: (float(v[0]), float(v[1])) for k, v in b.items()}


def benchmark_label(value: float, bands: Mapping[str, tuple[float, float]]) -> str | None:
    """Where an NPS stands against the named bands: ``"average"`` (inside a band),
    ``"between average and leaders"``, ``"below average"`` or ``"above leaders"``."""
    if value is None or not np.isfinite(value):
        return None
    items = sorted(bands.items(), key=lambda kv: kv[1][0])
    for name, (lo, hi) in items:
        if lo <= value <= hi:
            return name
    if value < items[0][1][0]:
        return f"below {items[0][0]}"
    if value > items[-1][1][1]:
        return f"above {items[-1][0]}"
    for (a, (_, a_hi)), (b, (b_lo, _)) in zip(items, items[1:], strict=False):
        if a_hi < value < b_lo:
            return f"between {a} and {b}"
    return None


def benchmark_note(bands: Mapping[str, Sequence[float]] | None = None) -> str:
    """One line describing the NPS bands, e.g. for a table title.

    >>> benchmark_note()
    'NPS benchmarks: leaders 50 to 80, average 5 to 10'
    """
    b = benchmark_bands(bands)
    return "NPS benchmarks: " + ", ".join(f"{k} {lo:g} to {hi:g}" for k, (lo, hi) in b.items())


# -- engine queries --------------------------------------------------------------------------


def _family_table(
    t: ir.Table, by: Sequence[str], cust_by: Sequence[str], groups: ir.Table | None
) -> ir.Table | None:
    """``t`` with its group columns as strings, or ``None`` if it cannot be grouped by ``by``."""
    own = [b for b in by if b not in cust_by]
    if any(b not in t.columns for b in own):
        return None
    if cust_by and "customer_id" not in t.columns:
        return None
    if own:
        t = t.mutate(**{b: t[b].cast("string").fill_null(_MISSING) for b in own})
    if cust_by:
        t = t.drop(*[b for b in cust_by if b in t.columns])
        t = money._attach(t, groups, cust_by)
    return t


def _grouped(t: ir.Table, keys: list[str], aggs: dict) -> pd.DataFrame:
    return t.group_by(keys).aggregate(**aggs).execute()


def _query(
    tables: dict[str, ir.Table | None],
    *,
    by: Sequence[str],
    cust_by: Sequence[str],
    groups: ir.Table | None,
    period: str,
    first: int,
    last: int,
    distinct_buyers: bool = False,
) -> dict[str, pd.DataFrame]:
    """Run one grouped aggregation per source; return the small wide frames by family."""
    keys = [*by, "k"]
    out: dict[str, pd.DataFrame] = {}

    def timed(name: str) -> ir.Table | None:
        t = tables.get(name)
        if t is None or _TIME[name] not in t.columns:
            return None
        t = _family_table(t, by, cust_by, groups)
        if t is None:
            return None
        t = t.mutate(k=money.period_index(t[_TIME[name]], period))
        return t.filter((t.k >= first) & (t.k <= last))

    if (r := timed("responses")) is not None:
        aggs: dict = {}
        if "nps" in r.columns:
            aggs |= nps_aggregates(r.nps.cast("int64"))
        if "csat" in r.columns:
            aggs |= csat_aggregates(r.csat.cast("int64"))
        if "ces" in r.columns:
            aggs |= ces_aggregates(r.ces.cast("int64"))
        if aggs:
            out["responses"] = _grouped(r, keys, aggs)
    if (x := timed("transactions")) is not None:
        amt = x.amount.cast("float64")
        out["transactions"] = _grouped(
            x,
            keys,
            {
                "revenue": amt.sum(),
                "transactions": x.count(),
                "amount_sumsq": (amt * amt).sum(),
            }
            # Distinct buyers cost a distinct count over every transaction: only on request.
            | ({"buying_customers": x.customer_id.nunique()} if distinct_buyers else {}),
        )
    if (tk := timed("tickets")) is not None:
        aggs = {"tickets": tk.count()}
        if "cost" in tk.columns:
            cost = tk.cost.cast("float64")
            aggs |= {
                "support_cost": cost.sum().fill_null(0.0),
                "cost_n": cost.count(),
                "cost_sumsq": (cost * cost).sum().fill_null(0.0),
            }
        out["tickets"] = _grouped(tk, keys, aggs)
    c = tables.get("contracts")
    if c is not None and not [b for b in by if b not in cust_by] and "start_date" in c.columns:
        flows = money.coverage_flows(
            c, period=period, first=first, last=last, groups=groups, by=cust_by
        ).execute()
        act = money.flows_to_active(flows, first=first, last=last, by=cust_by)
        cc = _family_table(c, by, cust_by, groups)
        assert cc is not None  # grouped by customer attributes only, checked above
        cc = cc.mutate(k=money.period_index(cc.start_date, period))
        cc = cc.filter((cc.k >= first) & (cc.k <= last))
        signed = _grouped(
            cc,
            keys,
            {
                "contract_value_signed": cc.value.cast("float64").sum(),
                "contracts_signed": cc.count(),
            },
        )
        w = act.merge(signed, on=keys, how="outer")
        out["contracts"] = w
    return out


# -- the scorecard -----------------------------------------------------------------------------


MAX_PERIODS = 2_000
"""The most periods one scorecard covers (38 years of weeks); a placeholder date such as
0001-01-01 would otherwise stretch it to 100,000 weeks."""


def scorecard(
    tables: Mapping[str, Any],
    *,
    by: Sequence[str] | str = (),
    period: str = "month",
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    min_n: int = 30,
    compare: str | dt.date | None = None,
    level: float = 0.95,
    benchmarks: Mapping[str, Sequence[float]] | None = None,
    discount_rate: float = 0.10,
    currency: str = "currency",
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every CX and money metric by period and group, in long form.

    Parameters
    ----------
    tables
        A mapping of canonical table name to an Ibis table, pandas frame or pyarrow table
        (``ws.tables`` of a workspace; missing tables leave their metrics out).
    by
        Grouping columns: any customer attribute (joined through ``customer_id``), or a column
        of the source tables themselves such as ``touchpoint`` or ``survey`` (then only the
        metrics of tables having that column are reported). Nulls become ``"(missing)"``.
    period
        ``"month"`` (labels ``2025-01``), ``"quarter"`` (``2025-Q1``) or ``"week"``
        (``2025-W02``).
    since, until
        First and last period to report, in the one period grammar
        (:func:`cxroi.window.period_span`: ``2025``, ``2025-03``, ``2025-Q1``, ``2025-W02``,
        ``2025-03-15`` or ``A..B``) or as dates: the report starts with the period holding the
        first day of ``since``'s span and ends with the one holding the last day of
        ``until``'s. Default: the span of the data (:func:`cxroi.window.data_bounds`).
    min_n
        Estimates from fewer observations are flagged ``small-n``.
    compare
        A baseline period (one ``period``): every row gains ``change`` (value minus the
        baseline's value for the same group and metric) and ``p_value`` (NPS: adjusted-Wald
        difference; shares and churn: two-proportion z-test; means: Welch's t-test), and
        significant changes are flagged.
    level
        Confidence level of every interval.
    benchmarks
        NPS bands ``{name: (low, high)}`` (default :data:`DEFAULT_BENCHMARKS`: the brief's
        leaders 50-80 and average 5-10).
    discount_rate
        Annual discount rate for the retention CLV.
    currency
        Unit of the money metrics.
    metrics
        Only these metrics (default: :data:`DEFAULT_METRICS`, every metric but
        ``buying_customers``, as far as the data allows).

    Returns
    -------
    pandas.DataFrame
        Columns ``period``, ``period_start``, the ``by`` columns, ``metric``, ``value``, ``n``,
        ``ci_low``, ``ci_high``, ``level``, ``unit``, ``flag``, ``benchmark`` (and ``change``,
        ``p_value`` with ``compare``). The grid is complete: every period × group × metric has
        a row, with a null value and a flag saying why when there is nothing to measure.
    """
    by = [by] if isinstance(by, str) else list(by)
    reserved = {"period", "period_start", "metric", "value", "n", "k", "flag", "unit", "level"}
    if clash := reserved.intersection(by):
        raise CxroiError(f"scorecard: cannot group {param('by')} reserved name(s) {sorted(clash)}")
    money._check_period(period)
    tables = _resolve(tables)
    min_n = int(min_n)
    disc = money.period_discount_rate(float(discount_rate), period)
    bands = benchmark_bands(benchmarks)
    wanted = set(metrics) if metrics is not None else set(DEFAULT_METRICS)
    if unknown := wanted - {m.name for m in METRICS}:
        raise CxroiError(
            f"scorecard: unknown {param('metrics')} {sorted(unknown)}; "
            f"choose from {', '.join(m.name for m in METRICS)}"
        )

    ids = {"customer_id", "response_id", "transaction_id", "ticket_id", "event_id", "contract_id"}
    if bad := [b for b in by if b in ids]:
        raise CxroiError(
            f"scorecard: {param('by')} {bad[0]!r} is a key, one group per row; group by an "
            "attribute (plan, region, touchpoint, ...) instead"
        )
    customers = tables.get("customers")
    cust_by = [b for b in by if customers is not None and b in customers.columns]
    groups = None
    if cust_by and customers is not None:
        groups = customers.select(
            "customer_id", **{b: customers[b].cast("string").fill_null(_MISSING) for b in cust_by}
        )
    own = [b for b in by if b not in cust_by]
    usable = [
        n
        for n in _TIME
        if (t := tables.get(n)) is not None
        and all(b in t.columns for b in own)
        and (not cust_by or "customer_id" in t.columns)
    ]
    if by and not usable:
        attrs = [
            c for c in (customers.columns if customers is not None else ()) if c != "customer_id"
        ]
        raise CxroiError(
            f"scorecard: no table has column(s) {own}; set {param('by')} to a customer attribute "
            f"({', '.join(attrs) or 'none loaded'}) or a response column such as touchpoint"
        )

    # Calendar: requested span (plus the baseline period for compare).
    lo, hi = data_bounds(tables)
    first = (
        money.parse_period(since, period, edge="start", name="since")
        if since is not None
        else (money.index_of(lo, period) if lo is not None else None)
    )
    last = (
        money.parse_period(until, period, edge="end", name="until")
        if until is not None
        else (money.index_of(hi, period) if hi is not None else None)
    )
    cols = [
        "period",
        "period_start",
        *by,
        "metric",
        "value",
        "n",
        "ci_low",
        "ci_high",
        "level",
        "unit",
        "flag",
        "benchmark",
    ]
    if compare is not None:
        cols += ["change", "p_value"]
    if first is None or last is None:
        return pd.DataFrame(columns=cols)
    if first > last:
        raise CxroiError(
            f"scorecard: {param('since')} ({since}) is after {param('until')} ({until})"
        )
    base = (
        money.parse_period(compare, period, edge="one", name="compare")
        if compare is not None
        else None
    )
    q_first, q_last = (first, last) if base is None else (min(first, base), max(last, base))
    if q_last - q_first + 1 > MAX_PERIODS:
        raise CxroiError(
            f"scorecard: {q_last - q_first + 1:,} {period}s from "
            f"{money.period_label(q_first, period)} to {money.period_label(q_last, period)} is "
            f"more than {MAX_PERIODS:,}; narrow the span with {param('since')} and "
            f"{param('until')}, or use a longer {param('period')}"
        )

    fams = _query(
        tables,
        by=by,
        cust_by=cust_by,
        groups=groups,
        period=period,
        first=q_first,
        last=q_last,
        distinct_buyers="buying_customers" in wanted,
    )

    # The complete grid: periods × groups (from the data and, for customer attributes, every
    # value the customers table holds).
    ks = pd.DataFrame({"k": np.arange(q_first, q_last + 1, dtype="int64")})
    if by:
        frames = [f[by] for f in fams.values() if not f.empty]
        if groups is not None and not own:
            frames.append(groups.select(*cust_by).distinct().execute())
        g = pd.concat(frames).drop_duplicates() if frames else pd.DataFrame(columns=by)
        g = g.astype(str).drop_duplicates()
        grid = g.merge(ks, how="cross")
    else:
        grid = ks
    keys = [*by, "k"]
    w = grid
    for f in fams.values():
        f = f.copy()
        f["k"] = f["k"].astype("int64")
        for b in by:
            if b in f:
                f[b] = f[b].astype(str)
        w = w.merge(f, on=keys, how="left")
    count_cols = [c for c in w.columns if c not in keys]
    w[count_cols] = w[count_cols].astype("float64").fillna(0.0)
    have = {"transactions", "tickets", "contracts"} & set(fams)
    if "responses" in fams:
        have |= {m for m in ("nps", "csat", "ces") if f"{m}_n" in w or f"{m}_promoters" in w}

    vals = metric_values(w, have, level=level, disc=disc)
    pvals: dict[str, np.ndarray] = {}
    if base is not None:
        bw = w[w["k"] == base].drop(columns="k")
        aligned = w[by].merge(bw, on=by, how="left").fillna(0.0) if by else bw.iloc[[0] * len(w)]
        pvals = metric_tests(w, aligned.reset_index(drop=True), level=level)

    spec = {m.name: m for m in METRICS}
    parts = []
    for name, (v, n, clo, chi) in vals.items():
        if name not in wanted:
            continue
        m = spec[name]
        part = w[keys].copy()
        part["metric"] = name
        part["value"], part["n"], part["ci_low"], part["ci_high"] = v, n, clo, chi
        no_ci = np.isnan(clo) | np.isnan(chi)
        part["level"] = np.where(no_ci, np.nan, level)
        part["unit"] = currency if m.unit == "currency" else m.unit
        flags = [""] * len(part)
        if m.empty_flag:
            for i in np.flatnonzero(np.isnan(v) & (n == 0)):
                flags[i] = add_flag(flags[i], m.empty_flag)
        if m.estimate:
            for i in np.flatnonzero((n > 0) & (n < min_n)):
                flags[i] = add_flag(flags[i], SMALL_N)
        if name == "clv_simple":
            for i in np.flatnonzero((n > 0) & (vals["churn_rate"][0] == 0)):
                flags[i] = add_flag(flags[i], "zero-churn")
        if base is not None:
            if by:
                bv = (
                    part[by]
                    .merge(part.loc[part["k"] == base, [*by, "value"]], on=by, how="left")["value"]
                    .to_numpy()
                )
            else:
                bv = np.full(len(part), v[part["k"].to_numpy() == base][0])
            part["change"] = v - bv
            pv = pvals.get(name, np.full(len(part), np.nan))
            part["p_value"] = pv
            for i in np.flatnonzero(pv < 1 - level):
                flags[i] = add_flag(flags[i], "significant")
        for i in np.flatnonzero(no_ci):
            flags[i] = add_flag(flags[i], _no_interval(v[i], n[i], estimate=m.estimate))
        part["flag"] = flags
        part["benchmark"] = [benchmark_label(x, bands) for x in v] if name == "nps" else None
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out = out[(out["k"] >= first) & (out["k"] <= last)]
    out.insert(0, "period", [money.period_label(k, period) for k in out["k"]])
    out.insert(1, "period_start", [money.period_start(k, period) for k in out["k"]])
    order = {m.name: i for i, m in enumerate(METRICS)}
    out["_o"] = out["metric"].map(order)
    out = out.sort_values(["k", *by, "_o"]).drop(columns=["k", "_o"]).reset_index(drop=True)
    out["n"] = out["n"].astype("int64")
    return out[cols]


def _no_interval(value: float, n: float, *, estimate: bool) -> str:
    """Why a row has no interval (a :data:`cxroi.results.NO_INTERVAL` key)."""
    if np.isnan(value):
        return "no-data" if n == 0 else "not-estimable"
    return "not-estimable" if estimate else "exact"
