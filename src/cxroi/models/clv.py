"""Probabilistic customer lifetime value: BG/NBD purchases × Gamma-Gamma spend, discounted.

Client lifetime value estimates how much money a single customer will spend over the course of
their lifetime. For non-contractual businesses (a customer can stop buying without telling
anyone) the standard answer is the pair of models fitted here:

- :class:`BetaGeo` — the BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers
  the easy way". While alive, a customer buys at Poisson rate :math:`\\lambda \\sim
  \\Gamma(r, \\alpha)`; after each purchase they drop out with probability :math:`p \\sim
  \\mathrm{Beta}(a, b)`.
- :class:`GammaGamma` — Fader & Hardie (2013), "The Gamma-Gamma model of monetary value":
  spend per transaction :math:`z \\sim \\Gamma(p, \\nu)` with :math:`\\nu \\sim \\Gamma(q, v)`.
- :func:`clv` — expected discounted spend over a horizon.

Why it is written here rather than imported: the reference implementation, ``lifetimes``, was
archived in 2020 and does not install on numpy 2 / pandas 3; it differentiates its likelihood
with ``autograd`` through Python-level array tracing and is slow and unstable at millions of
customers (its issues #132, #328, #332); PyMC-Marketing takes minutes to hours and a heavy
dependency stack. The models are small: a closed-form log-likelihood per customer. Here it is
written once, on numpy/scipy, in log space (``gammaln``/``betaln``, log-sum-exp for the
two-term BG/NBD likelihood), with its analytic gradient, fitted on log-parameters (see
:mod:`cxroi.models._mle`) over the distinct summary rows with weights. It reproduces the
published CDNOW estimates (tests pin them from raw transactions) and is measured against
``lifetimes`` in ``benchmarks/bench_clv.py``.

Inputs are per-customer summaries (see :mod:`cxroi.models.rfm`): ``frequency`` = number of
repeat purchase days, ``recency`` = age at the last purchase, ``T`` = age at the end of the
calibration period, all in one time unit; ``monetary_value`` = mean spend per repeat purchase.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import special

from cxroi.errors import CxroiError, CxroiWarning
from cxroi.models._mle import (
    ConvergenceWarning,
    _as_array,
    _dot,
    _first_bad,
    _fit_log_params,
    _maybe_compress,
    _summary,
    _validate_rft,
    compress,
)

__all__ = [
    "BetaGeo",
    "ConvergenceWarning",
    "GammaGamma",
    "clv",
    "compress",
    "discounted_purchases",
]


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


class _BGObjective:
    """BG/NBD negative log-likelihood and gradient over (x, t_x, T) rows with weights.

    Rows with x = 0 depend on T only; the terms that depend on x only are summed once per
    distinct x (x is a small whole number), so each evaluation costs two logs, one exp, one
    log1p and two reciprocals per customer with repeat purchases, and one log and one
    reciprocal per customer without.
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, w: np.ndarray):
        zero = x == 0
        self.n = float(w.sum())
        self.w0 = w[zero]
        self.T0 = big_t[zero]
        pos = ~zero
        self.x = x[pos]
        self.xi = self.x.astype(np.int64)
        self.tx = tx[pos]
        self.T = big_t[pos]
        self.w = w[pos]
        self.unit_w = bool(np.all(self.w == 1.0)) and bool(np.all(self.w0 == 1.0))
        self.x_grid = np.arange(int(x.max()) + 1, dtype=float) if x.size else np.zeros(1)
        self.w_grid = np.bincount(x.astype(np.int64), weights=w, minlength=self.x_grid.size)
        self.wx = self.w * self.x
        self._buf: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = (float(v) for v in theta)
        xg, wg = self.x_grid, self.w_grid
        dig_ab = special.digamma(a + b)
        ll = float(
            wg @ (special.gammaln(r + xg) + special.betaln(a, b + xg))
            - self.n * (special.gammaln(r) + special.betaln(a, b) - r * math.log(alpha))
        )
        g_r = float(wg @ special.digamma(r + xg)) - self.n * (special.digamma(r) - math.log(alpha))
        g_alpha = self.n * r / alpha
        dig_abx = special.digamma(a + b + xg)
        g_a = float(wg @ (dig_ab - dig_abx))
        g_b = float(wg @ (special.digamma(b + xg) - dig_abx)) + self.n * (
            dig_ab - special.digamma(b)
        )
        # Per-row work runs in preallocated buffers: at a million rows, allocating fresh
        # arrays for every operation costs as much as the arithmetic.
        if self._buf is None:
            self._buf = np.empty((8, self.x.size)), np.empty((2, self.T0.size))
        (b1, b2, b3, b4, b5, b6, b7, b8), (c1, c2) = self._buf

        def wsum(values: np.ndarray, weights: np.ndarray) -> float:
            return float(values.sum()) if self.unit_w else _dot(weights, values)

        # x = 0: - r log(alpha + T)
        if self.T0.size:
            np.add(self.T0, alpha, out=c1)
            np.log(c1, out=c2)
            np.reciprocal(c1, out=c1)
            s_log, s_inv = wsum(c2, self.w0), wsum(c1, self.w0)
            ll -= r * s_log
            g_r -= s_log
            g_alpha -= r * s_inv

        # x > 0: -(r+x) log(alpha+T) + softplus(z),
        # z = log c_x + (r+x) (log(alpha+T) - log(alpha+t_x))
        if self.x.size:
            log_c = np.zeros(xg.size)  # log(a / (b + x - 1)); x = 0 rows are not here
            log_c[1:] = np.log(a / (b + xg[1:] - 1.0))
            np.add(self.T, alpha, out=b1)
            np.log(b1, out=b2)  # log(alpha+T)
            np.add(self.tx, alpha, out=b3)
            np.log(b3, out=b3)
            np.subtract(b2, b3, out=b3)  # diff
            np.add(self.x, r, out=b4)  # r + x
            np.multiply(b4, b3, out=b5)
            np.take(log_c, self.xi, out=b6)
            b5 += b6  # z
            np.abs(b5, out=b6)
            np.negative(b6, out=b6)
            np.exp(b6, out=b6)  # e = exp(-|z|)
            np.maximum(b5, 0.0, out=b7)
            np.log1p(b6, out=b8)
            b7 += b8  # softplus(z)
            soft = wsum(b7, self.w)
            # sigmoid(z): 1/(1+e) where z >= 0, e/(1+e) where z < 0
            np.add(b6, 1.0, out=b7)
            np.reciprocal(b7, out=b7)
            np.multiply(b6, b7, out=b6)
            np.copyto(b6, b7, where=b5 >= 0)
            if not self.unit_w:
                b6 *= self.w  # w * s from here on
            s_log = wsum(b2, self.w)
            ll += soft - r * s_log - _dot(self.wx, b2)
            g_r += _dot(b6, b3) - s_log
            np.reciprocal(b1, out=b1)  # 1/(alpha+T)
            np.add(self.tx, alpha, out=b7)
            np.reciprocal(b7, out=b7)
            np.subtract(b1, b7, out=b7)  # 1/(alpha+T) - 1/(alpha+t_x)
            np.multiply(b6, b4, out=b8)
            g_alpha += _dot(b8, b7) - r * wsum(b1, self.w) - _dot(self.wx, b1)
            s_by_x = np.bincount(self.xi, weights=b6, minlength=xg.size)
            g_a += float(s_by_x.sum()) / a
            g_b -= float(s_by_x[1:] @ (1.0 / (b + xg[1:] - 1.0)))
        return -ll, -np.array([g_r, g_alpha, g_a, g_b])


