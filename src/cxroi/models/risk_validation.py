"""Out-of-time checks of a churn score: discrimination (AUC) and calibration by decile.

:func:`auc_delong` gives the AUC (the Mann-Whitney probability that a churner scores above a
stayer) of one or more scores on the same customers with DeLong's covariance (DeLong, DeLong
and Clarke-Pearson 1988, Biometrics 44:837), computed from midranks as Sun and Xu (2014, IEEE
Signal Process Lett 21:1389) show, in :math:`O(n \\log n)`; the paired test of two AUCs
follows from the covariance. :func:`calibration_deciles` compares mean predicted and observed
churn in equal-count bins of the prediction, each observed share with its Wilson interval.

Hand-written because scikit-learn's ``roc_auc_score`` gives the AUC without an interval or a
paired test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from cxroi.errors import CxroiError
from cxroi.metrics._intervals import wilson, z_value

__all__ = ["AucResult", "auc_delong", "calibration_deciles"]


@dataclass(frozen=True)
class AucResult:
    """AUC of one or more scores on the same customers, with DeLong's covariance."""

    auc: np.ndarray
    covariance: np.ndarray
    n: int
    n_events: int

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Normal interval of each AUC, clipped to [0, 1]."""
        se = np.sqrt(np.diag(self.covariance))
        z = z_value(level)
        return np.clip(self.auc - z * se, 0, 1), np.clip(self.auc + z * se, 0, 1)

    def difference(self, i: int = 0, j: int = 1, level: float = 0.95) -> tuple[float, ...]:
        """``(auc_i - auc_j, low, high, p_value)``: the paired DeLong test."""
        from scipy.stats import norm

        d = float(self.auc[i] - self.auc[j])
        c = self.covariance
        se = math.sqrt(max(c[i, i] + c[j, j] - 2 * c[i, j], 0.0))
        z = z_value(level)
        p = float(2 * norm.sf(abs(d) / se)) if se > 0 else float("nan")
        return d, d - z * se, d + z * se, p


def auc_delong(y: Any, *scores: Any) -> AucResult:
    """AUC of each score and DeLong's covariance matrix of them (paired, same rows).

    .. math:: \\widehat{AUC} = \\frac{1}{mn}\\sum_{i=1}^m\\sum_{j=1}^n
        \\left[\\mathbb 1(X_i > Y_j) + \\tfrac12 \\mathbb 1(X_i = Y_j)\\right]

    over the :math:`m` churners' scores :math:`X` and the :math:`n` stayers' :math:`Y`; the
    covariance is :math:`S_{10}/m + S_{01}/n` of the structural components (placement values),
    computed from midranks in :math:`O((m+n)\\log(m+n))`.

    Examples
    --------
    >>> r = auc_delong([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> float(r.auc[0])
    0.75
    """
    y = np.asarray(y, dtype=bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise CxroiError(f"an AUC needs at least two churners and two stayers ({m} and {n})")
    k = len(scores)
    v10 = np.empty((k, m))
    v01 = np.empty((k, n))
    auc = np.empty(k)
    for r, s in enumerate(scores):
        s = np.asarray(s, dtype=float)
        x, yy = s[y], s[~y]
        tz = rankdata(np.concatenate([x, yy]))
        tx, ty = rankdata(x), rankdata(yy)
        auc[r] = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
        v10[r] = (tz[:m] - tx) / n
        v01[r] = 1.0 - (tz[m:] - ty) / m
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return AucResult(auc=auc, covariance=cov, n=m + n, n_events=m)


def calibration_deciles(y: Any, p: Any, *, bins: int = 10, level: float = 0.95) -> pd.DataFrame:
    """Mean predicted and observed churn by equal-count bins of the prediction.

    Returns
    -------
    pandas.DataFrame
        One row per bin (1 = lowest predictions): ``decile``, ``n``, ``churned``,
        ``predicted`` (mean prediction), ``observed`` (churned ÷ n) with its Wilson interval
        ``ci_low``/``ci_high``.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    b = np.empty(len(p), dtype=int)
    b[order] = np.arange(len(p)) * bins // max(len(p), 1)
    f = (
        pd.DataFrame({"b": b, "y": y, "p": p})
        .groupby("b")
        .agg(n=("y", "size"), churned=("y", "sum"), predicted=("p", "mean"))
    )
    obs, _se, lo, hi = wilson(f["churned"].to_numpy(), f["n"].to_numpy(), level=level)
    return pd.DataFrame(
        {
            "decile": f.index.to_numpy() + 1,
            "n": f["n"].to_numpy(),
            "churned": f["churned"].to_numpy().astype(int),
            "predicted": f["predicted"].to_numpy(),
            "observed": obs,
            "ci_low": lo,
            "ci_high": hi,
        }
    )
