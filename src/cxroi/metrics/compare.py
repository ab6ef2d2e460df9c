"""Tests comparing a metric between two groups or two periods.

Each test returns a :class:`DiffResult`: the difference ``b - a``, its interval and a
two-sided p-value. The vectorised ``*_from_counts`` forms work on counts per group computed in
the engine (the scorecard's ``compare=`` uses them); the list forms take raw scores.

- NPS: difference of two independent NPS (MeasuringU's adjusted-Wald method by default),

  .. math::

      \\Delta = \\widetilde{\\mathrm{NPS}}_b - \\widetilde{\\mathrm{NPS}}_a,\\quad
      se = \\sqrt{se_a^2 + se_b^2},\\quad z = \\Delta/se.

- Proportions (CSAT, shares, churn): two-proportion z-test with the pooled share for the
  p-value, and the unpooled Wald interval for the difference,

  .. math::

      z = \\frac{p_b - p_a}{\\sqrt{\\bar p(1-\\bar p)(1/n_a + 1/n_b)}},\\quad
      (p_b - p_a) \\pm z_{\\alpha}\\sqrt{p_a(1-p_a)/n_a + p_b(1-p_b)/n_b}.

- Means (CES, transaction size): Welch's t-test from counts, sums and sums of squares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cxroi.metrics._intervals import as_float, clean_scores, mean_interval, z_value
from cxroi.metrics.nps import GROUPS, nps_from_counts, nps_group

__all__ = [
    "DiffResult",
    "csat_test",
    "mean_diff_from_moments",
    "nps_diff_from_counts",
    "nps_test",
    "proportion_diff_from_counts",
    "z_diff",
]


@dataclass(frozen=True)
class DiffResult:
    """Difference ``b - a`` of a metric with its interval, test statistic and p-value."""

    metric: str
    a: float
    b: float
    diff: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    n_a: int
    n_b: int
    level: float = 0.95

    @property
    def significant(self) -> bool:
        """Whether the p-value is below ``1 - level``."""
        return bool(self.p_value < 1 - self.level)


def _two_sided_p(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr  # scipy.stats.norm.sf(x) is ndtr(-x)

    return 2 * ndtr(-np.abs(z))


def _diff(d, se, crit, stat, p, **sides) -> dict[str, np.ndarray]:
    """The result of a two-sample test: difference, its interval ``d ± crit·se``, statistic, p."""
    return {
        **sides,
        "diff": d,
        "se": se,
        "ci_low": d - crit * se,
        "ci_high": d + crit * se,
        "statistic": stat,
        "p_value": p,
    }


def z_diff(
    a: object, se_a: object, b: object, se_b: object, *, level: float = 0.95
) -> dict[str, np.ndarray]:
    """Difference of two independent estimates with known standard errors (Wald z-test)."""
    a, b, sa, sb = as_float(a), as_float(b), as_float(se_a), as_float(se_b)
    z = z_value(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = b - a
        se = np.sqrt(sa**2 + sb**2)
        stat = np.where(se > 0, d / se, np.nan)
    return _diff(d, se, z, stat, _two_sided_p(stat))


def nps_diff_from_counts(
    a: Sequence[object] | np.ndarray,
    b: Sequence[object] | np.ndarray,
    *,
    method: str = "adjusted-wald",
    level: float = 0.95,
) -> dict[str, np.ndarray]:
    """NPS difference ``b - a`` from ``(promoters, passives, detractors)`` counts of each side.

    ``diff`` is the difference of the raw NPS; the interval and test are centred on the
    difference of the adjusted NPS when ``method="adjusted-wald"``.
    """
    ra = nps_from_counts(a[0], a[1], a[2], method=method, level=level)
    rb = nps_from_counts(b[0], b[1], b[2], method=method, level=level)
    out = z_diff(ra["centre"], ra["se"], rb["centre"], rb["se"], level=level)
    out["diff"] = rb["nps"] - ra["nps"]
    out["a"], out["b"] = ra["nps"], rb["nps"]
    out["n_a"], out["n_b"] = ra["n"], rb["n"]
    return out


def proportion_diff_from_counts(
    k_a: object, n_a: object, k_b: object, n_b: object, *, level: float = 0.95
) -> dict[str, np.ndarray]:
    """Two-proportion z-test of ``k_b/n_b - k_a/n_a`` (shares in [0, 1])."""
    ka, na, kb, nb = as_float(k_a), as_float(n_a), as_float(k_b), as_float(n_b)
    z = z_value(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = ka / na, kb / nb
        pool = (ka + kb) / (na + nb)
        se0 = np.sqrt(pool * (1 - pool) * (1 / na + 1 / nb))
        stat = np.where(se0 > 0, (pb - pa) / se0, np.nan)
        se = np.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    d = pb - pa
    return _diff(d, se, z, stat, _two_sided_p(stat), a=pa, b=pb, n_a=na, n_b=nb)


def mean_diff_from_moments(
    a: Sequence[object], b: Sequence[object], *, level: float = 0.95
) -> dict[str, np.ndarray]:
    """Welch's t-test of ``mean_b - mean_a`` from ``(n, sum, sum of squares)`` of each side."""
    from scipy import stats  # imported here: a second of every command's start

    ma, _, sa, _, _ = mean_interval(a[0], a[1], a[2], level=level)
    mb, _, sb, _, _ = mean_interval(b[0], b[1], b[2], level=level)
    na, nb = as_float(a[0]), as_float(b[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        d = mb - ma
        se = np.sqrt(sa**2 + sb**2)
        stat = np.where(se > 0, d / se, np.nan)
        df = se**4 / (sa**4 / (na - 1) + sb**4 / (nb - 1))
        t = stats.t.ppf(0.5 + level / 2, df)
        p = 2 * stats.t.sf(np.abs(stat), df)
    return _diff(d, se, t, stat, p, a=ma, b=mb, n_a=na, n_b=nb)


def _result(metric: str, r: dict[str, np.ndarray], level: float, scale: float = 1.0) -> DiffResult:
    return DiffResult(
        metric=metric,
        a=float(r["a"]) * scale,
        b=float(r["b"]) * scale,
        diff=float(r["diff"]) * scale,
        se=float(r["se"]) * scale,
        ci_low=float(r["ci_low"]) * scale,
        ci_high=float(r["ci_high"]) * scale,
        statistic=float(r["statistic"]),
        p_value=float(r["p_value"]),
        n_a=int(r["n_a"]),
        n_b=int(r["n_b"]),
        level=level,
    )


def nps_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    method: str = "adjusted-wald",
    level: float = 0.95,
) -> DiffResult:
    """Compare the NPS of two groups or periods of 0-10 answers.

    Parameters
    ----------
    a, b
        The two samples of answers (nulls dropped).
    method
        ``"adjusted-wald"`` (default) or ``"wald"``.
    level
        Confidence level.

    Returns
    -------
    DiffResult
        ``diff`` = NPS(b) - NPS(a) in NPS points, with interval and p-value.
    """

    def counts(x: np.ndarray) -> tuple[int, int, int]:
        groups = nps_group(x)
        return tuple(int((groups == g).sum()) for g in GROUPS)  # type: ignore[return-value]

    xa = clean_scores(a, lo=0, hi=10, name="NPS")
    xb = clean_scores(b, lo=0, hi=10, name="NPS")
    r = nps_diff_from_counts(counts(xa), counts(xb), method=method, level=level)
    return _result("nps", r, level)


def csat_test(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, level: float = 0.95
) -> DiffResult:
    """Compare the CSAT (top-2-box share, percent) of two samples of 1-5 answers.

    Returns
    -------
    DiffResult
        ``diff`` = CSAT(b) - CSAT(a) in percentage points; two-proportion z-test.
    """
    xa = clean_scores(a, lo=1, hi=5, name="CSAT")
    xb = clean_scores(b, lo=1, hi=5, name="CSAT")
    r = proportion_diff_from_counts((xa >= 4).sum(), len(xa), (xb >= 4).sum(), len(xb), level=level)
    return _result("csat", r, level, scale=100.0)
