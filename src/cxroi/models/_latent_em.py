"""The expectation-maximisation steps of the archetype mixture
(:class:`cxroi.models.archetypes.ArchetypeMixture`): the encoded design, the parameters, the
E-step's log-likelihoods, the closed-form M-step and the k-means starts.

Kept apart from the estimator, which chooses the number of classes, checks stability and
scores customers; the model and its references are in that module's docstring.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    """The encoded features of a frame, laid out so that the E- and M-steps are each one
    matrix product with :attr:`dense`: a one-hot of the categories beside the multinomial
    counts; Gaussian values, their squares and an observed mask (zeros where missing); counts
    and exposures (zeros where missing)."""

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
        # the ends of the column blocks of self.dense
        g, c, b = self.gx.shape[1], self.yx.shape[1], self.nb.size
        self.cut = np.cumsum([self.onehot.shape[1], g, g, g, c, c, b, b, b, 1])
        # the part of every count's log-likelihood that does not depend on the class:
        # y log t - log y! (Poisson, negative binomial), log C(t, y) (binomial)
        safe_t = np.where(ok_y, self.tx, 1.0)
        const = self.yx * np.log(safe_t)
        tb, yb = safe_t[:, self.binom], self.yx[:, self.binom]  # gammaln where it is needed
        const[:, self.binom] = special.gammaln(tb + 1.0) - special.gammaln(
            np.maximum(tb - yb, 0.0) + 1.0)  # fmt: skip
        const = np.where(ok_y, const - special.gammaln(self.yx + 1.0), 0.0)
        const = const.sum(axis=1) - 0.5 * _LOG_2PI * self.ok_g.sum(axis=1)
        for lo, hi in zip(offsets[self.codes.shape[1] : -1], offsets[self.codes.shape[1] + 1 :],
                          strict=True):  # fmt: skip
            y = self.mult[:, lo - first : hi - first]
            const += special.gammaln(y.sum(axis=1) + 1) - special.gammaln(y + 1).sum(axis=1)
        self.const = const
        self.dense = self._dense()
        self.nb_cells = self._nb_cells()

    def _dense(self) -> np.ndarray:
        """``(n, m)`` every class-free column the E- and M-steps weigh, made once per design:
        one-hot and multinomial counts, Gaussian squares, values and observed mask, counts,
        exposures, the negative binomial counts' squares, products with the exposure and
        squared exposures, a column of ones and :attr:`const`. The E-step is this times a
        ``(m, k)`` matrix of the parameters (:func:`_coefficients`); the M-step's weighted sums
        are this transposed times the responsibilities."""
        y, t = self.yx[:, self.nb], self.tx[:, self.nb]
        out = np.empty((self.n, int(self.cut[-1]) + 1))
        parts = np.split(out, self.cut, axis=1)
        parts[0][:] = self.onehot.toarray()
        columns = [self.gx2, self.gx, self.ok_g, self.yx, self.tx, y**2, y * t, t**2, 1.0,
                   self.const[:, None]]  # fmt: skip
        for part, x in zip(parts[1:], columns, strict=True):
            part[:] = x
        return out

    def _nb_cells(self) -> list[tuple[np.ndarray, ...]]:
        """Per negative binomial count, so that the E-step's ``gammaln`` and ``log`` run once
        per distinct value, not per row: the distinct counts and exposures (each ``(values,
        1)``); the distinct (count, exposure) pairs, as indices into those, with the pair's
        count and observed mask (``(pairs, 1)``); each row's pair."""
        out: list[tuple[np.ndarray, ...]] = []
        for j in self.nb:
            # a pair as one complex number: sorted by count, then exposure, as the rows of
            # np.unique(axis=0) are, and eight times faster (the values are finite)
            key, inv = np.unique(self.yx[:, j] + 1j * self.tx[:, j], return_inverse=True)
            pairs = np.c_[key.real, key.imag]
            uy, iy = np.unique(pairs[:, 0], return_inverse=True)
            ut, it = np.unique(pairs[:, 1], return_inverse=True)
            ok = np.zeros(len(pairs))
            ok[inv] = self.ok_y[:, j]
            out.append((uy[:, None], ut[:, None], iy, it, pairs[:, :1], ok[:, None], inv.ravel()))
        return out

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


def _coefficients(d: _Design, p: _Params) -> np.ndarray:
    """``(m, k)`` weights of the columns of :attr:`_Design.dense` in :func:`_log_lik`: the
    Gaussian log density is :math:`-\\tfrac12 (x^2 / \\sigma^2 - 2 x \\mu / \\sigma^2 + \\mu^2 /
    \\sigma^2 + \\log \\sigma^2)`, the binomial's :math:`y \\log p + (T - y) \\log (1 - p)` is
    :math:`y \\operatorname{logit} p + T \\log(1 - p)`; the negative binomial's columns are 0
    (its terms are added apart)."""
    cut = d.cut
    coef = np.zeros((d.dense.shape[1], p.k))
    coef[: cut[0]] = p.log_theta
    if p.means.size:
        prec = 1.0 / p.variances
        coef[cut[0] : cut[1]] = -0.5 * prec
        coef[cut[1] : cut[2]] = p.means * prec
        coef[cut[2] : cut[3]] = -0.5 * (p.means**2 * prec + np.log(p.variances))
    y, t = coef[cut[3] : cut[4]], coef[cut[4] : cut[5]]
    y[d.pois], t[d.pois] = np.log(p.rates[d.pois]), -p.rates[d.pois]
    prob = p.rates[d.binom]
    t[d.binom] = np.log1p(-prob)
    y[d.binom] = np.log(prob) - t[d.binom]
    coef[cut[-2]], coef[cut[-1]] = p.log_weights, 1.0
    return coef


