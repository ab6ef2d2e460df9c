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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError

__all__ = [
    "MAX_EXACT_DRIVERS",
    "METHODS",
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


# --------------------------------------------------------------------------- block statistics


class _BlockStats:
    """Row counts, sums and cross-products of centred columns, per block of rows."""

    def __init__(self, counts: np.ndarray, sums: np.ndarray, cross: np.ndarray):
        self.counts = counts  # (G,)
        self.sums = sums  # (G, q)
        self.cross = cross  # (G, q, q)

    def correlations(self, weights: np.ndarray) -> np.ndarray:
        """Correlation matrices for block weights of shape (R, G) -> (R, q, q)."""
        q = self.sums.shape[1]
        n = weights @ self.counts
        s = weights @ self.sums
        c = (weights @ self.cross.reshape(len(self.counts), q * q)).reshape(-1, q, q)
        mean = s / n[:, None]
        cov = c / n[:, None, None] - mean[:, :, None] * mean[:, None, :]
        sd = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            return cov / (sd[:, :, None] * sd[:, None, :])


def _frame_stats(x: np.ndarray, max_blocks: int, rng: np.random.Generator) -> _BlockStats:
    n, q = x.shape
    xc = x - x.mean(axis=0)
    if n <= max_blocks:
        return _BlockStats(np.ones(n), xc, xc[:, :, None] * xc[:, None, :])
    block = rng.integers(0, max_blocks, size=n)
    counts = np.bincount(block, minlength=max_blocks).astype(float)
    sums = np.stack([np.bincount(block, xc[:, i], max_blocks) for i in range(q)], axis=1)
    cross = np.empty((max_blocks, q, q))
    for i in range(q):
        for j in range(i, q):
            cross[:, i, j] = cross[:, j, i] = np.bincount(block, xc[:, i] * xc[:, j], max_blocks)
    return _BlockStats(counts, sums, cross)


def _table_stats(
    table: Any, cols: list[str], means: np.ndarray, max_blocks: int, seed: int
) -> _BlockStats:
    """Block statistics computed in the engine; at most ``max_blocks`` rows come back.

    A row's block is a hash of its key (``response_id`` when there is one, else its row
    number) mixed with the seed, so blocks are random with respect to the values.
    """
    import ibis

    key = table["response_id"] if "response_id" in table.columns else ibis.row_number()
    blk = ((key.hash() + seed).hash() % max_blocks).abs()
    t = table.select(*cols, _blk=blk)
    c = {name: (t[name].cast("float64") - float(m)) for name, m in zip(cols, means, strict=True)}
    aggs: dict[str, Any] = {"_n": t.count()}
    q = len(cols)
    for i in range(q):
        aggs[f"_s{i}"] = c[cols[i]].sum()
        for j in range(i, q):
            aggs[f"_c{i}_{j}"] = (c[cols[i]] * c[cols[j]]).sum()
    df = t.group_by("_blk").aggregate(**aggs).to_pandas()
    g = len(df)
    sums = np.stack([df[f"_s{i}"].to_numpy(float) for i in range(q)], axis=1)
    cross = np.empty((g, q, q))
    for i in range(q):
        for j in range(i, q):
            cross[:, i, j] = cross[:, j, i] = df[f"_c{i}_{j}"].to_numpy(float)
    return _BlockStats(df["_n"].to_numpy(float), sums, cross)


# --------------------------------------------------------------------------- decompositions


def _relative_weights(r: np.ndarray) -> np.ndarray:
    """Johnson's raw relative weights for a stack of correlation matrices (R, p+1, p+1).

    .. math::

        R_{xx} = V \\Lambda V^\\top,\\quad \\Lambda^* = V \\Lambda^{1/2} V^\\top,\\quad
        \\beta = \\Lambda^{*-1} r_{xy},\\quad \\varepsilon_j = \\sum_k \\Lambda^{*2}_{jk} \\beta_k^2
    """
    p = r.shape[1] - 1
    rxx, rxy = r[:, :p, :p], r[:, :p, p]
    out = np.full((len(r), p), np.nan)
    ok = np.isfinite(r).all(axis=(1, 2))
    if not ok.any():
        return out
    ev, vec = np.linalg.eigh(rxx[ok])
    good = ev.min(axis=1) > 1e-12
    ev = np.clip(ev, 1e-300, None)
    lam = np.einsum("rik,rk,rjk->rij", vec, np.sqrt(ev), vec)
    inv_half = np.einsum("rik,rk,rjk->rij", vec, 1 / np.sqrt(ev), vec)
    beta = np.einsum("rij,rj->ri", inv_half, rxy[ok])
    eps = np.einsum("rjk,rk->rj", lam**2, beta**2)
    eps[~good] = np.nan
    out[ok] = eps
    return out


def _sweep(a: np.ndarray, k: int) -> np.ndarray:
    """Sweep a stack of symmetric matrices on pivot ``k`` (Goodnight 1979)."""
    d = a[:, k, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        col = a[:, :, k] / d[:, None]
        out = a - col[:, :, None] * a[:, None, k, :]
        out[:, k, :] = col
        out[:, :, k] = col
        out[:, k, k] = -1 / d
    return out


def _subset_r2(r: np.ndarray) -> np.ndarray:
    """:math:`R^2` of every subset of drivers, indexed by bit mask: shape (2^p, R)."""
    p = r.shape[1] - 1
    r2 = np.zeros((1 << p, len(r)))

    def visit(a: np.ndarray, mask: int, start: int) -> None:
        for k in range(start, p):
            b = _sweep(a, k)
            m = mask | (1 << k)
            r2[m] = 1 - b[:, p, p]
            if k + 1 < p:
                visit(b, m, k + 1)

    visit(r, 0, 0)
    return r2


def _shapley_exact(r: np.ndarray) -> np.ndarray:
    """Exact Shapley values of :math:`R^2`.

    .. math::

        \\phi_j = \\sum_{S \\subseteq D \\setminus \\{j\\}} \\frac{|S|!\\,(p-|S|-1)!}{p!}
        \\left(R^2_{S \\cup \\{j\\}} - R^2_S\\right)
    """
    p = r.shape[1] - 1
    r2 = _subset_r2(r)
    masks = np.arange(1 << p)
    size = np.array([bin(m).count("1") for m in masks])
    w = np.array(
        [math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)]
    )
    out = np.empty((len(r), p))
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        gain = r2[without | (1 << j)] - r2[without]
        out[:, j] = w[size[without]] @ gain
    return out


def _shapley_sampled(r: np.ndarray, n_orders: int, rng: np.random.Generator) -> np.ndarray:
    """Shapley values of :math:`R^2` averaged over ``n_orders`` random entry orders.

    Orders come in sets of the :math:`p` cyclic rotations of a random order, so that within
    each set every driver enters once at every position (the position explains most of the
    variation in a driver's gain in :math:`R^2`).
    """
    p = r.shape[1] - 1
    out = np.zeros((len(r), p))
    orders = []
    for _ in range(max(1, n_orders // p)):
        perm = rng.permutation(p)
        orders += [np.roll(perm, s) for s in range(p)]
    for order in orders:
        a, before = r, np.zeros(len(r))
        for k in order:
            a = _sweep(a, int(k))
            now = 1 - a[:, p, p]
            out[:, k] += now - before
            before = now
    return out / len(orders)


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
        f"missing values among the {n} rows: {parts}; drop incomplete rows with dropna=True "
        "(CLI: --dropna) or fill them first"
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
        involved = [drivers[i] for i in np.flatnonzero(v > 1e-4 * v.max())]
        raise CxroiError(
            "perfectly collinear drivers (one is a linear combination of the others): "
            f"{', '.join(involved)}; drop one of them"
        )


# --------------------------------------------------------------------------- estimator


class KeyDriverAnalysis:
    """Share a linear model's :math:`R^2` among correlated drivers, with bootstrap intervals.

    Parameters
    ----------
    method
        ``"relative_weights"`` (Johnson 2000) or ``"shapley"`` (LMG / general dominance).
    n_boot
        Bootstrap replicates for the intervals (0 for none).
    ci
        Two-sided confidence level of the percentile intervals.
    seed
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
    weights_, r2_, n_, ci_low_, ci_high_, share_ci_low_, share_ci_high_, sign_, means_
        Learned after :meth:`fit`.
    """

    def __init__(
        self,
        method: str = "relative_weights",
        *,
        n_boot: int = 200,
        ci: float = 0.95,
        seed: int = 0,
        dropna: bool = False,
        max_blocks: int = 4000,
        n_orders: int = 2000,
        scale: tuple[float, float] | None = None,
    ):
        self.method = method
        self.n_boot = n_boot
        self.ci = ci
        self.seed = seed
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
            raise CxroiError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not 0 < self.ci < 1:
            raise CxroiError(f"ci must be between 0 and 1, got {self.ci}")
        rng = np.random.default_rng(self.seed)
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
        alpha = (1 - self.ci) / 2
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
        return self

    def _decompose(self, r: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.method == "relative_weights":
            return _relative_weights(r)
        if r.shape[1] - 1 <= MAX_EXACT_DRIVERS:
            return _shapley_exact(r)
        return _shapley_sampled(r, self.n_orders, rng)

    def _stats_from_frame(
        self, df: pd.DataFrame, target: str, drivers: Sequence[str] | None, rng: np.random.Generator
    ) -> _BlockStats:
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
        return _frame_stats(x, self.max_blocks, rng)

    def _stats_from_table(
        self, table: Any, target: str, drivers: Sequence[str] | None
    ) -> _BlockStats:
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
        return _table_stats(t, cols, means, self.max_blocks, self.seed)

    def _set_columns(self, target: str, drivers: list[str], n: int) -> None:
        self.target_, self.drivers_, self.n_ = target, drivers, n

    # -- results
    @property
    def summary(self) -> pd.DataFrame:
        """One row per driver, most important first.

        Columns ``driver``, ``weight`` (share of the target's variance the driver accounts
        for), ``ci_low``/``ci_high`` (bootstrap interval of ``weight``), ``share`` (of
        :math:`R^2`) with ``share_ci_low``/``share_ci_high``, ``sign`` (of the driver's
        coefficient in the full model), ``rank``, ``r2`` (the model's :math:`R^2`) and ``n``.
        """
        self._check_fitted()
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
        out.attrs.update(
            method=self.method, target=self.target_, r2=self.r2_, r2_ci=self.r2_ci_, n=self.n_
        )
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

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise CxroiError("this KeyDriverAnalysis is not fitted yet; call fit() first")


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
        Keyword options of :class:`KeyDriverAnalysis` (``n_boot``, ``ci``, ``seed``,
        ``dropna``, ...).

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
        with empty numbers and the reason in ``flag``.
    method
        ``"relative_weights"`` or ``"shapley"``.
    min_n
        Groups with fewer rows are flagged ``small n``.
    quadrant
        Add ``performance`` and ``quadrant`` columns (see :meth:`KeyDriverAnalysis.quadrant`).

    Returns
    -------
    pandas.DataFrame
        The :attr:`KeyDriverAnalysis.summary` columns, plus ``performance``, ``quadrant`` and
        ``flag`` (and ``group`` with ``by``).
    """
    if by is None:
        return _one(df, target, drivers, method, min_n, quadrant, options)
    if not isinstance(df, pd.DataFrame):
        df = df.to_pandas()
    if by not in df.columns:
        raise CxroiError(f"group column {by!r} not found; available: {', '.join(df.columns)}")
    if drivers is None:
        drivers = [c for c in df.select_dtypes("number").columns if c not in (target, by)]
    parts = []
    for g, sub in df.groupby(by, sort=True, dropna=False):
        try:
            res = _one(sub, target, drivers, method, min_n, quadrant, options)
        except CxroiError as e:
            res = pd.DataFrame({"driver": list(drivers), "n": len(sub), "flag": str(e)})
        res.insert(0, "group", g)
        parts.append(res)
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update(method=method, target=target, by=by)
    return out


def _one(df, target, drivers, method, min_n, quadrant, options) -> pd.DataFrame:
    model = KeyDriverAnalysis(method, **options).fit(df, target, drivers)
    out = model.summary
    if quadrant:
        q = model.quadrant().set_index("driver")
        out["performance"] = out["driver"].map(q["performance"])
        out["quadrant"] = out["driver"].map(q["quadrant"])
    out["flag"] = f"small n (< {min_n})" if model.n_ < min_n else ""
    return out
