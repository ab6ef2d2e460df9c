"""Poisson-bootstrap replicates of per-cell sums, without a weight per customer and replicate.

Segments and opportunities need, for every cell :math:`c` of a partition of the customers (a
segment, or a segment crossed with a stratum), replicates of the column sums
:math:`S_c = \\sum_{i \\in c} w_i x_i` under a Poisson bootstrap (:math:`w_i \\sim`
Poisson(1), independent). Drawing the weights themselves costs a ``replicates × customers``
matrix: 1.6 GB and over a minute at a million customers, for each dimension.

The draws do not need the weights. Disjoint cells are independent under the Poisson bootstrap,
and within a cell :math:`E[S_c] = \\sum x_i` and :math:`\\mathrm{Cov}[S_c] = \\sum x_i x_i^T`
(the variance of a Poisson(1) weight is 1). So:

- a cell with many non-zero values in every column it uses (``exact_below`` or more) is drawn
  from the normal limit with those two moments: the central limit theorem over its customers;
- any other cell (few customers, or a rare event such as a handful of churns) is drawn exactly,
  with Poisson weights for its own customers only.

The cost is one pass over the customers for the moments plus ``replicates × customers in small
cells``; the answer matches the exact bootstrap's intervals (``tests/models/
test_cell_bootstrap.py`` compares them at 20,000 customers). Written here because no library
draws a Poisson bootstrap from moments; the pieces are numpy's ``bincount`` and ``eigh``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EXACT_BELOW", "cell_replicates"]

EXACT_BELOW = 500
"""Cells with fewer non-zero values than this in a column they use are bootstrapped exactly."""


def cell_replicates(
    x: np.ndarray,
    cell: np.ndarray,
    n_cells: int,
    n_boot: int,
    rng: np.random.Generator,
    *,
    exact_below: int = EXACT_BELOW,
) -> np.ndarray:
    """The column sums of ``x`` per cell, then ``n_boot`` Poisson-bootstrap replicates of them.

    Parameters
    ----------
    x
        ``(customers, columns)`` values, finite.
    cell
        Each customer's cell, ``0 … n_cells - 1``.
    n_cells
        The number of cells (empty ones give zeros).
    n_boot
        Replicates after the estimate.
    rng
        Random generator of the draws.
    exact_below
        Cells with fewer non-zero values than this in any column that is not all zero are
        drawn exactly; ``0`` draws every cell from the normal limit, a huge value none.

    Returns
    -------
    numpy.ndarray
        ``(1 + n_boot, n_cells, columns)``: row 0 the sums, then the replicates.
    """
    x = np.asarray(x, float)
    cell = np.asarray(cell, np.int64)
    n, p = x.shape
    b = max(n_boot, 0)
    out = np.empty((1 + b, n_cells, p))
    for j in range(p):
        out[0, :, j] = np.bincount(cell, x[:, j], minlength=n_cells)
    if b == 0:
        return out
    nonzero = np.stack(
        [np.bincount(cell, (x[:, j] != 0).astype(float), minlength=n_cells) for j in range(p)],
        axis=1,
    )
    exact = np.asarray(((nonzero > 0) & (nonzero < exact_below)).any(axis=1))
    if exact.any():
        rows = exact[cell]
        out[1:, exact] = _exact(x[rows], cell[rows], exact, b, rng)
    normal = ~exact
    if normal.any():
        out[1:, normal] = _normal(x, cell, out[0], normal, b, rng)
    return out


def _exact(
    x: np.ndarray, cell: np.ndarray, which: np.ndarray, b: int, rng: np.random.Generator
) -> np.ndarray:
    """``(b, cells in which, columns)`` replicates with a Poisson weight per customer."""
    index = np.cumsum(which) - 1  # position of each selected cell among them
    local = index[cell]
    k = int(which.sum())
    out = np.zeros((b, k, x.shape[1]))
    # in blocks of replicates, so the weights never exceed ~64 MB
    step = max(1, min(b, 8_000_000 // max(len(x), 1)))
    for start in range(0, b, step):
        stop = min(b, start + step)
        w = rng.poisson(1.0, size=(stop - start, len(x))).astype(float)
        flat = (local[None, :] + k * np.arange(stop - start)[:, None]).ravel()
        for j in range(x.shape[1]):
            s = np.bincount(flat, (w * x[:, j]).ravel(), minlength=(stop - start) * k)
            out[start:stop, :, j] = s.reshape(stop - start, k)
    return out


def _normal(
    x: np.ndarray,
    cell: np.ndarray,
    sums: np.ndarray,
    which: np.ndarray,
    b: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(b, cells in which, columns)`` draws from the normal limit: mean the sums, covariance
    the uncentred second moments."""
    n_cells, p = sums.shape
    second = np.empty((n_cells, p, p))
    for i in range(p):
        for j in range(i, p):
            m = np.bincount(cell, x[:, i] * x[:, j], minlength=n_cells)
            second[:, i, j] = second[:, j, i] = m
    vals, vecs = np.linalg.eigh(second[which])  # symmetric and positive semi-definite
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]  # root @ root.T = second
    z = rng.standard_normal((b, int(which.sum()), p))
    return sums[which][None] + np.einsum("kij,bkj->bki", root, z)
