"""Net Promoter Score: value, shares and a confidence interval.

.. math::

    \\mathrm{NPS} = 100\\,(P - D)/n

with :math:`P` promoters (9-10), :math:`D` detractors (0-6) and :math:`n` answers on the 0-10
scale. The default interval is the adjusted Wald interval of Rocks (2016), as used by
MeasuringU: add 3 to :math:`n` and 3/4 to the promoter and detractor counts, then

.. math::

    \\tilde p = \\frac{P + 3/4}{n + 3},\\quad \\tilde d = \\frac{D + 3/4}{n + 3},\\quad
    \\widehat{\\mathrm{Var}} = \\frac{\\tilde p + \\tilde d - (\\tilde p - \\tilde d)^2}{n + 3},
    \\quad 100\\big[(\\tilde p - \\tilde d) \\pm z\\sqrt{\\widehat{\\mathrm{Var}}}\\big].

``method="wald"`` uses the raw shares and :math:`n` instead. The formula lives in
:func:`nps_from_counts`, used both for a list of scores (:func:`nps`) and for counts per group
computed in the engine (:func:`nps_aggregates`, used by the scorecard).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np

from cxroi.errors import CxroiError
from cxroi.metrics._intervals import as_float, clean_scores, z_value

__all__ = [
    "GROUPS",
    "PASSIVE_MIN",
    "PROMOTER_MIN",
    "NPSResult",
    "nps",
    "nps_aggregates",
    "nps_counts",
    "nps_from_counts",
    "nps_group",
    "nps_group_expr",
    "nps_points_expr",
]

METHODS = ("adjusted-wald", "wald")

PROMOTER_MIN = 9
"""Lowest promoter score (9-10)."""
PASSIVE_MIN = 7
"""Lowest passive score (7-8); 0-6 are detractors."""
GROUPS = ("promoter", "passive", "detractor")
"""The NPS groups, best first."""


def nps_group_expr(score: ir.NumericValue) -> ir.StringValue:
    """Engine expression: the NPS group of a 0-10 score; a missing score stays missing."""
    import ibis

    return ibis.cases(
        (score >= PROMOTER_MIN, GROUPS[0]),
        (score >= PASSIVE_MIN, GROUPS[1]),
        (score >= 0, GROUPS[2]),
    )


def nps_points_expr(score: ir.NumericValue) -> ir.FloatingValue:
    """Engine expression: one answer's NPS contribution, +100 promoter, 0 passive, -100 detractor.

    The mean over answers is the NPS, so a difference-in-differences on it is in NPS points.
    """
    # CASE, not a boolean cast: PostgreSQL casts no boolean to a float
    return ibis.cases(
        (score >= PROMOTER_MIN, 100.0),
        (score >= PASSIVE_MIN, 0.0),
        (score.notnull(), -100.0),
        else_=ibis.null("float64"),
    )


def nps_group(scores: object) -> np.ndarray:
    """The NPS group of each 0-10 score (array-like); a missing score stays missing (``None``).

    >>> nps_group([10, 7, 3, None]).tolist()
    ['promoter', 'passive', 'detractor', None]
    """
    x = as_float(scores)
    out = np.select([x >= PROMOTER_MIN, x >= PASSIVE_MIN, x >= 0], list(GROUPS), default="").astype(
        object
    )
    out[out == ""] = None
    return out


@dataclass(frozen=True)
class NPSResult:
    """An NPS with its shares and interval; ``nps``, ``se`` and bounds on the -100..100 scale."""

    nps: float
    n: int
    promoters: float
    passives: float
    detractors: float
    se: float
    ci_low: float
    ci_high: float
    method: str = "adjusted-wald"
    level: float = 0.95


def nps_from_counts(
    promoters: object,
    passives: object,
    detractors: object,
    *,
    method: str = "adjusted-wald",
    level: float = 0.95,
) -> dict[str, np.ndarray]:
    """NPS, shares, standard error and interval from counts (scalars or arrays).

    Parameters
    ----------
    promoters, passives, detractors
        Counts of answers 9-10, 7-8 and 0-6.
    method
        ``"adjusted-wald"`` (default) or ``"wald"``.
    level
        Confidence level.

    Returns
    -------
    dict of arrays
        ``nps``, ``n``, ``promoters``, ``passives``, ``detractors`` (shares in [0, 1]), ``se``,
        ``centre`` (the interval's centre: the adjusted NPS, or the NPS for ``"wald"``),
        ``ci_low``, ``ci_high`` (NPS points, clipped to -100..100). Everything but ``n`` is
        ``nan`` where ``n == 0``.
    """
    if method not in METHODS:
        raise CxroiError(f"unknown NPS interval method {method!r}; choose one of {METHODS}")
    p, m, d = as_float(promoters), as_float(passives), as_float(detractors)
    n = p + m + d
    z = z_value(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = n > 0
        safe = np.where(ok, n, 1)
        share_p = np.where(ok, p / safe, np.nan)
        share_m = np.where(ok, m / safe, np.nan)
        share_d = np.where(ok, d / safe, np.nan)
        if method == "adjusted-wald":
            n_adj = n + 3
            pa, da = (p + 0.75) / n_adj, (d + 0.75) / n_adj
        else:
            n_adj, pa, da = safe, share_p, share_d
        centre = pa - da
        se = np.where(ok, np.sqrt(np.clip(pa + da - centre**2, 0, None) / n_adj), np.nan)
    # The interval is clipped to the scale: with few answers, all promoters, the adjusted
    # Wald bound can pass 100 (n = 4: 107.3).
    return {
        "nps": 100 * (share_p - share_d),
        "n": n,
        "promoters": share_p,
        "passives": share_m,
        "detractors": share_d,
        "se": 100 * se,
        "centre": np.where(ok, 100 * centre, np.nan),
        "ci_low": np.where(ok, np.clip(100 * (centre - z * se), -100, 100), np.nan),
        "ci_high": np.where(ok, np.clip(100 * (centre + z * se), -100, 100), np.nan),
    }


def nps(
    scores: Sequence[float] | np.ndarray, *, method: str = "adjusted-wald", level: float = 0.95
) -> NPSResult:
    """NPS of a list of 0-10 answers, with its interval.

    Parameters
    ----------
    scores
        Answers on 0..10; nulls are dropped, anything else off the scale raises
        :class:`~cxroi.errors.CxroiError`.
    method
        ``"adjusted-wald"`` (default, Rocks 2016) or ``"wald"``.
    level
        Confidence level.

    Returns
    -------
    NPSResult

    Examples
    --------
    >>> r = nps([10] * 150 + [8] * 100 + [3] * 50)
    >>> round(r.nps, 1), round(r.ci_low, 1), round(r.ci_high, 1)
    (33.3, 24.6, 41.4)
    """
    x = clean_scores(scores, lo=0, hi=10, name="NPS")
    r = nps_from_counts(
        (x >= PROMOTER_MIN).sum(),
        ((x >= PASSIVE_MIN) & (x < PROMOTER_MIN)).sum(),
        (x < PASSIVE_MIN).sum(),
        method=method,
        level=level,
    )
    return NPSResult(
        nps=float(r["nps"]),
        n=int(r["n"]),
        promoters=float(r["promoters"]),
        passives=float(r["passives"]),
        detractors=float(r["detractors"]),
        se=float(r["se"]),
        ci_low=float(r["ci_low"]),
        ci_high=float(r["ci_high"]),
        method=method,
        level=level,
    )


def nps_aggregates(score: ir.IntegerColumn, *, prefix: str = "nps_") -> dict[str, ir.Scalar]:
    """Named engine reductions counting promoters, passives and detractors of ``score``.

    Meant to be passed to ``Table.aggregate`` (several metrics can share one scan).
    """
    return {
        f"{prefix}promoters": score.count(where=score >= PROMOTER_MIN),
        f"{prefix}passives": score.count(where=(score >= PASSIVE_MIN) & (score < PROMOTER_MIN)),
        f"{prefix}detractors": score.count(where=score < PASSIVE_MIN),
    }


def nps_counts(table: ir.Table, *, by: Sequence[str] = (), score: str = "nps") -> ir.Table:
    """An Ibis expression: promoter, passive and detractor counts of ``table[score]`` per group.

    Parameters
    ----------
    table
        Responses (any Ibis table with the ``score`` column).
    by
        Grouping columns.
    score
        Name of the 0-10 column.

    Returns
    -------
    ibis.Table
        ``by`` columns plus ``promoters``, ``passives``, ``detractors``; feed the executed result
        to :func:`nps_from_counts`.
    """
    if score not in table.columns:
        raise CxroiError(f"responses have no {score!r} column")
    aggs = nps_aggregates(table[score], prefix="")
    return table.group_by(list(by)).aggregate(**aggs) if by else table.aggregate(**aggs)
