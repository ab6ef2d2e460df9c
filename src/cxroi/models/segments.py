"""Rule-based segments and their profiles: who they are, what they think, what they are worth.

A *dimension* splits the customers into segments: a categorical column (plan, occupation,
region, city) by its values, a numeric one (average transaction, contract value, visits per
month, age) into bands, cut at quantiles or at edges the analyst gives. A *rule* is a named
filter in the initiative target language (``region == 'west' and plan == 'premium'``:
:mod:`cxroi.models.initiative`, parsed, never evaluated as Python), one segment of its own.
Customers without a value (no purchase, so no average transaction) form their own segment,
``missing``: they are never dropped.

The profile of a segment (:func:`segment_profile`), each with an interval and ``n``:

- ``customers`` (a count, exact) and ``share_customers`` (Wilson interval);
- ``revenue_share``: the segment's share of all revenue in the window (purchases plus
  contract fees);
- ``nps``, ``csat``, ``ces``: of the customers' latest answers (one vote per customer;
  adjusted-Wald, Wilson and t intervals by :mod:`cxroi.metrics`);
- ``churn_rate`` (per year of exposure), ``revenue_per_year``, ``support_cost_per_year`` and
  ``clv``: the sums and retention CLV of :func:`cxroi.models.perception.group_metrics`, the one
  definition the value of perception uses, with the margin counting contract fees;
- percentile intervals of a Poisson bootstrap over customers, drawn per segment by
  :func:`cxroi.models.cell_bootstrap.cell_replicates` (exactly for small segments, from the
  normal limit of the sums for large ones); the segments of a dimension share a replicate, so
  shares and gaps between them are consistent within it.

Written here because no library profiles segments with intervals; the pieces are numpy
(``bincount`` over the segment codes) and the metrics of :mod:`cxroi.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError, first_line
from cxroi.metrics._intervals import wilson
from cxroi.metrics.ces import ces_from_moments
from cxroi.metrics.csat import csat_from_counts
from cxroi.metrics.nps import nps_from_counts
from cxroi.models.cell_bootstrap import cell_replicates
from cxroi.models.initiative import target_filter
from cxroi.models.perception import group_metrics
from cxroi.results import small_n_flag

__all__ = [
    "MISSING",
    "NUMERIC_DIMENSIONS",
    "SegmentSpec",
    "Segmentation",
    "band_edges",
    "segment",
    "segment_profile",
]

MISSING = "missing"
"""The segment of customers without a value on a dimension."""

NUMERIC_DIMENSIONS = ("avg_transaction", "contract_value", "visits_per_month", "age")
"""The brief's numeric dimensions: cut into bands."""

SUM_COLUMNS = ("churned", "exposure_years", "revenue", "purchases", "support_cost")
"""Per-customer columns summed per segment (the order :func:`group_metrics` reads)."""

MAX_LEVELS = 200
"""A categorical dimension with more values than this is refused (``customer_id`` is not a
segmentation)."""
CSAT_SATISFIED = 4
CES_EASY = 5


@dataclass(frozen=True)
class SegmentSpec:
    """How to segment: dimensions, bands and named rules.

    Parameters
    ----------
    dimensions
        Columns to segment by, each on its own.
    bands
        Quantile bands of a numeric dimension (default 4: quartiles).
    edges
        Cut points of a numeric dimension, overriding its quantiles: ``{"age": [30, 50]}``
        gives ``< 30``, ``30–50`` and ``≥ 50``.
    rules
        Named segments by a filter: ``{"west premium": "region == 'west' and plan ==
        'premium'"}``.
    """

    dimensions: tuple[str, ...]
    bands: int = 4
    edges: Mapping[str, Sequence[float]] = field(default_factory=dict)
    rules: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Segmentation:
    """Customers' segment codes per dimension: ``codes[dim]`` indexes ``labels[dim]``."""

    codes: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    edges: dict[str, list[float]]


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def band_edges(values: np.ndarray, bands: int) -> list[float]:
    """Inner cut points of ``bands`` quantile bands of the non-missing ``values``.

    Ties can merge bands (visits per month of mostly zeros): the distinct cut points are kept,
    so there may be fewer bands than asked.
    """
    v = values[~np.isnan(values)]
    if v.size == 0:
        return []
    q = np.quantile(v, np.arange(1, bands) / bands)
    cut = sorted({float(x) for x in q if float(x) > v.min()})
    return cut


def _band_labels(edges: Sequence[float]) -> list[str]:
    if not edges:
        return ["all"]
    e = [_fmt(x) for x in edges]
    return [f"< {e[0]}", *[f"{a}–{b}" for a, b in zip(e[:-1], e[1:], strict=True)], f"≥ {e[-1]}"]


