"""Interval formulas shared by the metrics: written once, vectorised over numpy arrays.

Every function takes counts or moments (scalars or arrays, e.g. one value per period x group
computed in the engine) and returns arrays; empty groups give ``nan``, never a division error.
"""

from __future__ import annotations

import numpy as np

from cxroi.errors import CxroiError, param

__all__ = ["as_float", "clean_scores", "mean_interval", "wilson", "z_value"]


def z_value(level: float) -> float:
    """Two-sided normal quantile for a confidence ``level`` (0.95 -> 1.959964)."""
    if not 0 < level < 1:
        raise CxroiError(f"confidence {param('level')} must be in (0, 1), got {level}")
    # scipy.stats.norm.ppf's own function: importing scipy.stats is a second of every start
    from scipy.special import ndtri

    return float(ndtri(0.5 + level / 2))


def as_float(x: object) -> np.ndarray:
    """Return ``x`` as a float64 array (nulls become ``nan``)."""
    return np.asarray(x, dtype="float64")


def wilson(successes: object, n: object, *, level: float = 0.95) -> tuple[np.ndarray, ...]:
    """Share with its Wilson score interval.

    .. math::

        \\hat p = k/n,\\quad
        \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Parameters
    ----------
    successes, n
        Counts (scalars or arrays of the same shape).
    level
        Confidence level.

    Returns
    -------
    tuple of arrays
        ``(share, se, low, high)`` as fractions in [0, 1]; ``se`` is the Wald standard error
        :math:`\\sqrt{\\hat p(1-\\hat p)/n}`. All ``nan`` where ``n == 0``.
    """
    k = as_float(successes)
    n = as_float(n)
    z = z_value(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = n > 0
        p = np.where(ok, k / np.where(ok, n, 1), np.nan)
        se = np.sqrt(p * (1 - p) / n)
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return p, se, np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def mean_interval(
    n: object, total: object, total_sq: object, *, level: float = 0.95
) -> tuple[np.ndarray, ...]:
    """Mean with a Student-t interval, from the count, sum and sum of squares.

    .. math::

        \\bar x = S/n,\\quad s^2 = \\frac{Q - n\\bar x^2}{n-1},\\quad
        \\bar x \\pm t_{n-1}\\, s/\\sqrt n

    Returns
    -------
    tuple of arrays
        ``(mean, sd, se, low, high)``; the mean is ``nan`` where ``n == 0`` and the interval is
        ``nan`` where ``n < 2``.
    """
    from scipy.special import stdtrit

    n = as_float(n)
    s = as_float(total)
    q = as_float(total_sq)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, s / np.where(n > 0, n, 1), np.nan)
        var = np.where(n > 1, (q - n * mean**2) / np.where(n > 1, n - 1, 1), np.nan)
        sd = np.sqrt(np.clip(var, 0, None))
        se = sd / np.sqrt(n)
        t = stdtrit(np.where(n > 1, n - 1, 1), 0.5 + level / 2)  # scipy.stats.t.ppf
        t = np.where(n > 1, t, np.nan)
    return mean, sd, se, mean - t * se, mean + t * se


def clean_scores(scores: object, *, lo: int, hi: int, name: str) -> np.ndarray:
    """Return the non-null ``scores`` as a float array; raise if one is off the ``lo..hi`` scale.

    Scores outside their scale or not whole numbers are rejected, never clipped (DESIGN.md).
    """
    try:
        x = np.asarray(
            [np.nan if v is None else v for v in np.asarray(scores, dtype=object).ravel()],
            dtype="float64",
        )
    except (TypeError, ValueError):
        raise CxroiError(f"{name} scores must be numbers on {lo}..{hi}") from None
    x = x[~np.isnan(x)]
    bad = (x < lo) | (x > hi) | (x != np.round(x))
    if bad.any():
        raise CxroiError(
            f"{name} scores must be whole numbers on {lo}..{hi}; "
            f"got {x[bad][0]:g} ({int(bad.sum())} bad value(s))"
        )
    return x