class BetaGeo:
    """The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    start : dict, optional
        Starting values for ``r``, ``alpha``, ``a``, ``b`` (defaults are data-driven).
    compress : bool, default True
        Fit over the distinct ``(frequency, recency, T)`` rows with weights.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (purchase rate heterogeneity), ``a``, ``b`` (drop-out heterogeneity).
    log_likelihood_ : float
        Maximised log-likelihood.
    standard_errors_ : dict
        Standard errors from the inverse observed information.
    n_customers_ : int
    n_distinct_ : int
        Rows after compression.

    Notes
    -----
    The likelihood of one customer with ``x`` repeat purchases, the last at ``t_x``, observed
    for ``T``:

    .. math::

        L = \\frac{\\Gamma(r+x)\\,\\alpha^r}{\\Gamma(r)}\\,\\frac{B(a, b+x)}{B(a, b)}
            \\left[(\\alpha+T)^{-(r+x)}
            + \\delta_{x>0}\\,\\frac{a}{b+x-1}\\,(\\alpha+t_x)^{-(r+x)}\\right]

    computed as ``gammaln``/``betaln`` terms plus a numerically stable log-sum-exp of the
    bracket.

    Input rules: ``frequency`` must be whole and >= 0, ``recency`` 0 where ``frequency`` is 0
    and never above ``T``; missing values, negative times and data in which nobody made a
    repeat purchase raise :class:`~cxroi.errors.CxroiError`. ``T = 0`` (a first purchase on
    the last day of the calibration period) is allowed and adds nothing to the likelihood.
    Customers with one purchase only are ``frequency = 0`` rows: they are valid input.
    """

    param_names = ("r", "alpha", "a", "b")

    def __init__(self, *, start: dict[str, float] | None = None, compress: bool = True):
        self.start = start
        self.compress = compress

    def fit(self, frequency: object, recency: object, T: object) -> BetaGeo:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency : array-like
            Repeat purchases in the calibration period (whole numbers >= 0).
        recency : array-like
            Age at the last purchase (0 when ``frequency`` is 0); ``recency <= T``.
        T : array-like
            Age at the end of the calibration period, same time unit.

        Returns
        -------
        BetaGeo
            ``self``, fitted.
        """
        x, tx, big_t = _validate_rft(frequency, recency, T)
        if not np.any(x > 0):
            raise CxroiError(
                "BetaGeo: no customer made a repeat purchase (frequency is 0 everywhere), so "
                "purchase rates and drop-out cannot be estimated; use a longer calibration period"
            )
        if self.compress:
            (x, tx, big_t), w = _maybe_compress(x, tx, big_t)
        else:
            w = np.ones_like(x)
        if self.start is not None:
            start = np.array([float(self.start[k]) for k in self.param_names])
        else:
            # rate ~ repeat purchases per unit time; a, b start at a mean drop-out of 0.25.
            rate = max(_dot(w, x) / _dot(w, big_t), 1e-6)
            start = np.array([1.0, 1.0 / rate, 1.0, 3.0])

        def make(idx: np.ndarray | None) -> _BGObjective:
            if idx is None:
                return _BGObjective(x, tx, big_t, w)
            return _BGObjective(x[idx], tx[idx], big_t[idx], w[idx])

        theta, se, n_iter = _fit_log_params(make, x.size, start, "BetaGeo")
        self.params_ = dict(zip(self.param_names, map(float, theta), strict=True))
        self.log_likelihood_ = -float(make(None)(theta)[0])
        self.standard_errors_ = dict(zip(self.param_names, map(float, se), strict=True))
        self.n_customers_ = int(w.sum())
        self.n_distinct_ = int(w.size)
        self.n_iter_ = n_iter
        return self

    # -- predictions -----------------------------------------------------------------------
    def _check_fitted(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise CxroiError("BetaGeo is not fitted yet; call fit(frequency, recency, T) first")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    @property
    def summary(self) -> pd.DataFrame:
        """Parameters with standard errors and 95% normal intervals."""
        self._check_fitted()
        return _summary(self.params_, np.array(list(self.standard_errors_.values())))

    def probability_alive(self, frequency: object, recency: object, T: object) -> np.ndarray:
        """Probability that each customer is still active at ``T``.

        .. math::

            P(\\text{alive}) = \\left[1 + \\delta_{x>0}\\frac{a}{b+x-1}
                \\left(\\frac{\\alpha+T}{\\alpha+t_x}\\right)^{r+x}\\right]^{-1}
        """
        r, alpha, a, b = self._check_fitted()
        x, tx, big_t = _validate_rft(frequency, recency, T)
        z = (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx))
        with np.errstate(divide="ignore"):
            z += np.log(a / np.where(x > 0, b + x - 1.0, 1.0))
        return np.where(x > 0, special.expit(-z), 1.0)

    def expected_purchases(self, t: object) -> np.ndarray:
        """Expected purchases of a new customer in ``(0, t]`` (unconditional).

        .. math::

            E[X(t)] = \\frac{a+b-1}{a-1}\\left[1 - \\left(\\frac{\\alpha}{\\alpha+t}\\right)^r
                {}_2F_1\\!\\left(r, b; a+b-1; \\frac{t}{\\alpha+t}\\right)\\right]
        """
        r, alpha, a, b = self._check_fitted()
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r, b, a + b - 1.0, t / (alpha + t))
        return (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp)

    def conditional_expected_purchases(
        self, t: object, frequency: object, recency: object, T: object
    ) -> np.ndarray:
        """Expected purchases in ``(T, T+t]`` given each customer's history (FHL 2005 eq. 10).

        .. math::

            E[Y(t)\\mid x, t_x, T] = \\frac{a+b+x-1}{a-1}
                \\left[1-\\left(\\frac{\\alpha+T}{\\alpha+T+t}\\right)^{r+x}
                {}_2F_1\\!\\left(r+x, b+x; a+b+x-1; \\tfrac{t}{\\alpha+T+t}\\right)\\right]
                P(\\text{alive})
        """
        r, alpha, a, b = self._check_fitted()
        x, tx, big_t = _validate_rft(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, t / (alpha + big_t + t))
        log_ratio = (r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t))
        first = (a + b + x - 1.0) / (a - 1.0) * (1.0 - np.exp(log_ratio) * hyp)
        out = first * self.probability_alive(x, tx, big_t)
        if not np.all(np.isfinite(out)):
            raise CxroiError(
                "BetaGeo: conditional expectation is not finite for some customers "
                "(hypergeometric function out of range); check the time unit of t and T"
            )
        return out


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


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


class GammaGamma:
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

    @property
    def summary(self) -> pd.DataFrame:
        """Parameters with standard errors and 95% normal intervals."""
        self._check_fitted()
        return _summary(self.params_, np.array(list(self.standard_errors_.values())))

    def _check_fitted(self) -> tuple[float, float, float]:
        if not hasattr(self, "params_"):
            raise CxroiError("GammaGamma is not fitted yet; call fit(frequency, monetary_value)")
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
        p, q, v = self._check_fitted()
        x = _as_array("frequency", frequency)
        m = np.asarray(monetary_value, dtype=float).ravel()
        if m.size != x.size:
            raise CxroiError(f"frequency and monetary_value differ in length ({x.size}, {m.size})")
        m = np.where(x > 0, m, 0.0)
        _first_bad("monetary_value", ~np.isfinite(m), m, "are missing where frequency > 0")
        _first_bad("monetary_value", (x > 0) & (m <= 0), m, "are not positive (mean repeat spend)")
        return (p * (v + x * m)) / (p * x + q - 1.0)


# --------------------------------------------------------------------------------------------
# lifetime value
# --------------------------------------------------------------------------------------------


def clv(
    beta_geo: BetaGeo,
    gamma_gamma: GammaGamma,
    frequency: object,
    recency: object,
    T: object,
    monetary_value: object,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    step: float = 1.0,
) -> np.ndarray:
    """Expected discounted spend of each customer over the next ``horizon`` time units.

    Parameters
    ----------
    beta_geo, gamma_gamma
        Fitted models.
    frequency, recency, T, monetary_value
        Per-customer calibration summary (``monetary_value`` may be NaN where frequency is 0).
    horizon : float
        Length of the future period, in the time unit of ``T``.
    discount_rate : float, default 0
        Discount rate per time unit (convert an annual rate ``R`` to weeks with
        ``(1 + R) ** (1 / 52.18) - 1``).
    step : float, default 1
        Length of a discounting period; purchases in a period are discounted to its end.

    Returns
    -------
    ndarray
        CLV per customer, in the currency of ``monetary_value``.

    Notes
    -----
    .. math::

        \\mathrm{CLV} = E[Z\\mid x,\\bar z]\\sum_{k=1}^{K}
            \\frac{E[Y(k\\,s)] - E[Y((k-1)\\,s)]}{(1+d)^{k s}}

    with :math:`s` the step, :math:`K = \\lceil \\text{horizon}/s \\rceil` (the last period ends
    at the horizon) and :math:`E[Y(\\cdot)]` the BG/NBD conditional expectation.
    """
    x, tx, big_t = _validate_rft(frequency, recency, T)
    spend = gamma_gamma.conditional_expected_average_value(x, monetary_value)
    purchases = discounted_purchases(
        beta_geo, x, tx, big_t, horizon=horizon, discount_rate=discount_rate, step=step
    )
    return purchases * spend


def discounted_purchases(
    beta_geo: BetaGeo,
    frequency: object,
    recency: object,
    T: object,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    step: float = 1.0,
) -> np.ndarray:
    """Expected purchases over the next ``horizon``, each discounted to the end of its period.

    The sum in :func:`clv` without the spend factor; parameters as there.

    Returns
    -------
    ndarray
        Discounted expected purchases per customer.
    """
    if not horizon > 0 or not step > 0:
        raise CxroiError(f"horizon and step must be positive, got {horizon} and {step}")
    if not 0 <= discount_rate < 1:
        raise CxroiError(f"discount_rate must be in [0, 1) per time unit, got {discount_rate}")
    x, tx, big_t = _validate_rft(frequency, recency, T)
    (ux, utx, ut), _, inv = compress(x, tx, big_t)
    ends = np.minimum(np.arange(1, math.ceil(horizon / step - 1e-9) + 1) * step, horizon)
    total = np.zeros(ux.size)
    previous = np.zeros(ux.size)
    for end in ends:
        cum = beta_geo.conditional_expected_purchases(end, ux, utx, ut)
        total += (cum - previous) / (1.0 + discount_rate) ** end
        previous = cum
    return total[inv]