def segment(frame: pd.DataFrame, spec: SegmentSpec) -> Segmentation:
    """Assign every customer of ``frame`` a segment on each dimension and rule.

    Raises
    ------
    CxroiError
        An unknown dimension, a band edge outside the data (it would leave a band empty), a
        rule that cannot be evaluated, or a segment that holds no customer.
    """
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    edges_out: dict[str, list[float]] = {}
    if spec.bands < 2:
        raise CxroiError(f"segments: bands must be at least 2, got {spec.bands}")
    for dim in spec.dimensions:
        if dim not in frame.columns:
            raise CxroiError(
                f"segments: no column {dim!r}; available: {', '.join(map(str, frame.columns))}"
            )
        col = frame[dim]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric and (dim in spec.edges or dim in NUMERIC_DIMENSIONS or col.nunique() > 12):
            v = col.to_numpy(float)
            edges = _edges(dim, v, spec)
            code = np.searchsorted(np.asarray(edges, float), v, side="right").astype(np.int64)
            names = _band_labels(edges)
            miss = np.isnan(v)
            edges_out[dim] = edges
        else:
            cat = pd.Categorical(col.astype("string"))
            if len(cat.categories) > MAX_LEVELS:
                raise CxroiError(
                    f"segments: {dim} has {len(cat.categories):,} distinct values, more than "
                    f"{MAX_LEVELS} segments; choose a coarser column or a rule"
                )
            code = cat.codes.astype(np.int64)
            names = [str(c) for c in cat.categories]
            miss = code < 0
        if miss.any():
            code = np.where(miss, len(names), code)
            names = [*names, MISSING]
        counts = np.bincount(code, minlength=len(names))
        if (counts == 0).any():
            empty = names[int(np.flatnonzero(counts == 0)[0])]
            raise CxroiError(f"segments: segment {dim} {empty} holds no customers")
        codes[dim], labels[dim] = code, names
    for name, expr in spec.rules.items():
        hit = _rule_hits(frame, name, expr)
        if not hit.any():
            raise CxroiError(f"segments: rule {name!r} ({expr}) matches no customer")
        key = f"rule:{name}"
        codes[key] = np.where(hit, 0, 1).astype(np.int64)
        labels[key] = [name, f"not {name}"]
    return Segmentation(codes, labels, edges_out)


def _rule_hits(frame: pd.DataFrame, name: str, expr: str) -> np.ndarray:
    """Which rows a rule selects: the initiative target language
    (:func:`cxroi.models.initiative.target_filter`), run in DuckDB, never evaluated as Python."""
    import ibis

    t = ibis.memtable(frame.assign(_row=np.arange(len(frame))))
    try:
        pred = target_filter(t, expr)
    except CxroiError as e:
        raise CxroiError(f"segments: rule {name!r}: {first_line(e)}") from None
    if pred is None:
        raise CxroiError(f"segments: rule {name!r} is empty")
    hit = t.select("_row", hit=pred.fill_null(False)).order_by("_row").to_pandas()["hit"]
    return hit.to_numpy(bool)


def _edges(dim: str, v: np.ndarray, spec: SegmentSpec) -> list[float]:
    if dim not in spec.edges:
        return band_edges(v, spec.bands)
    given = [float(x) for x in spec.edges[dim]]
    if not given:
        raise CxroiError(f"segments: no band edges for {dim}")
    if given != sorted(set(given)):
        raise CxroiError(f"segments: band edges for {dim} must increase, got {given}")
    ok = v[~np.isnan(v)]
    lo, hi = float(ok.min()), float(ok.max())
    for e in given:
        if not lo < e <= hi:
            raise CxroiError(
                f"segments: band edge {e:g} for {dim} lies outside the data "
                f"({_fmt(lo)} to {_fmt(hi)}): a band would be empty"
            )
    return given


