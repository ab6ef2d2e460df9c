"""Key driver analysis: which attributes move perception, and by how much.

Two decompositions of a linear model's :math:`R^2` among correlated drivers:

- **relative weights** (Johnson 2000): regress the target on the orthogonal counterparts
  :math:`Z` of the drivers and share each orthogonal component's explained variance back to
  the drivers in proportion to their squared loadings;
- **Shapley values** of :math:`R^2` (Lindeman, Merenda and Gold 1980; Grömping 2006), also
  called *general dominance weights* (Budescu 1993; Azen and Budescu 2003): each driver's
  increase in :math:`R^2` averaged over every order in which drivers can enter the model.
  Exact up to :data:`MAX_EXACT_DRIVERS` drivers, estimated from random orders beyond.

Both are computed from the correlation matrix only, so the work after one pass over the rows
does not depend on the number of rows. Intervals are bootstrap percentiles. Rows are dealt
into at most ``max_blocks`` random blocks whose sums and cross-products are computed once
(in the engine for an Ibis table); a bootstrap replicate resamples blocks with replacement
and rebuilds the correlation matrix from the block statistics. With no more rows than blocks
every row is its own block and this is the ordinary row bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError, param
from cxroi.estimator import Estimator
from cxroi.models.importance import (
    BlockStats,
    frame_stats,
    relative_weights_r2,
    shapley_exact,
    shapley_sampled,
    table_stats,
)
from cxroi.results import small_n_flag

__all__ = [
    "MAX_EXACT_DRIVERS",
    "METHODS",
    "QUADRANTS",
    "KeyDriverAnalysis",
    "key_drivers",
    "relative_weights",
    "shapley_importance",
]

MAX_EXACT_DRIVERS = 15
"""Up to this many drivers the Shapley decomposition is exact (all :math:`2^p` subsets)."""

METHODS = ("relative_weights", "shapley")

QUADRANTS = {
    (True, False): "fix first",
    (True, True): "keep up",
    (False, False): "monitor",
    (False, True): "maintain",
}
"""Quadrant label by (important, performs well)."""

_MIN_EXTRA_ROWS = 10  # a model with p drivers needs at least p + 10 complete rows
_NOT_ESTIMABLE = "not-estimable"  # one of cxroi.results.NO_INTERVAL


# --------------------------------------------------------------------------- validation


def _check_columns(columns: Sequence[str], target: str, drivers: Sequence[str]) -> None:
    if not drivers:
        raise CxroiError("key driver analysis needs at least one driver column")
    dup = sorted({d for d in drivers if list(drivers).count(d) > 1})
    if dup:
        raise CxroiError(f"driver(s) listed twice: {', '.join(dup)}")
    if target in drivers:
        raise CxroiError(f"the target {target!r} is also listed as a driver")
    missing = [c for c in [target, *drivers] if c not in columns]
    if missing:
        raise CxroiError(
            f"column(s) not found: {', '.join(missing)}; available: {', '.join(map(str, columns))}"
        )


def _missing_message(na: dict[str, int], n: int) -> str:
    parts = ", ".join(f"{v} in {k!r}" for k, v in na.items() if v)
    return (
        f"missing values among the {n} rows: {parts}; drop incomplete rows with "
        f"{param('dropna', True)} or fill them first"
    )


def _check_values(
    n: int, sd: np.ndarray, target: str, drivers: Sequence[str], r: np.ndarray
) -> None:
    p = len(drivers)
    _check_size(n, drivers)
    names = [*drivers, target]
    const = [names[i] for i in range(p + 1) if not sd[i] > 0]
    if const:
        raise CxroiError(
            f"constant column(s) (no variation, cannot drive anything): {', '.join(const)}"
        )
    ev, vec = np.linalg.eigh(r[:p, :p])
    if ev[0] < 1e-9 * max(ev[-1], 1.0):
        v = np.abs(vec[:, 0])
        involved = [drivers[int(i)] for i in np.flatnonzero(v > 1e-4 * v.max())]
        raise CxroiError(
            "perfectly collinear drivers (one is a linear combination of the others): "
            f"{', '.join(involved)}; drop one of them"
        )


# --------------------------------------------------------------------------- estimator


class KeyDriverAnalysis(Estimator):
    """Share a linear model's :math:`R^2` among correlated drivers, with bootstrap intervals.

    Parameters
    ----------
    method
        ``"relative_weights"`` (Johnson 2000) or ``"shapley"`` (LMG / general dominance).
    n_boot
        Bootstrap replicates for the intervals (0 for none).
    level
        Two-sided confidence level of the percentile intervals.
    random_state
        Seed of the random generator (block assignment, resampling, sampled orders).
    dropna
        Drop rows with a missing target or driver instead of raising.
    max_blocks
        At most this many blocks of rows carry the bootstrap (see the module docstring).
    n_orders
        Random entry orders for the sampled Shapley values beyond :data:`MAX_EXACT_DRIVERS`.
    scale
        ``(low, high)`` of the rating scale for the performance axis of :meth:`quadrant`;
        ``None`` uses each driver's observed minimum and maximum.

    Attributes
    ----------
    params_ : Series
        Raw weight per driver (they sum to :math:`R^2`).
    weights_, r2_, n_, ci_low_, ci_high_, share_ci_low_, share_ci_high_, sign_, means_
        Learned after :meth:`fit`.
    """

    def __init__(
        self,
        method: str = "relative_weights",
        *,
        n_boot: int = 200,
        level: float = 0.95,
        random_state: int = 0,
        dropna: bool = False,
        max_blocks: int = 4000,
        n_orders: int = 2000,
        scale: tuple[float, float] | None = None,
    ):
        self.method = method
        self.n_boot = n_boot
        self.level = level
        self.random_state = random_state
        self.dropna = dropna
        self.max_blocks = max_blocks
        self.n_orders = n_orders
        self.scale = scale

    # -- fitting
    def fit(
        self, data: Any, target: str, drivers: Sequence[str] | None = None
    ) -> KeyDriverAnalysis:
        """Fit on a pandas DataFrame or an Ibis table.

        Parameters
        ----------
        data
            One row per response (or customer): the target and the driver columns.
        target
            The outcome column (NPS, CSAT, likelihood to churn, ...).
        drivers
            Candidate driver columns; ``None`` takes every numeric column but the target.

        Returns
        -------
        KeyDriverAnalysis
            ``self``, fitted.
        """
        if self.method not in METHODS:
            raise CxroiError(
                f"unknown {param('method')} {self.method!r}; choose one of {', '.join(METHODS)}"
            )
        if not 0 < self.level < 1:
            raise CxroiError(f"{param('level')} must be between 0 and 1, got {self.level}")
        rng = np.random.default_rng(self.random_state)
        if isinstance(data, pd.DataFrame):
            stats = self._stats_from_frame(data, target, drivers, rng)
        else:
            stats = self._stats_from_table(data, target, drivers)
        full = stats.correlations(np.ones((1, len(stats.counts))))
        _check_values(self.n_, self._sd, target, self.drivers_, full[0])
        weights = np.ones((1, len(stats.counts)))
        if self.n_boot > 0:
            g = len(stats.counts)
            boot = rng.multinomial(g, np.full(g, 1 / g), size=self.n_boot).astype(float)
            weights = np.vstack([weights, boot])
        r = stats.correlations(weights)
        w = self._decompose(r, rng)
        p = len(self.drivers_)
        self.weights_ = w[0]
        self.r2_ = float(w[0].sum())
        rxx, rxy = r[0, :p, :p], r[0, :p, p]
        self.sign_ = np.sign(np.linalg.solve(rxx, rxy))
        alpha = (1 - self.level) / 2
        if self.n_boot > 0:
            bw = w[1:]
            with np.errstate(invalid="ignore", divide="ignore"):
                bs = bw / bw.sum(axis=1, keepdims=True)
            self.ci_low_, self.ci_high_ = np.nanquantile(bw, [alpha, 1 - alpha], axis=0)
            self.share_ci_low_, self.share_ci_high_ = np.nanquantile(bs, [alpha, 1 - alpha], axis=0)
            self.r2_ci_ = tuple(np.nanquantile(bw.sum(axis=1), [alpha, 1 - alpha]))
        else:
            nan = np.full(p, np.nan)
            self.ci_low_ = self.ci_high_ = self.share_ci_low_ = self.share_ci_high_ = nan
            self.r2_ci_ = (np.nan, np.nan)
        self.params_ = pd.Series(self.weights_, index=list(self.drivers_), name="weight")
        return self

    def _decompose(self, r: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.method == "relative_weights":
            return relative_weights_r2(r)
        if r.shape[1] - 1 <= MAX_EXACT_DRIVERS:
            return shapley_exact(r)
        return shapley_sampled(r, self.n_orders, rng)

    def _stats_from_frame(
        self, df: pd.DataFrame, target: str, drivers: Sequence[str] | None, rng: np.random.Generator
    ) -> BlockStats:
        if drivers is None:
            drivers = [c for c in df.select_dtypes("number").columns if c != target]
        drivers = list(drivers)
        _check_columns(list(df.columns), target, drivers)
        cols = [*drivers, target]
        sub = df[cols]
        bad = [c for c in cols if not pd.api.types.is_numeric_dtype(sub[c])]
        if bad:
            raise CxroiError(f"non-numeric column(s) cannot be drivers or target: {', '.join(bad)}")
        na = sub.isna().sum()
        if na.any():
            if not self.dropna:
                raise CxroiError(_missing_message(na.to_dict(), len(sub)))
            sub = sub.dropna()
        x = sub.to_numpy(dtype=float)
        self._set_columns(target, drivers, len(x))
        if len(x):
            self.means_, self._sd = x.mean(axis=0)[:-1], x.std(axis=0)
            self._lo, self._hi = x.min(axis=0)[:-1], x.max(axis=0)[:-1]
        else:
            self._sd = np.zeros(len(cols))
        _check_size(self.n_, drivers)
        return frame_stats(x, self.max_blocks, rng)

    def _stats_from_table(
        self, table: Any, target: str, drivers: Sequence[str] | None
    ) -> BlockStats:
        schema = table.schema()
        if drivers is None:
            drivers = [c for c, t in schema.items() if t.is_numeric() and c != target]
        drivers = list(drivers)
        _check_columns(list(schema.names), target, drivers)
        cols = [*drivers, target]
        bad = [c for c in cols if not schema[c].is_numeric()]
        if bad:
            raise CxroiError(f"non-numeric column(s) cannot be drivers or target: {', '.join(bad)}")
        aggs: dict[str, Any] = {"_rows": table.count()}
        for i, c in enumerate(cols):
            aggs[f"_na{i}"] = table[c].isnull().sum()
        counts = table.aggregate(**aggs).to_pandas().iloc[0]
        na = {c: int(counts[f"_na{i}"]) for i, c in enumerate(cols)}
        t = table
        if any(na.values()):
            if not self.dropna:
                raise CxroiError(_missing_message(na, int(counts["_rows"])))
            t = table.drop_null(cols)
        desc: dict[str, Any] = {"_n": t.count()}
        for i, c in enumerate(cols):
            x = t[c].cast("float64")
            desc.update(
                {
                    f"_m{i}": x.mean(),
                    f"_sd{i}": x.std(how="pop"),
                    f"_lo{i}": x.min(),
                    f"_hi{i}": x.max(),
                }
            )
        d = t.aggregate(**desc).to_pandas().iloc[0]
        n = int(d["_n"])
        self._set_columns(target, drivers, n)
        _check_size(n, drivers)
        q = len(cols)
        means = np.array([d[f"_m{i}"] for i in range(q)], float)
        self.means_ = means[:-1]
        self._sd = np.nan_to_num(np.array([d[f"_sd{i}"] for i in range(q)], float))
        self._lo = np.array([d[f"_lo{i}"] for i in range(q - 1)], float)
        self._hi = np.array([d[f"_hi{i}"] for i in range(q - 1)], float)
        return table_stats(t, cols, means, self.max_blocks, self.random_state)

    def _set_columns(self, target: str, drivers: list[str], n: int) -> None:
        self.target_, self.drivers_, self.n_ = target, drivers, n

    # -- results
    def _summary(self) -> pd.DataFrame:
        """One row per driver, most important first (the :attr:`summary`).

        Columns ``driver``, ``weight`` (share of the target's variance the driver accounts
        for), ``ci_low``/``ci_high`` (bootstrap interval of ``weight``), ``share`` (of
        :math:`R^2`) with ``share_ci_low``/``share_ci_high``, ``sign`` (of the driver's
        coefficient in the full model), ``rank``, ``r2`` (the model's :math:`R^2`) and ``n``.
        """
        out = pd.DataFrame(
            {
                "driver": self.drivers_,
                "weight": self.weights_,
                "ci_low": self.ci_low_,
                "ci_high": self.ci_high_,
                "share": self.weights_ / self.r2_,
                "share_ci_low": self.share_ci_low_,
                "share_ci_high": self.share_ci_high_,
                "sign": np.where(self.sign_ < 0, "-", "+"),
            }
        )
        out = out.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
        out["rank"] = np.arange(1, len(out) + 1)
        out["r2"] = self.r2_
        out["n"] = self.n_
        return out

    def quadrant(self) -> pd.DataFrame:
        """Driver importance against performance, with the action quadrant.

        Performance is the driver's mean on a 0-100 scale,
        :math:`100\\,(\\bar x - \\text{low}) / (\\text{high} - \\text{low})`. A driver is
        *important* when its share of :math:`R^2` exceeds the average share :math:`1/p`, and
        *performs well* when its performance is at least the mean performance over drivers.
        Quadrants: ``fix first`` (important, weak), ``keep up`` (important, strong),
        ``monitor`` (minor, weak), ``maintain`` (minor, strong).

        Returns
        -------
        pandas.DataFrame
            ``driver``, ``share``, ``share_ci_low``, ``share_ci_high``, ``mean``,
            ``performance``, ``quadrant``, ordered with ``fix first`` on top.
        """
        self._check_fitted()
        lo, hi = (self._lo, self._hi) if self.scale is None else self.scale
        perf = 100 * (self.means_ - lo) / (np.asarray(hi) - lo)
        share = self.weights_ / self.r2_
        important = share > 1 / len(share)
        strong = perf >= perf.mean()
        out = pd.DataFrame(
            {
                "driver": self.drivers_,
                "share": share,
                "share_ci_low": self.share_ci_low_,
                "share_ci_high": self.share_ci_high_,
                "mean": self.means_,
                "performance": perf,
                "quadrant": [
                    QUADRANTS[(bool(i), bool(s))] for i, s in zip(important, strong, strict=True)
                ],
            }
        )
        order = {"fix first": 0, "keep up": 1, "monitor": 2, "maintain": 3}
        key = out["quadrant"].map(order) * 10 - out["share"]
        return out.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def _check_size(n: int, drivers: Sequence[str]) -> None:
    p = len(drivers)
    if n < p + _MIN_EXTRA_ROWS:
        raise CxroiError(
            f"too few rows: {n} complete rows for {p} driver(s); key driver analysis needs at "
            f"least {p + _MIN_EXTRA_ROWS} (drivers + {_MIN_EXTRA_ROWS})"
        )


# --------------------------------------------------------------------------- functions


def relative_weights(
    df: Any, target: str, drivers: Sequence[str] | None = None, **options: Any
) -> pd.DataFrame:
    """Johnson's (2000) relative weights of ``drivers`` for ``target``.

    Parameters
    ----------
    df
        pandas DataFrame or Ibis table.
    target, drivers
        Outcome column and driver columns (``None``: every other numeric column).
    **options
        Keyword options of :class:`KeyDriverAnalysis` (``n_boot``, ``level``,
        ``random_state``, ``dropna``, ...).

    Returns
    -------
    pandas.DataFrame
        :attr:`KeyDriverAnalysis.summary`; the raw weights sum to the model :math:`R^2`.

    Examples
    --------
    >>> relative_weights(mtcars, "mpg", ["cyl", "disp", "hp", "gear"])  # doctest: +SKIP
    """
    return KeyDriverAnalysis("relative_weights", **options).fit(df, target, drivers).summary


def shapley_importance(
    df: Any, target: str, drivers: Sequence[str] | None = None, **options: Any
) -> pd.DataFrame:
    """Shapley (LMG, general dominance) decomposition of :math:`R^2` among ``drivers``.

    Exact for up to :data:`MAX_EXACT_DRIVERS` drivers, from ``n_orders`` random entry orders
    beyond. Parameters and result as :func:`relative_weights`.
    """
    return KeyDriverAnalysis("shapley", **options).fit(df, target, drivers).summary


def key_drivers(
    df: Any,
    target: str,
    drivers: Sequence[str] | None = None,
    *,
    by: str | None = None,
    method: str = "relative_weights",
    min_n: int = 30,
    quadrant: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """Key driver table, overall or per group, with the action quadrant.

    Parameters
    ----------
    df
        pandas DataFrame or Ibis table, one row per response.
    target, drivers
        As :func:`relative_weights`.
    by
        Optional grouping column: one analysis per group (plus a ``group`` column). A group
        that cannot be analysed (too few rows, a constant driver) keeps one row per driver
        with empty numbers, flagged ``not-estimable``, the reason in ``note``.
    method
        ``"relative_weights"`` or ``"shapley"``.
    min_n
        Groups with fewer rows are flagged ``small-n``.
    quadrant
        Add ``performance`` and ``quadrant`` columns (see :meth:`KeyDriverAnalysis.quadrant`).

    Returns
    -------
    pandas.DataFrame
        The :attr:`KeyDriverAnalysis.summary` columns, plus ``performance``, ``quadrant``,
        ``flag`` (``small-n``, ``not-estimable``) and ``note`` (and ``group`` with ``by``).
    """
    if by is None:
        return _one(df, target, drivers, method, min_n, quadrant, options)
    if not isinstance(df, pd.DataFrame):
        df = df.to_pandas()
    if by not in df.columns:
        raise CxroiError(
            f"{param('by')} {by!r} is not a column; available: {', '.join(map(str, df.columns))}"
        )
    if drivers is None:
        drivers = [c for c in df.select_dtypes("number").columns if c not in (target, by)]
    parts = []
    for g, sub in df.groupby(by, sort=True, dropna=False):
        try:
            res = _one(sub, target, drivers, method, min_n, quadrant, options)
        except CxroiError as e:
            flag = ";".join(f for f in (small_n_flag(len(sub), min_n), _NOT_ESTIMABLE) if f)
            res = pd.DataFrame(
                {"driver": list(drivers), "n": len(sub), "flag": flag, "note": str(e)}
            )
        res.insert(0, "group", g)
        parts.append(res)
    return pd.concat(parts, ignore_index=True)


def _one(df, target, drivers, method, min_n, quadrant, options) -> pd.DataFrame:
    model = KeyDriverAnalysis(method, **options).fit(df, target, drivers)
    out = model.summary
    if quadrant:
        q = model.quadrant().set_index("driver")
        out["performance"] = out["driver"].map(q["performance"])
        out["quadrant"] = out["driver"].map(q["quadrant"])
    out["flag"] = small_n_flag(model.n_, min_n)
    out["note"] = ""
    return out
