"""The CX and money scorecard: every metric by period and group, in long form, with uncertainty.

One row per period × group × metric with ``value``, ``n``, ``ci_low``, ``ci_high``, ``unit``,
``flag`` and, for NPS, the ``benchmark`` band it falls in. Every scan of raw rows is an Ibis
expression executed in the engine (one grouped aggregation per source table); only the counts,
sums and sums of squares per period and group come back, and the formula modules of
:mod:`cxroi.metrics` turn them into values and intervals.

Metric definitions are those of :mod:`cxroi.metrics.nps`, :mod:`~cxroi.metrics.csat`,
:mod:`~cxroi.metrics.ces` and :mod:`~cxroi.metrics.money`. Shares are in percent; money in the
workspace currency. Totals and counts (revenue, active customers, ...) are exact counts of the
data, so they carry no interval (``ci_low``/``ci_high`` are null) but still carry ``n``.

Flags (``;``-separated): ``small-n`` (an estimate from fewer than ``min_n`` observations),
``no-responses``/``no-transactions``/``no-tickets``/``no-new-customers`` (nothing to measure;
the value is null), ``no-active-customers`` (a rate per active customer with nobody active),
``zero-churn`` (CLV unbounded: nobody was lost), ``significant`` (with ``compare=``: the change
against the baseline period is significant at the confidence level).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.metrics import money
from cxroi.metrics.catalog import DEFAULT_METRICS, METRICS, metric_tests, metric_values
from cxroi.metrics.ces import ces_aggregates
from cxroi.metrics.csat import csat_aggregates
from cxroi.metrics.nps import nps_aggregates

__all__ = [
    "DEFAULT_BENCHMARKS",
    "DEFAULT_METRICS",
    "METRICS",
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


def _resolve(source: Any) -> tuple[dict[str, ir.Table | None], Any]:
    """Tables and settings from a Workspace (anything with ``.table(name)``) or a mapping."""
    names = ("customers", *_TIME)
    if hasattr(source, "table") and callable(source.table):
        return {n: source.table(n) for n in names}, getattr(source, "settings", None)
    if isinstance(source, Mapping):
        out: dict[str, ir.Table | None] = {}
        for n in names:
            t = source.get(n)
            if t is None or isinstance(t, ir.Table):
                out[n] = t
            else:
                try:
                    out[n] = ibis.memtable(t)
                except Exception as e:  # noqa: BLE001 - any unsupported object
                    raise CxroiError(f"scorecard: cannot read table {n!r} ({e})") from None
        unknown = set(source) - set(names) - {"events", "initiatives", "cases"}
        if unknown:
            raise CxroiError(f"scorecard: unknown table(s) {', '.join(sorted(unknown))}")
        return out, None
    raise CxroiError("scorecard needs a Workspace or a mapping of table name -> table")


def _bands(settings: Any, benchmarks: Mapping[str, Sequence[float]] | None) -> dict:
    b = benchmarks if benchmarks is not None else getattr(settings, "nps_benchmarks", None)
    b = b or DEFAULT_BENCHMARKS
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
    """One line describing the NPS bands, e.g. for a table title."""
    b = _bands(None, bands)
    return "NPS benchmarks: " + ", ".join(f"{k} {lo:g} to {hi:g}" for k, (lo, hi) in b.items())


# -- engine queries --------------------------------------------------------------------------


def _data_range(tables: dict[str, ir.Table | None]) -> tuple[Any, Any]:
    """First and last date of the activity tables (responses, transactions, tickets).

    Contract start dates count only when there is no other activity: contracts often start
    years before the other data begin.
    """
    for names in (("responses", "transactions", "tickets"), ("contracts",)):
        parts = [
            t.aggregate(lo=t[c].cast("date").min(), hi=t[c].cast("date").max())
            for n in names
            if (t := tables.get(n)) is not None and (c := _TIME[n]) in t.columns
        ]
        if not parts:
            continue
        r = ibis.union(*parts).execute() if len(parts) > 1 else parts[0].execute()
        lo, hi = r["lo"].dropna(), r["hi"].dropna()
        if len(lo):
            return lo.min(), hi.max()
    return None, None


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


def scorecard(
    source: Any,
    *,
    by: Sequence[str] | str = (),
    period: str = "month",
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    min_n: int | None = None,
    compare: str | dt.date | None = None,
    level: float = 0.95,
    benchmarks: Mapping[str, Sequence[float]] | None = None,
    discount_rate: float | None = None,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every CX and money metric by period and group, in long form.

    Parameters
    ----------
    source
        A :class:`~cxroi.store.Workspace`, or a mapping of canonical table name to an Ibis
        table, pandas frame or pyarrow table (missing tables leave their metrics out).
    by
        Grouping columns: any customer attribute (joined through ``customer_id``), or a column
        of the source tables themselves such as ``touchpoint`` or ``survey`` (then only the
        metrics of tables having that column are reported). Nulls become ``"(missing)"``.
    period
        ``"month"`` (labels ``2025-01``), ``"quarter"`` (``2025-Q1``) or ``"week"``
        (``2025-W02``).
    since, until
        First and last period to report (dates or labels; whole periods). Default: the span
        of the data's time columns.
    min_n
        Estimates from fewer observations are flagged ``small-n`` (default: the workspace's
        ``min_n``, else 30).
    compare
        A baseline period: every row gains ``change`` (value minus the baseline's value for the
        same group and metric) and ``p_value`` (NPS: adjusted-Wald difference; shares and churn:
        two-proportion z-test; means: Welch's t-test), and significant changes are flagged.
    level
        Confidence level of every interval.
    benchmarks
        NPS bands ``{name: (low, high)}`` (default: the workspace's, else the brief's
        leaders 50-80 and average 5-10).
    discount_rate
        Annual discount rate for the retention CLV (default: the workspace's, else 0.10).
    metrics
        Only these metrics (default: :data:`DEFAULT_METRICS`, every metric but
        ``buying_customers``, as far as the data allows).

    Returns
    -------
    pandas.DataFrame
        Columns ``period``, ``period_start``, the ``by`` columns, ``metric``, ``value``, ``n``,
        ``ci_low``, ``ci_high``, ``unit``, ``flag``, ``benchmark`` (and ``change``,
        ``p_value`` with ``compare``). The grid is complete: every period × group × metric has
        a row, with a null value and a flag saying why when there is nothing to measure.
    """
    by = [by] if isinstance(by, str) else list(by)
    reserved = {"period", "period_start", "metric", "value", "n", "k", "flag", "unit"}
    if clash := reserved.intersection(by):
        raise CxroiError(f"scorecard: cannot group by reserved name(s) {sorted(clash)}")
    money._check_period(period)
    tables, settings = _resolve(source)
    min_n = int(min_n if min_n is not None else getattr(settings, "min_n", 30))
    disc_annual = (
        discount_rate if discount_rate is not None else getattr(settings, "discount_rate", 0.10)
    )
    disc = money.period_discount_rate(float(disc_annual), period)
    currency = getattr(settings, "currency", "currency")
    bands = _bands(settings, benchmarks)
    wanted = set(metrics) if metrics is not None else set(DEFAULT_METRICS)
    if unknown := wanted - {m.name for m in METRICS}:
        raise CxroiError(f"scorecard: unknown metric(s) {sorted(unknown)}")

    customers = tables.get("customers")
    cust_by = [b for b in by if customers is not None and b in customers.columns]
    groups = None
    if cust_by:
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
            f"scorecard: no table has column(s) {own}; group by a customer attribute "
            f"({', '.join(attrs) or 'none loaded'}) or a response column such as touchpoint"
        )

    # Calendar: requested span (plus the baseline period for compare).
    lo, hi = _data_range(tables)
    first = (
        money.parse_period(since, period)
        if since is not None
        else (money.index_of(lo, period) if lo is not None else None)
    )
    last = (
        money.parse_period(until, period)
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
        "unit",
        "flag",
        "benchmark",
    ]
    if compare is not None:
        cols += ["change", "p_value"]
    if first is None or last is None:
        return pd.DataFrame(columns=cols)
    if first > last:
        raise CxroiError(f"scorecard: since ({since}) is after until ({until})")
    base = money.parse_period(compare, period) if compare is not None else None
    q_first, q_last = (first, last) if base is None else (min(first, base), max(last, base))

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
        unit = currency if m.unit == "currency" else m.unit
        part["unit"] = unit
        flags = [[] for _ in range(len(part))]
        if m.empty_flag:
            for i in np.flatnonzero(np.isnan(v) & (n == 0)):
                flags[i].append(m.empty_flag)
        if m.estimate:
            for i in np.flatnonzero((n > 0) & (n < min_n)):
                flags[i].append("small-n")
        if name == "clv_simple":
            for i in np.flatnonzero((n > 0) & (vals["churn_rate"][0] == 0)):
                flags[i].append("zero-churn")
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
                flags[i].append("significant")
        part["flag"] = [";".join(x) if x else None for x in flags]
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