def segment_profile(
    frame: pd.DataFrame,
    segmentation: Segmentation,
    *,
    discount_rate: float = 0.10,
    min_n: int = 30,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """The profile of every segment, long: one row per dimension, segment and metric.

    Parameters
    ----------
    frame
        One row per customer with :data:`SUM_COLUMNS`, ``nps_group`` (missing without an
        answer), ``csat_last`` and ``ces_last``.
    segmentation
        Segment codes of the rows (:func:`segment`).
    discount_rate
        Annual discount rate of the CLV.
    min_n
        Segments with fewer customers are flagged ``small-n`` (and kept).
    n_boot, level, random_state
        Bootstrap replicates, interval level, seed.

    Returns
    -------
    pandas.DataFrame
        ``dimension``, ``segment``, ``metric``, ``value``, ``ci_low``, ``ci_high``,
        ``level``, ``n``, ``flag``; ``n`` is the customers behind the metric (answers for
        NPS, CSAT, CES).
    """
    missing = [c for c in (*SUM_COLUMNS, "nps_group") if c not in frame.columns]
    if missing:
        raise CxroiError(f"the segment frame lacks column(s): {', '.join(missing)}")
    n_all = len(frame)
    x = np.nan_to_num(frame[list(SUM_COLUMNS)].to_numpy(float))
    rng = np.random.default_rng(random_state)
    alpha = (1 - level) / 2
    rows: list[dict[str, Any]] = []
    for dim, code in segmentation.codes.items():
        names = segmentation.labels[dim]
        k = len(names)
        sums = cell_replicates(x, code, k, n_boot, rng)
        m = group_metrics(sums, False, discount_rate)
        total_rev = sums[..., 2].sum(axis=1)  # the segments partition the customers
        with np.errstate(divide="ignore", invalid="ignore"):
            m["revenue_share"] = sums[..., 2] / total_rev[:, None]
        m["revenue_per_year"] = m.pop("spend_per_year")
        n_seg = np.bincount(code, minlength=k)
        answers = _answer_metrics(frame, code, k, level)
        share, _, lo, hi = wilson(n_seg, n_all, level=level)
        for s, name in enumerate(names):
            n = int(n_seg[s])
            flag = small_n_flag(n, min_n)

            def add(metric: str, value: float, lo_: float, hi_: float, n_: int, flag_: str,
                    key: tuple[str, str] = (dim, name)) -> None:  # fmt: skip
                rows.append({"dimension": key[0], "segment": key[1], "metric": metric,
                             "value": float(value), "ci_low": lo_, "ci_high": hi_,
                             "level": level, "n": n_, "flag": flag_})  # fmt: skip

            add("customers", n, np.nan, np.nan, n, ";".join(f for f in (flag, "exact") if f))
            add("share_customers", share[s], lo[s], hi[s], n, flag)
            for metric in ("revenue_share", "revenue_per_year", "support_cost_per_year",
                           "churn_rate", "clv"):  # fmt: skip
                v = m[metric][:, s]
                ci = (
                    np.nanquantile(v[1:], [alpha, 1 - alpha])
                    if n_boot > 0 and np.isfinite(v[1:]).any()
                    else (np.nan, np.nan)
                )
                add(metric, v[0], float(ci[0]), float(ci[1]), n, flag)
            for metric, (val, lo_, hi_, n_ans) in answers.items():
                na = int(n_ans[s])
                f = small_n_flag(na, min_n) if na else "no-data"
                add(metric, val[s], lo_[s], hi_[s], na, f)
    return pd.DataFrame(rows)


def _answer_metrics(
    frame: pd.DataFrame, code: np.ndarray, k: int, level: float
) -> dict[str, tuple[np.ndarray, ...]]:
    """NPS, CSAT and CES of each segment's latest answers: value, interval, answers."""
    out: dict[str, tuple[np.ndarray, ...]] = {}
    g = frame["nps_group"].astype("string")
    counts = [np.bincount(code, (g == x).fillna(False).to_numpy(float), minlength=k)
              for x in ("promoter", "passive", "detractor")]  # fmt: skip
    r = nps_from_counts(*counts, level=level)
    out["nps"] = (r["nps"], r["ci_low"], r["ci_high"], r["n"])
    if "csat_last" in frame.columns:
        c = frame["csat_last"].to_numpy(float)
        ok = ~np.isnan(c)
        sat = np.bincount(code, (ok & (np.nan_to_num(c) >= CSAT_SATISFIED)).astype(float), k)
        n = np.bincount(code, ok.astype(float), minlength=k)
        r = csat_from_counts(sat, n, level=level)
        out["csat"] = (r["csat"], r["ci_low"], r["ci_high"], n)
    if "ces_last" in frame.columns:
        c = frame["ces_last"].to_numpy(float)
        ok = ~np.isnan(c)
        v = np.nan_to_num(c)
        n = np.bincount(code, ok.astype(float), minlength=k)
        tot = np.bincount(code, v, minlength=k)
        sq = np.bincount(code, v**2, minlength=k)
        easy = np.bincount(code, (ok & (v >= CES_EASY)).astype(float), minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = ces_from_moments(n, tot, sq, easy, level=level)
        out["ces"] = (r["mean"], r["ci_low"], r["ci_high"], n)
    return out
