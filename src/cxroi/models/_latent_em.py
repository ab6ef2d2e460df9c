"""The expectation-maximisation steps of the archetype mixture
(:class:`cxroi.models.archetypes.ArchetypeMixture`): the encoded design, the parameters, the
E-step's log-likelihoods, the closed-form M-step and the k-means starts.

Kept apart from the estimator, which chooses the number of classes, checks stability and
scores customers; the model and its references are in that module's docstring.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

__all__ = ["FAMILIES"]

_LOG_2PI = float(np.log(2 * np.pi))
_MAX_SHAPE = 1e4  # largest negative binomial shape (close to Poisson)
_POISSON, _NEGBIN, _BINOMIAL = 0, 1, 2
FAMILIES = {"poisson": _POISSON, "negbin": _NEGBIN, "binomial": _BINOMIAL}
"""Families of a count feature: its exposure column is the time (or trials, binomial)."""


class _Design:
    """The encoded features of a frame, laid out so that the E- and M-steps are a few matrix
    products: a sparse one-hot of the categories; Gaussian values, their squares and an
    observed mask (zeros where missing); counts and exposures (zeros where missing)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        categorical: Sequence[str],
        gaussian: Sequence[str],
        counts: Mapping[str, str],
        levels: Mapping[str, list[Any]],
        family: np.ndarray,
        multinomial: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        n = len(frame)
        groups = dict(multinomial or {})
        mult = _numeric(frame, [c for cols in groups.values() for c in cols], n)
        self.mult = np.where(np.isfinite(mult) & (mult > 0), mult, 0.0)
        codes = np.empty((n, len(categorical)), dtype=np.int64)
        for j, c in enumerate(categorical):
            values = frame[c].astype(object).where(frame[c].notna())
            codes[:, j] = pd.Index(levels[c]).get_indexer(values)
        gauss = _numeric(frame, list(gaussian), n)
        y = _numeric(frame, list(counts), n)
        t = _numeric(frame, list(counts.values()), n)
        self.n = n
        self.codes, self.gauss, self.y, self.t = codes, gauss, y, t
        self.n_levels = [len(levels[c]) for c in categorical]
        self.n_levels += [len(cols) for cols in groups.values()]
        self.family = np.asarray(family, dtype=np.int64)  # _POISSON, _NEGBIN or _BINOMIAL
        self._finish()

    def _finish(self) -> None:
        from scipy import sparse

        offsets = np.concatenate([[0], np.cumsum(self.n_levels)]).astype(np.int64)
        seen = self.codes >= 0
        rows = np.broadcast_to(np.arange(self.n)[:, None], self.codes.shape)[seen]
        cols = (self.codes + offsets[: self.codes.shape[1]][None, :])[seen]
        # multinomial counts sit beside the one-hot: both are counts of a level
        mr, mc = np.nonzero(self.mult)
        first = offsets[self.codes.shape[1]] if self.mult.shape[1] else 0
        self.onehot = sparse.csr_matrix(
            (np.concatenate([np.ones(rows.size), self.mult[mr, mc]]),
             (np.concatenate([rows, mr]), np.concatenate([cols, first + mc]))),
            shape=(self.n, int(offsets[-1])),
        )  # fmt: skip
        self.offsets = offsets
        ok_g = np.isfinite(self.gauss)
        self.ok_g = ok_g.astype(np.float64)
        self.gx = np.where(ok_g, self.gauss, 0.0)
        self.gx2 = self.gx**2
        binom = self.family == _BINOMIAL
        ok_y = np.isfinite(self.y) & np.isfinite(self.t) & (self.t > 0) & (self.y >= 0)
        ok_y &= ~binom | (self.y <= self.t)
        self.ok_y = ok_y.astype(np.float64)
        self.yx = np.where(ok_y, self.y, 0.0)
        self.tx = np.where(ok_y, self.t, 0.0)
        self.nb = np.flatnonzero(self.family == _NEGBIN)
        self.pois = np.flatnonzero(self.family == _POISSON)
        self.binom = np.flatnonzero(binom)
        self.y_pois, self.t_pois = self.yx[:, self.pois], self.tx[:, self.pois]
        self.y_bin = self.yx[:, self.binom]
        self.f_bin = self.tx[:, self.binom] - self.y_bin
        # the part of every count's log-likelihood that does not depend on the class:
        # y log t - log y! (Poisson, negative binomial), log C(t, y) (binomial)
        safe_t = np.where(ok_y, self.tx, 1.0)
        const = np.where(binom, special.gammaln(safe_t + 1.0) - special.gammaln(
            np.maximum(safe_t - self.yx, 0.0) + 1.0), self.yx * np.log(safe_t))  # fmt: skip
        const = np.where(ok_y, const - special.gammaln(self.yx + 1.0), 0.0)
        const = const.sum(axis=1) - 0.5 * _LOG_2PI * self.ok_g.sum(axis=1)
        for lo, hi in zip(offsets[self.codes.shape[1] : -1], offsets[self.codes.shape[1] + 1 :],
                          strict=True):  # fmt: skip
            y = self.mult[:, lo - first : hi - first]
            const += special.gammaln(y.sum(axis=1) + 1) - special.gammaln(y + 1).sum(axis=1)
        self.const = const

    @cached_property
    def standardised(self) -> np.ndarray:
        """The dense design the k-means starts cluster, made once per design (every K and
        start of a fit reads it): level shares of each categorical or multinomial feature,
        Gaussian values and log rates of the counts, missing values at the mean, each column
        standardised."""
        dense = self.onehot.toarray()
        for lo, hi in zip(self.offsets[:-1], self.offsets[1:], strict=True):
            total = dense[:, lo:hi].sum(axis=1, keepdims=True)
            dense[:, lo:hi] /= np.where(total > 0, total, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.log1p(self.yx / np.where(self.tx > 0, self.tx, np.nan))
        z = np.hstack([dense, np.where(self.ok_g > 0, self.gx, np.nan), rate])
        z = np.where(np.isfinite(z), z, np.nan)
        seen = np.isfinite(z).any(axis=0)
        mean = np.zeros(z.shape[1])
        mean[seen] = np.nanmean(z[:, seen], axis=0)
        z = np.where(np.isfinite(z), z, mean[None, :])
        sd = z.std(axis=0)
        return (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)

    def rows(self, idx: np.ndarray) -> _Design:
        out = object.__new__(_Design)
        out.n = len(idx)
        out.codes, out.gauss, out.y, out.t, out.mult = (
            self.codes[idx], self.gauss[idx], self.y[idx], self.t[idx], self.mult[idx]
        )  # fmt: skip
        out.n_levels, out.family = self.n_levels, self.family
        out._finish()
        return out


def _numeric(frame: pd.DataFrame, cols: list[str], n: int) -> np.ndarray:
    if not cols:
        return np.empty((n, 0))
    return np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(float) for c in cols])