def _log_lik(d: _Design, p: _Params) -> np.ndarray:
    """``(n, k)`` log of :math:`\\pi_k p(x_i \\mid k)`; missing values add nothing.

    One matrix product of :attr:`_Design.dense` and :func:`_coefficients`, laid out class by
    class (Fortran order), so the row-wise sums and maxima of :func:`_normalise` and the
    column sums of :func:`_m_step` run along contiguous memory; the negative binomial counts
    add their ``gammaln`` terms, computed once per distinct (count, exposure) pair.
    """
    out = _coefficients(d, p).T @ d.dense.T  # (k, n)
    for j, (uy, ut, iy, it, yy, ok, inv) in zip(d.nb, d.nb_cells, strict=True):
        r = p.shapes[j]
        lrm = np.log(r + ut * p.rates[j])[it]  # log(r + m), m = T rate, per pair
        # NB log pmf less the class-free y log t - log y! already in d.const
        ll = special.gammaln(uy + r)[iy] - special.gammaln(r) + r * (np.log(r) - lrm)
        ll += yy * (np.log(p.rates[j]) - lrm)
        ll *= ok
        out += np.take(ll.T, inv, axis=1)
    return out.T


def _m_step(d: _Design, resp: np.ndarray, var_floor: np.ndarray) -> _Params:
    """Maximise the expected complete-data log-likelihood given responsibilities; every
    weighted sum is one product of the responsibilities and :attr:`_Design.dense`."""
    cut = d.cut
    sums = (resp.T @ d.dense).T  # (m, k)
    nk = sums[cut[-2]] + 1e-10
    log_w = np.log(nk / nk.sum())
    tab = sums[: cut[0]] + 0.5  # pseudo-count: no level has probability 0
    log_theta = np.empty_like(tab)
    for lo, hi in zip(d.offsets[:-1], d.offsets[1:], strict=True):
        log_theta[lo:hi] = np.log(tab[lo:hi] / tab[lo:hi].sum(axis=0, keepdims=True))
    sw = sums[cut[2] : cut[3]] + 1e-10
    means = sums[cut[1] : cut[2]] / sw
    variances = np.maximum(sums[cut[0] : cut[1]] / sw - means**2, var_floor[:, None])
    ty = sums[cut[4] : cut[5]]
    rates = np.maximum(sums[cut[3] : cut[4]] / np.maximum(ty, 1e-10), 1e-8)
    rates[d.binom] = np.minimum(rates[d.binom], 1 - 1e-8)
    shapes = np.full(rates.shape, _MAX_SHAPE)
    for i, j in enumerate(d.nb):
        # method of moments within the class: Var y = m + m^2 / r, m = T rate; the sums of
        # (y - m)^2 - m and m^2 expanded over the weighted sums of y^2, y T, T^2 and T
        y2, yt, t2 = (sums[cut[c] + i] for c in (5, 6, 7))
        rate = rates[j]
        num = y2 - 2.0 * rate * yt + rate**2 * t2 - rate * ty[j]
        inv_r = num / np.maximum(rate**2 * t2, 1e-12)
        shapes[j] = np.clip(1.0 / np.maximum(inv_r, 1.0 / _MAX_SHAPE), 0.05, _MAX_SHAPE)
    return _Params(log_w, log_theta, d.offsets, means, variances, rates, shapes, d.nb.size)


def _normalise(ll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise log-sum-exp of ``ll`` and the responsibilities ``exp(ll - lse)``, made in
    place: ``ll`` is overwritten by the responsibilities."""
    top = ll.max(axis=1, keepdims=True)
    ll -= top
    np.exp(ll, out=ll)
    total = ll.sum(axis=1, keepdims=True)
    ll /= total
    return np.log(total) + top, ll


@contextmanager
def _quiet_kmeans() -> Iterator[None]:
    """Silence scikit-learn's warnings (k-means on duplicate rows finds fewer distinct
    clusters; EM goes on) inside, in every thread: catching warnings is not thread-safe, so
    the threads that call :func:`_init_resp` run inside this, entered by the one thread that
    starts them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="sklearn")
        yield


def _init_resp(d: _Design, k: int, seed: int) -> np.ndarray:
    """Hard responsibilities from k-means on a standardised dense design of the features
    (level shares of each categorical or multinomial feature; missing values at the mean).
    Call it inside :func:`_quiet_kmeans`."""
    from sklearn.cluster import KMeans

    labels = KMeans(k, n_init=1, random_state=seed).fit_predict(d.standardised)
    resp = np.zeros((d.n, k), order="F")  # class by class, as _normalise makes them
    resp[np.arange(d.n), labels] = 1.0
    return resp
