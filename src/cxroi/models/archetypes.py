"""Customer archetypes: a latent class mixture over behaviour, attitude and value.

Each customer belongs to one of :math:`K` latent classes with share :math:`\\pi_k`; given the
class, the features are independent (local independence), each in the family of its kind:

.. math::

    p(x_i) = \\sum_k \\pi_k \\prod_{f \\in \\text{cat}} \\theta_{kf}(x_{if})
    \\prod_{f \\in \\text{gauss}} \\phi(x_{if}; \\mu_{kf}, \\sigma^2_{kf})
    \\prod_{f \\in \\text{count}} P_f(y_{if} \\mid \\lambda_{kf} T_{if})

- **categorical** (plan, channel, NPS group): a probability per level and class;
- **multinomial** (purchases by product, tickets by channel): a mix per class;
- **Gaussian** (age, log average transaction): a mean and variance per class;
- **counts with exposure** :math:`T` (purchases, tickets, churn per month observed; theme
  mentions per comment): Poisson, negative binomial (shape :math:`r_{kf}`) or binomial
  (:math:`T` trials), so a customer seen for two months is not compared on raw totals with
  one seen for two years.

**Missing values are marginalised, never imputed**: a customer without an NPS answer, a
purchase (so no average transaction) or a comment lacks that factor. A "no answer" NPS level
was tried and rejected: whether a customer answers depends on how long and how actively they
are observed (surveys follow purchases and tickets), not on their archetype, and as a level
it pulled the classes towards tenure. The latest CSAT is left out: CSAT and NPS read the same
satisfaction, a dependence within each class that local independence cannot hold (on the
simulator either choice lowered the adjusted Rand index by 0.06-0.08).

**Fitting** is expectation-maximisation (Dempster, Laird & Rubin 1977) from ``n_init``
k-means starts; the M-step is closed form but for the negative binomial shape, set by the
class's weighted method of moments (a generalised EM step).

**The number of classes** is chosen by the Bayesian information criterion (Schwarz 1978),
:math:`\\mathrm{BIC} = -2 \\log L + p \\log n`, *checked by bootstrap stability*: the
:math:`K` in ``k_range`` are taken in order of BIC and the first whose partition is stable is
kept; stable means that refits on ``n_boot`` bootstrap resamples agree with it with a median
adjusted Rand index (Hubert & Arabie 1985) of at least ``min_stability``. No mixture family
is exactly right for real customers, and BIC, which adds classes while they improve the fit
at all, then splits groups along the misfit; such splits are arbitrary, so they do not
survive resampling (on the simulator the BIC-best 8 classes have median ARI 0.72).

**Scale.** The mixture is fitted on a seeded random subsample of at most ``max_fit_rows``
customers (50,000 by default; bootstrap refits on ``stability_rows``), then
:meth:`ArchetypeMixture.predict_proba` scores every customer in chunks of ``chunk_rows``:
memory grows with the chunk, and the fit costs the same for 50,000 or 5 million customers.
The E- and M-steps are one matrix product each, over a dense design of the encoded
features (the one-hot included; with the CX features about 64 columns, 0.5 KB a row).

Why written here: :class:`sklearn.mixture.GaussianMixture` (the usual tool, with BIC) models
every feature as Gaussian, a poor model of one-hot plans, product mixes, missing answers and
small counts: on the simulator (``tests/models/test_archetypes.py``) it recovers the latent
archetypes with adjusted Rand index 0.10, this mixture 0.73, the Bayes optimum 0.75.
Mixed-type latent class models exist in R (``poLCA``, ``flexmix``) and in StepMix, which is
not a dependency; the EM for this family is short. Borrowed: k-means starts
(:class:`sklearn.cluster.KMeans`), :func:`sklearn.metrics.adjusted_rand_score`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError, CxroiWarning, param
from cxroi.estimator import Estimator
from cxroi.models._latent_em import (
    FAMILIES,
    _Design,
    _init_resp,
    _log_lik,
    _m_step,
    _normalise,
    _Params,
    _quiet_kmeans,
)

__all__ = ["FAMILIES", "ArchetypeMixture", "ConvergenceWarning", "StabilityWarning"]


class ConvergenceWarning(CxroiWarning):
    """EM stopped at ``max_iter`` before the log-likelihood settled."""


class StabilityWarning(CxroiWarning):
    """No number of archetypes tried gave partitions stable under bootstrap resampling."""


class ArchetypeMixture(Estimator):
    """Latent class mixture of mixed-type customer features, :math:`K` by BIC and stability.

    Parameters
    ----------
    n_components, k_range
        Number of classes; ``None``: the BIC-best stable one from ``k_range`` (low, high).
    categorical, gaussian
        Columns modelled as categories, or as Gaussian per class (missing: marginalised).
    multinomial
        ``{name: count columns}``: counts of the levels of one thing (purchases by product).
    counts, families
        ``{count column: exposure column}``, and each count's family (``poisson``, the
        default, ``negbin`` or ``binomial``, whose exposure is the number of trials).
    n_init
        k-means starts per :math:`K`; the best log-likelihood is kept.
    max_iter, tol
        EM stops after ``max_iter`` iterations or when the mean log-likelihood per row
        improves by less than ``tol``.
    max_fit_rows
        Fit on a seeded random subsample of at most this many rows (``None``: all).
    n_boot, min_stability, stability_rows
        Bootstrap refits per :math:`K` checked, the median adjusted Rand index that makes a
        :math:`K` stable (``None``: plain BIC), and the size of each resample.
    chunk_rows
        Rows scored at a time by :meth:`predict_proba`.
    random_state
        Seed of the subsample, the starts and the bootstrap.

    Attributes
    ----------
    n_components_ : int
        The number of classes fitted.
    weights_ : numpy.ndarray
        Class shares :math:`\\pi_k` (classes are ordered by share, largest first).
    bic_ : dict
        BIC per :math:`K` tried.
    log_likelihood_ : float
        Log-likelihood of the fitting rows at the chosen :math:`K`.
    stability_ : numpy.ndarray
        Adjusted Rand index of each bootstrap refit against the fit, at the chosen :math:`K`.
    stability_by_k_ : dict
        Bootstrap ARIs of each :math:`K` checked, in the order checked.
    levels_ : dict
        Levels of each categorical column.
    profiles_ : pandas.DataFrame
        Per class and feature: the level probabilities, mean and sd, or rate and shape.
    params_ : dict
        ``n_components``, ``n_fit`` (rows fitted on), ``n_iter``, ``converged``,
        ``k_range``, ``stability_median``, ``stable`` (a :math:`K` passed the check).
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        k_range: tuple[int, int] = (2, 8),
        categorical: Sequence[str] = (),
        gaussian: Sequence[str] = (),
        counts: Mapping[str, str] | None = None,
        families: Mapping[str, str] | None = None,
        multinomial: Mapping[str, Sequence[str]] | None = None,
        n_init: int = 2,
        max_iter: int = 200,
        tol: float = 1e-4,
        max_fit_rows: int | None = 50_000,
        n_boot: int = 5,
        min_stability: float | None = 0.8,
        stability_rows: int = 20_000,
        chunk_rows: int = 100_000,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.k_range = k_range
        self.categorical = categorical
        self.gaussian = gaussian
        self.counts = counts
        self.families = families
        self.multinomial = multinomial
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.max_fit_rows = max_fit_rows
        self.n_boot = n_boot
        self.min_stability = min_stability
        self.stability_rows = stability_rows
        self.chunk_rows = chunk_rows
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------------

    def _columns(self) -> tuple[list[str], list[str], dict[str, str]]:
        return list(self.categorical), list(self.gaussian), dict(self.counts or {})

    def _multi_columns(self) -> list[str]:
        return [c for cols in dict(self.multinomial or {}).values() for c in cols]

    def _validate(self, frame: pd.DataFrame) -> None:
        cat, gau, cnt = self._columns()
        need = [*cat, *gau, *cnt, *cnt.values(), *self._multi_columns()]
        if not need:
            raise CxroiError("archetypes: no features to cluster on")
        missing = [c for c in dict.fromkeys(need) if c not in frame.columns]
        if missing:
            raise CxroiError(f"archetypes: the frame lacks {', '.join(missing)}")
        fam = dict(self.families or {})
        odd = [c for c in fam if c not in cnt]
        if odd:
            raise CxroiError(f"archetypes: families given for {', '.join(odd)}, not counts")
        bad = [f for f in fam.values() if f not in FAMILIES]
        if bad:
            raise CxroiError(
                f"archetypes: unknown count family {bad[0]!r}; choose from {', '.join(FAMILIES)}"
            )
        if len(frame) == 0:
            raise CxroiError("archetypes: no customers to cluster")
        lo, hi = self.k_range
        if self.n_components is not None:
            if self.n_components < 1:
                raise CxroiError(f"{param('k')} must be at least 1, got {self.n_components}")
            if self.n_components > len(frame):
                raise CxroiError(
                    f"{param('k')} {self.n_components} is more than the {len(frame)} customers"
                )
        elif lo < 1 or hi < lo:
            raise CxroiError(f"{param('k_range')} must be 1 <= low <= high, got {self.k_range}")

    def fit(self, frame: pd.DataFrame) -> ArchetypeMixture:
        """Fit the mixture to one row per customer (see the class docstring for columns).

        Raises
        ------
        CxroiError
            Without features or customers, with a column missing, or with ``n_components``
            below 1 or above the number of customers.
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # small dense products: threads only contend
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> ArchetypeMixture:
        self._validate(frame)
        cat, gau, cnt = self._columns()
        rng = np.random.default_rng(self.random_state)
        n = len(frame)
        if self.max_fit_rows is not None and n > self.max_fit_rows:
            idx = np.sort(rng.choice(n, self.max_fit_rows, replace=False))
            frame = frame.iloc[idx]
        self.levels_ = {
            c: sorted(frame[c].dropna().astype(object).unique().tolist(), key=str) for c in cat
        }
        fam = dict(self.families or {})
        self._family = np.array([FAMILIES[fam.get(c, "poisson")] for c in cnt], dtype=np.int64)
        d = _Design(frame, cat, gau, cnt, self.levels_, self._family, self.multinomial)
        total_var = np.nanvar(d.gauss, axis=0) if gau and d.n > 1 else np.ones(len(gau))
        self._var_floor = np.maximum(1e-3 * np.nan_to_num(total_var, nan=1.0), 1e-9)
        if self.n_components is not None:
            ks = [int(self.n_components)]
        else:
            ks = list(range(self.k_range[0], min(self.k_range[1], d.n) + 1))
        fits = self._fit_ks(d, ks, self.random_state)
        self.bic_ = {k: -2 * f[1] + f[0].n_free() * np.log(d.n) for k, f in fits.items()}
        by_bic = sorted(ks, key=lambda k: self.bic_[k])
        self.stability_by_k_: dict[int, np.ndarray] = {}
        best, stability, stable = by_bic[0], np.empty(0), True
        check = self.n_components is None and self.min_stability is not None and len(ks) > 1
        for k in by_bic if check else by_bic[:1]:
            stability = self._bootstrap(d, fits[k][0], rng)
            self.stability_by_k_[k] = stability
            median = float(np.median(stability)) if stability.size else 1.0
            if not check or median >= float(self.min_stability or 0.0):
                best = k
                break
        else:
            best, stable = by_bic[0], False
            stability = self.stability_by_k_[best]
        params, ll, n_iter, converged = fits[best]
        self._params = params.reorder(np.argsort(-params.log_weights, kind="stable"))
        self.n_components_ = best
        self.weights_ = np.exp(self._params.log_weights)
        self.log_likelihood_ = float(ll)
        self.stability_ = stability
        self.profiles_ = self._profiles()
        self.params_ = {
            "n_components": best,
            "n_fit": d.n,
            "n_iter": n_iter,
            "converged": converged,
            "k_range": list(self.k_range) if self.n_components is None else [best, best],
            "stability_median": float(np.median(stability)) if stability.size else None,
            "stable": stable,
        }
        if not stable:
            msg = f"no K in {self.k_range} reached bootstrap stability {self.min_stability}"
            warnings.warn(f"archetypes: {msg}; the BIC-best K = {best} is used",
                          StabilityWarning, stacklevel=3)  # fmt: skip
        if not converged:
            msg = f"archetypes: EM did not converge in {self.max_iter} iterations"
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        return self

    def _fit_ks(
        self, d: _Design, ks: Sequence[int], seed: int, n_init: int | None = None
    ) -> dict[int, tuple[_Params, float, int, bool]]:
        """Per ``k``, the best of ``n_init`` EM runs with ``k`` classes: parameters,
        log-likelihood, iterations and whether it converged.

        Each run, its k-means start and EM, goes to :func:`_threads`; the k-means warnings
        are silenced around them all, from this thread."""
        starts = [(k, seed + s) for k in ks for s in range(max(n_init or self.n_init, 1))]
        _ = d.standardised  # what k-means clusters: made once, here, not by each thread
        with _quiet_kmeans():
            runs = _threads(lambda start: self._em(d, _init_resp(d, *start)), starts)
        best: dict[int, tuple[_Params, float, int, bool]] = {}
        for (k, _), run in zip(starts, runs, strict=True):
            if k not in best or run[1] > best[k][1]:
                best[k] = run
        return best

    def _em(self, d: _Design, resp: np.ndarray) -> tuple[_Params, float, int, bool]:
        """EM from the responsibilities ``resp`` until the mean log-likelihood settles."""
        prev, cur, it, converged = -np.inf, -np.inf, 0, False
        p = _m_step(d, resp, self._var_floor)
        while it < self.max_iter:
            it += 1
            norm, resp = _normalise(_log_lik(d, p))
            cur = float(norm.mean())
            if cur - prev < self.tol:
                converged = True
                break
            prev = cur
            p = _m_step(d, resp, self._var_floor)
        return p, cur * d.n, it, converged

    def _bootstrap(self, d: _Design, params: _Params, rng: np.random.Generator) -> np.ndarray:
        """ARI against the fit ``params`` of refits (one start each) on ``n_boot`` bootstrap
        resamples of at most ``stability_rows`` fitting rows, compared on every fitting row."""
        from sklearn.metrics import adjusted_rand_score

        k = params.k
        if self.n_boot <= 0 or k < 2:
            return np.empty(0)
        main = _log_lik(d, params).argmax(axis=1)
        size = min(d.n, int(self.stability_rows))
        draws = [rng.integers(0, d.n, size) for _ in range(self.n_boot)]

        def refit(b: int) -> _Params:
            r = d.rows(draws[b])
            return self._em(r, _init_resp(r, k, self.random_state + 1000 + b))[0]

        with _quiet_kmeans():
            fits = _threads(refit, range(self.n_boot))
        return np.asarray(
            [adjusted_rand_score(main, _log_lik(d, p).argmax(axis=1)) for p in fits], dtype=float
        )

    # -- prediction --------------------------------------------------------------------------

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """``(customers, n_components_)`` posterior class probabilities, scored in chunks."""
        self._check_fitted()
        cat, gau, cnt = self._columns()
        need = [*cat, *gau, *cnt, *cnt.values(), *self._multi_columns()]
        missing = [c for c in dict.fromkeys(need) if c not in frame.columns]
        if missing:
            raise CxroiError(f"archetypes: the frame lacks {', '.join(missing)}")
        out = np.empty((len(frame), self.n_components_))
        step = max(int(self.chunk_rows), 1)
        for s in range(0, len(frame), step):
            part = frame.iloc[s : s + step]
            out[s : s + step] = _normalise(
                _log_lik(
                    _Design(part, cat, gau, cnt, self.levels_, self._family, self.multinomial),
                    self._params,
                )
            )[1]
        return out

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The most probable class of each row (0 = the largest class)."""
        return self.predict_proba(frame).argmax(axis=1)

    def _profiles(self) -> pd.DataFrame:
        """Long frame: ``component``, ``feature``, ``level``, ``value``."""
        cat, gau, cnt = self._columns()
        p = self._params
        parts = []
        comps = np.arange(p.k)

        def add(feature: str, level: object, values: np.ndarray) -> None:
            parts.append(pd.DataFrame({"component": comps, "feature": feature,
                                       "level": [level] * p.k, "value": values}))  # fmt: skip

        levels = [*((c, self.levels_[c]) for c in cat), *dict(self.multinomial or {}).items()]
        for j, (c, lvs) in enumerate(levels):
            for li, lv in enumerate(lvs):
                add(c, lv, np.exp(p.log_theta[p.offsets[j] + li]))
        for j, c in enumerate(gau):
            add(c, "mean", p.means[j])
            add(c, "sd", np.sqrt(p.variances[j]))
        for j, c in enumerate(cnt):
            add(c, "rate", p.rates[j])
            add(c, "shape", p.shapes[j])
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def _summary(self) -> pd.DataFrame:
        return self.profiles_


def _threads(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """``fn`` over ``items`` on a thread per core, in order: the fits (a k-means start and
    EM) are independent, and numpy and scikit-learn's k-means release the GIL in their array
    work, so two cores fit two at once."""
    from concurrent.futures import ThreadPoolExecutor

    items = list(items)
    workers = max(1, min(len(items), os.cpu_count() or 1))
    if workers == 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))
