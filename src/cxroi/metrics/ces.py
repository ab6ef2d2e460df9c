"""Customer effort score (CES) on a 1-7 scale: the mean and the share answering 5-7.

.. math::

    \\overline{\\mathrm{CES}} = \\frac1n\\sum_i x_i \\;\\pm\\; t_{n-1}\\,\\frac{s}{\\sqrt n},
    \\qquad \\text{share}_{5-7} = 100\\,k/n \\text{ (Wilson interval)}

Higher means easier (the 1-7 "the company made it easy" agreement scale). The engine computes
``n``, the sum, the sum of squares and the count of 5-7 per group; the intervals come from
those moments (:func:`ces_from_moments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np

from cxroi.errors import CxroiError
from cxroi.metrics._intervals import as_float, clean_scores, mean_interval, wilson

__all__ = ["SCALE", "CESResult", "ces", "ces_aggregates", "ces_counts", "ces_from_moments"]

SCALE = (1, 7)
"""The CES answer scale."""


@dataclass(frozen=True)
class CESResult:
    """Mean CES (1..7) with a t interval, and the share of 5-7 (percent) with a Wilson interval."""

    mean: float
    n: int
    sd: float
    se: float
    ci_low: float
    ci_high: float
    share_5_7: float
    share_ci_low: float
    share_ci_high: float
    level: float = 0.95


def ces_from_moments(
    n: object, total: object, total_sq: object, easy: object, *, level: float = 0.95
) -> dict[str, np.ndarray]:
    """Mean, interval and share of 5-7 from ``n``, sum, sum of squares and the 5-7 count.

    Returns
    -------
    dict of arrays
        ``mean``, ``n``, ``sd``, ``se``, ``ci_low``, ``ci_high`` (mean scale, clipped to 1-7) and
        ``share_5_7``, ``share_se``, ``share_ci_low``, ``share_ci_high`` (percent).
    """
    mean, sd, se, lo, hi = mean_interval(n, total, total_sq, level=level)
    # The t interval is clipped to the 1-7 scale (few answers near an end can pass it).
    lo, hi = np.clip(lo, SCALE[0], SCALE[1]), np.clip(hi, SCALE[0], SCALE[1])
    p, pse, plo, phi = wilson(easy, n, level=level)
    return {
        "mean": mean,
        "n": as_float(n),
        "sd": sd,
        "se": se,
        "ci_low": lo,
        "ci_high": hi,
        "share_5_7": 100 * p,
        "share_se": 100 * pse,
        "share_ci_low": 100 * plo,
        "share_ci_high": 100 * phi,
    }


def ces(scores: Sequence[float] | np.ndarray, *, level: float = 0.95) -> CESResult:
    """CES of a list of 1-7 answers.

    Parameters
    ----------
    scores
        Answers on 1..7; nulls dropped, off-scale values raise
        :class:`~cxroi.errors.CxroiError`.
    level
        Confidence level.

    Returns
    -------
    CESResult

    Examples
    --------
    >>> r = ces([7, 5, 3, 1])
    >>> r.mean, r.share_5_7
    (4.0, 50.0)
    """
    x = clean_scores(scores, lo=SCALE[0], hi=SCALE[1], name="CES")
    r = ces_from_moments(len(x), x.sum(), (x**2).sum(), (x >= 5).sum(), level=level)
    return CESResult(
        mean=float(r["mean"]),
        n=len(x),
        sd=float(r["sd"]),
        se=float(r["se"]),
        ci_low=float(r["ci_low"]),
        ci_high=float(r["ci_high"]),
        share_5_7=float(r["share_5_7"]),
        share_ci_low=float(r["share_ci_low"]),
        share_ci_high=float(r["share_ci_high"]),
        level=level,
    )


def ces_aggregates(score: ir.IntegerColumn, *, prefix: str = "ces_") -> dict[str, ir.Scalar]:
    """Named engine reductions: ``n``, ``sum``, ``sumsq`` and ``easy`` (answers 5-7)."""
    x = score.cast("float64")
    return {
        f"{prefix}n": score.count(),
        f"{prefix}sum": x.sum().fill_null(0.0),
        f"{prefix}sumsq": (x * x).sum().fill_null(0.0),
        f"{prefix}easy": score.count(where=score >= 5),
    }


def ces_counts(table: ir.Table, *, by: Sequence[str] = (), score: str = "ces") -> ir.Table:
    """An Ibis expression with the CES moments per group; feed it to :func:`ces_from_moments`."""
    if score not in table.columns:
        raise CxroiError(f"table has no {score!r} column")
    aggs = ces_aggregates(table[score], prefix="")
    return table.group_by(list(by)).aggregate(**aggs) if by else table.aggregate(**aggs)
