"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

"Counting your customers the easy way": while alive, a customer buys at Poisson rate
:math:`\\lambda \\sim \\Gamma(r, \\alpha)`; after each purchase they drop out with probability
:math:`p \\sim \\mathrm{Beta}(a, b)`. The log-likelihood is written in log space
(``gammaln``/``betaln``, a log-sum-exp for its two-term bracket) with its analytic gradient and
fitted on log-parameters over the distinct summary rows with weights
(:mod:`cxroi.models._mle`). See :mod:`cxroi.models.clv` for why it is written here.

Inputs are per-customer summaries (:func:`cxroi.models.rfm.rfm_summary`): ``frequency`` =
repeat purchase days, ``recency`` = age at the last purchase, ``T`` = age at the end of the
calibration period, all in one time unit.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from cxroi.errors import CxroiError
from cxroi.estimator import Estimator
from cxroi.models._mle import _dot, _fit_log_params, _maybe_compress, _summary, _validate_rft

__all__ = ["BetaGeo", "holdout_by_frequency"]


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


class BetaGeo(Estimator):
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
    summary : DataFrame
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``level`` per parameter (95% interval,
        normal on the log scale the fit uses).

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
    def _params(self) -> tuple[float, float, float, float]:
        self._check_fitted()
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def _summary(self, level: float = 0.95) -> pd.DataFrame:
        """Parameters with standard errors and intervals at ``level`` (see ``summary``)."""
        se = np.array([self.standard_errors_[k] for k in self.params_])
        return _summary(self.params_, se, level=level)

    def probability_alive(self, frequency: object, recency: object, T: object) -> np.ndarray:
        """Probability that each customer is still active at ``T``.

        .. math::

            P(\\text{alive}) = \\left[1 + \\delta_{x>0}\\frac{a}{b+x-1}
                \\left(\\frac{\\alpha+T}{\\alpha+t_x}\\right)^{r+x}\\right]^{-1}
        """
        r, alpha, a, b = self._params()
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
        r, alpha, a, b = self._params()
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
        r, alpha, a, b = self._params()
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


def holdout_by_frequency(
    frequency: np.ndarray, actual: np.ndarray, predicted: np.ndarray, *, top: int = 7
) -> pd.DataFrame:
    """Actual and predicted holdout purchases by calibration frequency (``top``+ pooled).

    The check of Fader, Hardie & Lee (2005), figure 4: customers grouped by their repeat
    purchases in the calibration period, with the purchases they made in the holdout period
    and the model's conditional expectation of them.

    Returns
    -------
    DataFrame
        ``frequency`` (``"0"``, ``"1"``, …, ``"7+"``), ``n``, ``actual``, ``predicted`` (means
        per customer).
    """
    bucket = np.minimum(np.asarray(frequency, dtype=int), top)
    df = pd.DataFrame({"bucket": bucket, "actual": actual, "predicted": predicted})
    out = df.groupby("bucket").agg(
        n=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    labels = [f"{b}+" if b == top else str(b) for b in out.index]
    return out.reset_index(drop=True).assign(frequency=labels)[
        ["frequency", "n", "actual", "predicted"]
    ]