@dataclass
class _Params:
    """Parameters of one fitted mixture (classes in columns)."""

    log_weights: np.ndarray  # (k,)
    log_theta: np.ndarray  # (levels of every categorical and multinomial feature, k)
    offsets: np.ndarray  # feature j's levels are rows offsets[j]:offsets[j + 1]
    means: np.ndarray  # (gaussian features, k), and their variances
    variances: np.ndarray
    rates: np.ndarray  # (counts, k): per unit of exposure, or per trial (binomial)
    shapes: np.ndarray  # negative binomial shape; _MAX_SHAPE for the others
    n_negbin: int = 0

    @property
    def k(self) -> int:
        return len(self.log_weights)

    def n_free(self) -> int:
        """Free parameters (for BIC)."""
        k = self.k
        cat = int(np.maximum(np.diff(self.offsets) - 1, 0).sum()) * k
        return (k - 1) + cat + 2 * self.means.size + self.rates.size + self.n_negbin * k

    def reorder(self, order: np.ndarray) -> _Params:
        """The same mixture with its classes in ``order``."""
        return replace(
            self, log_weights=self.log_weights[order], log_theta=self.log_theta[:, order],
            means=self.means[:, order], variances=self.variances[:, order],
            rates=self.rates[:, order], shapes=self.shapes[:, order],
        )  # fmt: skip


