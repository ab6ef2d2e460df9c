"""The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013).

"The Gamma-Gamma model of monetary value": a customer's spend per transaction is
:math:`z \\sim \\Gamma(p, \\nu)` with :math:`\\nu \\sim \\Gamma(q, v)` across customers; only
customers with repeat purchases carry spend information. The log-likelihood is written with its
analytic gradient and fitted on log-parameters (:mod:`cxroi.models._mle`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import special

from cxroi.errors import CxroiError, CxroiWarning
from cxroi.estimator import Estimator
from cxroi.models._mle import (
    _as_array,
    _dot,
    _first_bad,
    _fit_log_params,
    _maybe_compress,
    _summary,
)

__all__ = ["GammaGamma"]


class _GGObjective:
    """Gamma-Gamma negative log-likelihood and gradient; x-only terms summed per distinct x."""

    def __init__(self, x: np.ndarray, m: np.ndarray, w: np.ndarray):
        self.n = float(w.sum())
        self.xz = x * m
        self.w = w
        self.unit_w = bool(np.all(w == 1.0))
        xi = x.astype(np.int64)
        self.xi = xi
        self.x_grid = np.arange(int(xi.max()) + 1, dtype=float)
        self.w_grid = np.bincount(xi, weights=w, minlength=self.x_grid.size)
        self.wx = w * x
        # x log(x zbar) and log(zbar), data-only sums
        self.sum_x_log_xz = _dot(self.wx, np.log(self.xz))
        self.sum_log_z = _dot(w, np.log(m))

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = (float(t) for t in theta)
        xg, wg = self.x_grid, self.w_grid
        keep = wg > 0
        xg, wg = xg[keep], wg[keep]
        pxg = p * xg
        dig = special.digamma(pxg + q)
        ll = (
            float(wg @ (special.gammaln(pxg + q) - special.gammaln(pxg)))
            - self.n * (special.gammaln(q) - q * math.log(v))
            + p * self.sum_x_log_xz
            - self.sum_log_z
        )
        g_p = float((wg * xg) @ (dig - special.digamma(pxg))) + self.sum_x_log_xz
        g_q = float(wg @ dig) - self.n * (special.digamma(q) - math.log(v))
        g_v = self.n * q / v
        vxz = v + self.xz
        log_vxz = np.log(vxz)
        np.reciprocal(vxz, out=vxz)
        # - sum w (p x + q) log(v + x zbar)
        if self.unit_w:
            s_log, s_xlog, s_inv = float(log_vxz.sum()), _dot(self.wx, log_vxz), float(vxz.sum())
        else:
            s_log, s_xlog, s_inv = (
                _dot(self.w, log_vxz),
                _dot(self.wx, log_vxz),
                _dot(self.w, vxz),
            )
        s_xinv = _dot(self.wx, vxz)
        ll -= p * s_xlog + q * s_log
        g_p -= s_xlog
        g_q -= s_log
        g_v -= p * s_xinv + q * s_inv
        return -ll, -np.array([g_p, g_q, g_v])


class GammaGamma(Estimator):
    """The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013).

    Parameters
    ----------
    start : dict, optional
        Starting values for ``p``, ``q``, ``v``.

    Attributes
    ----------
    params_ : dict
        ``p`` (shape of spend per transaction), ``q``, ``v`` (shape and scale of its rate).
    log_likelihood_, standard_errors_, n_customers_
        As for :class:`~cxroi.models.clv.BetaGeo`; ``summary`` likewise.

    Notes
    -----
    Only customers with at least one repeat purchase carry spend information: ``fit`` raises
    on ``frequency == 0`` rather than silently dropping them, and on non-positive mean spend.
    The likelihood of a customer's mean repeat spend :math:`\\bar z` over ``x`` purchases:

    .. math::

        f(\\bar z) = \\frac{\\Gamma(px+q)}{\\Gamma(px)\\Gamma(q)}
            \\frac{v^q\\, \\bar z^{px-1}\\, x^{px}}{(v + x\\bar z)^{px+q}}
    """

    param_names = ("p", "q", "v")

    def __init__(self, *, start: dict[str, float] | None = None):
        self.start = start

    @staticmethod
    def _validate(frequency: object, monetary_value: object) -> tuple[np.ndarray, np.ndarray]:
        x = _as_array("frequency", frequency)
        m = _as_array("monetary_value", monetary_value)
        if x.size != m.size:
            raise CxroiError(f"frequency and monetary_value differ in length ({x.size}, {m.size})")
        _first_bad("frequency", (x < 0) | (x != np.round(x)), x, "are not whole numbers >= 0")
        _first_bad(
            "frequency",
            x == 0,
            x,
            "are 0 (customers with one purchase only carry no repeat-spend information; "
            "pass only rows with frequency > 0)",
        )
        _first_bad("monetary_value", m <= 0, m, "are not positive (mean repeat spend)")
        return x, m

    def fit(self, frequency: object, monetary_value: object) -> GammaGamma:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency : array-like
            Repeat purchases (>= 1).
        monetary_value : array-like
            Mean spend per repeat purchase (> 0).

        Returns
        -------
        GammaGamma
            ``self``, fitted.
        """
        x, m = self._validate(frequency, monetary_value)
        (x, m), w = _maybe_compress(x, m)
        if self.start is not None:
            start = np.array([float(self.start[k]) for k in self.param_names])
        else:
            n = float(w.sum())
            mean, var = _dot(w, m) / n, _dot(w, m**2) / n
            cv2 = max((var - mean**2) / mean**2, 0.05)
            start = np.array([1.0 / cv2, 3.0, 2.0 * mean / cv2])

        def make(idx: np.ndarray | None) -> _GGObjective:
            if idx is None:
                return _GGObjective(x, m, w)
            return _GGObjective(x[idx], m[idx], w[idx])

        theta, se, _ = _fit_log_params(make, x.size, start, "GammaGamma")
        self.params_ = dict(zip(self.param_names, map(float, theta), strict=True))
        self.log_likelihood_ = -float(make(None)(theta)[0])
        self.standard_errors_ = dict(zip(self.param_names, map(float, se), strict=True))
        self.n_customers_ = int(w.sum())
        if self.params_["q"] <= 1:
            warnings.warn(
                f"GammaGamma: q = {self.params_['q']:.3g} <= 1, so mean spend per transaction "
                "is infinite under the model; expected values are not meaningful",
                CxroiWarning,
                stacklevel=2,
            )
        return self

    def _summary(self, level: float = 0.95) -> pd.DataFrame:
        """Parameters with standard errors and intervals at ``level`` (see ``summary``)."""
        se = np.array([self.standard_errors_[k] for k in self.params_])
        return _summary(self.params_, se, level=level)

    def _params(self) -> tuple[float, float, float]:
        self._check_fitted()
        return self.params_["p"], self.params_["q"], self.params_["v"]

    def conditional_expected_average_value(
        self, frequency: object, monetary_value: object
    ) -> np.ndarray:
        """Expected spend per transaction given history; customers with ``frequency == 0`` get
        the population mean :math:`pv/(q-1)` (their ``monetary_value`` is ignored, may be NaN).

        .. math::

            E[Z \\mid x, \\bar z] = \\frac{q-1}{px+q-1}\\,\\frac{pv}{q-1}
                + \\frac{px}{px+q-1}\\,\\bar z
        """
        p, q, v = self._params()
        x = _as_array("frequency", frequency)
        m = np.asarray(monetary_value, dtype=float).ravel()
        if m.size != x.size:
            raise CxroiError(f"frequency and monetary_value differ in length ({x.size}, {m.size})")
        m = np.where(x > 0, m, 0.0)
        _first_bad("monetary_value", ~np.isfinite(m), m, "are missing where frequency > 0")
        _first_bad("monetary_value", (x > 0) & (m <= 0), m, "are not positive (mean repeat spend)")
        return (p * (v + x * m)) / (p * x + q - 1.0)
