"""Decompositions of a linear model's :math:`R^2` among correlated drivers, from block statistics.

The arithmetic behind :class:`cxroi.models.drivers.KeyDriverAnalysis`:

- :class:`BlockStats`: row counts, sums and cross-products of centred columns per random
  block of rows, from a frame (:func:`frame_stats`) or in the engine (:func:`table_stats`);
  any bootstrap replicate's correlation matrix is rebuilt from them;
- :func:`relative_weights_r2`: Johnson's (2000) relative weights;
- :func:`shapley_exact` and :func:`shapley_sampled`: Shapley values of :math:`R^2` (LMG, general
  dominance), over every subset or over random entry orders.

Every function works on a stack of correlation matrices (one per bootstrap replicate) at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "BlockStats",
    "frame_stats",
    "relative_weights_r2",
    "shapley_exact",
    "shapley_sampled",
    "table_stats",
]

# --------------------------------------------------------------------------- block statistics


class BlockStats:
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


def frame_stats(x: np.ndarray, max_blocks: int, rng: np.random.Generator) -> BlockStats:
    """Block statistics of the rows of ``x``: each row its own block up to ``max_blocks`` rows,
    else rows dealt into ``max_blocks`` random blocks."""
    n, q = x.shape
    xc = x - x.mean(axis=0)
    if n <= max_blocks:
        return BlockStats(np.ones(n), xc, xc[:, :, None] * xc[:, None, :])
    block = rng.integers(0, max_blocks, size=n)
    counts = np.bincount(block, minlength=max_blocks).astype(float)
    sums = np.stack([np.bincount(block, xc[:, i], max_blocks) for i in range(q)], axis=1)
    cross = np.empty((max_blocks, q, q))
    for i in range(q):
        for j in range(i, q):
            cross[:, i, j] = cross[:, j, i] = np.bincount(block, xc[:, i] * xc[:, j], max_blocks)
    return BlockStats(counts, sums, cross)


def table_stats(
    table: Any, cols: list[str], means: np.ndarray, max_blocks: int, random_state: int
) -> BlockStats:
    """Block statistics computed in the engine; at most ``max_blocks`` rows come back.

    A row's block is a hash of its key (``response_id`` when there is one, else its row
    number) mixed with ``random_state``, so blocks are random with respect to the values.
    """
    import ibis

    key = table["response_id"] if "response_id" in table.columns else ibis.row_number()
    blk = ((key.hash() + random_state).hash() % max_blocks).abs()
    t = table.select(*cols, _blk=blk)
    c = {name: (t[name].cast("float64") - float(m)) for name, m in zip(cols, means, strict=True)}
    aggs: dict[str, Any] = {"_n": t.count()}
    q = len(cols)
    for i in range(q):
        aggs[f"_s{i}"] = c[cols[i]].sum()
        for j in range(i, q):
            aggs[f"_c{i}_{j}"] = (c[cols[i]] * c[cols[j]]).sum()
    # in block order: the bootstrap weights blocks by position, and a parallel hash aggregate
    # returns its groups in any order
    df = t.group_by("_blk").aggregate(**aggs).order_by("_blk").to_pandas()
    g = len(df)
    sums = np.stack([df[f"_s{i}"].to_numpy(float) for i in range(q)], axis=1)
    cross = np.empty((g, q, q))
    for i in range(q):
        for j in range(i, q):
            cross[:, i, j] = cross[:, j, i] = df[f"_c{i}_{j}"].to_numpy(float)
    return BlockStats(df["_n"].to_numpy(float), sums, cross)


# --------------------------------------------------------------------------- decompositions


def relative_weights_r2(r: np.ndarray) -> np.ndarray:
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


def shapley_exact(r: np.ndarray) -> np.ndarray:
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


def shapley_sampled(r: np.ndarray, n_orders: int, rng: np.random.Generator) -> np.ndarray:
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