def _log_lik(d: _Design, p: _Params) -> np.ndarray:
    """``(n, k)`` log of :math:`\\pi_k p(x_i \\mid k)`; missing values add nothing.

    Categorical, Gaussian and Poisson terms are matrix products; only the negative binomial
    counts need a per-cell ``gammaln``.
    """
    out = np.asarray(d.onehot @ p.log_theta) + p.log_weights + d.const[:, None]
    if p.means.size:
        prec = 1.0 / p.variances
        out -= 0.5 * (
            d.gx2 @ prec - 2.0 * d.gx @ (p.means * prec)
            + d.ok_g @ (p.means**2 * prec + np.log(p.variances))
        )  # fmt: skip
    if d.pois.size:
        rates = p.rates[d.pois]
        out += d.y_pois @ np.log(rates) - d.t_pois @ rates
    if d.binom.size:
        prob = p.rates[d.binom]
        out += d.y_bin @ np.log(prob) + d.f_bin @ np.log1p(-prob)
    if d.nb.size:
        for j in d.nb:
            r = p.shapes[j]
            yy, ok = d.yx[:, j, None], d.ok_y[:, j, None]
            m = d.tx[:, j, None] * p.rates[j]
            lrm = np.log(r + m)
            # NB log pmf less the class-free y log t - log y! already in d.const
            ll = special.gammaln(yy + r) - special.gammaln(r) + r * (np.log(r) - lrm)
            ll += yy * (np.log(p.rates[j]) - lrm)
            out += ll * ok
    return out


def _m_step(d: _Design, resp: np.ndarray, var_floor: np.ndarray) -> _Params:
    """Maximise the expected complete-data log-likelihood given responsibilities."""
    nk = resp.sum(axis=0) + 1e-10
    log_w = np.log(nk / nk.sum())
    tab = np.asarray(d.onehot.T @ resp) + 0.5  # pseudo-count: no level has probability 0
    log_theta = np.empty_like(tab)
    for lo, hi in zip(d.offsets[:-1], d.offsets[1:], strict=True):
        log_theta[lo:hi] = np.log(tab[lo:hi] / tab[lo:hi].sum(axis=0, keepdims=True))
    sw = d.ok_g.T @ resp + 1e-10
    means = (d.gx.T @ resp) / sw
    variances = np.maximum((d.gx2.T @ resp) / sw - means**2, var_floor[:, None])
    rates = np.maximum((d.yx.T @ resp) / np.maximum(d.tx.T @ resp, 1e-10), 1e-8)
    rates[d.binom] = np.minimum(rates[d.binom], 1 - 1e-8)
    shapes = np.full(rates.shape, _MAX_SHAPE)
    for j in d.nb:
        w = resp * d.ok_y[:, j, None]
        y, m = d.yx[:, j, None], d.tx[:, j, None] * rates[j]
        # method of moments within the class: Var y = m + m^2 / r
        inv_r = (((y - m) ** 2 - m) * w).sum(axis=0) / np.maximum((m**2 * w).sum(axis=0), 1e-12)
        shapes[j] = np.clip(1.0 / np.maximum(inv_r, 1.0 / _MAX_SHAPE), 0.05, _MAX_SHAPE)
    return _Params(log_w, log_theta, d.offsets, means, variances, rates, shapes, d.nb.size)


def _normalise(ll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise log-sum-exp of ``ll`` and the responsibilities ``exp(ll - lse)``."""
    top = ll.max(axis=1, keepdims=True)
    e = np.exp(ll - top)
    total = e.sum(axis=1, keepdims=True)
    return np.log(total) + top, e / total


def _init_resp(d: _Design, k: int, seed: int) -> np.ndarray:
    """Hard responsibilities from k-means on a standardised dense design of the features
    (level shares of each categorical or multinomial feature; missing values at the mean)."""
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():  # duplicate rows: fewer distinct starts, EM goes on
        warnings.simplefilter("ignore")
        labels = KMeans(k, n_init=1, random_state=seed).fit_predict(d.standardised)
    resp = np.zeros((d.n, k))
    resp[np.arange(d.n), labels] = 1.0
    return resp
