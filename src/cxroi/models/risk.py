"""Churn risk per customer: a penalised logistic regression on the point-in-time profile, the
interval of each score, the out-of-time checks (AUC, calibration by decile) and the reasons
behind each score in plain words.

Method
------
The rows are customers active on a day ``T``, described by their profile on ``T``
(:func:`cxroi.models.profile.customer_profile`: nothing after ``T`` enters it); the label is 1
when the customer has no open contract ``h`` days later. :class:`ChurnRisk` fits

.. math:: \\operatorname{logit} P(\\text{churn within } h \\mid x) = \\beta_0 + \\beta^\\top z,
    \\qquad z_j = (x_j - \\bar x_j) / s_j

with scikit-learn's ``LogisticRegression`` (L-BFGS, L2 penalty :math:`\\lVert\\beta\\rVert^2/2C`,
intercept unpenalised) on standardised features:

- a numeric column enters as is (money, counts and durations as :math:`\\log(1 + x)`); where
  it has missing values (a customer who never answered a survey) they are set to the observed
  mean and an indicator column ``COL:missing`` carries the effect of not answering
  (the missing-indicator method): nothing is mean-imputed silently;
- a text column enters as one indicator per level held by at least ``min_level_n`` training
  rows (at most ``max_levels``, most frequent first); rarer levels share the all-zero row, or
  the most frequent level is the reference when there are none;
- a column that is constant, or a linear combination of earlier ones, is left out (a second
  missing indicator of the same customers, a region whose cities are all in the model: finer
  text columns go first).

``C="cv"`` chooses the penalty by three-fold cross-validated log loss.

Too few events make such a model unstable: ``fit`` refuses fewer churners than
``max(min_events, events_per_feature × features)``, five churners per feature by default.
Ten per feature (Peduzzi et al. 1996, J Clin Epidemiol 49:1373) is the rule for an
unpenalised fit; Vittinghoff and McCulloch (2007, Am J Epidemiol 165:710) found five to nine
enough for unbiased coefficients and interval coverage, and the L2 penalty shrinks the
coefficients besides. The out-of-time check then shows whether the model holds.

The interval of a score is the delta method on the logit with the Laplace covariance
:math:`(\\tilde Z^\\top W \\tilde Z + \\operatorname{diag}(0, 1/C, \\dots))^{-1}`,
:math:`W = \\operatorname{diag}(p_i(1-p_i))`, then mapped through the logistic function.

A feature's *contribution* to a customer's score is :math:`\\beta_j z_{ij} = \\beta_j (x_{ij} -
\\bar x_j)/s_j`: how far it moves the customer's logit from that of the average training
customer. Contributions are summed by source column (the level indicators of ``city``, a
value and its missing indicator; ``nps_last`` with ``nps_group``), and
:func:`cxroi.models.risk_reasons.risk_reasons`
words the two or three largest positive ones from the customer's own data ("detractor since
March", "two slow first responses", "no purchase in 120 days").

Its out-of-time checks (AUC with DeLong's interval, calibration by decile) are in
:mod:`cxroi.models.risk_validation`.

Hand-written here because scikit-learn's ``LogisticRegression`` keeps no covariance, and the
reasons are this product's wording.

Every pass over customers runs in blocks of ``chunk_rows`` rows, so the memory a score needs
does not grow with the number of customers beyond one column per output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from cxroi.errors import CxroiError, param
from cxroi.estimator import Estimator
from cxroi.metrics._intervals import z_value

__all__ = [
    "LOG_COLUMNS",
    "PROFILE_FEATURES",
    "ChurnRisk",
    "TooFewChurnersError",
    "independent_columns",
]

PROFILE_FEATURES: tuple[str, ...] = (
    *("tenure_months", "contract_value", "contracts", "purchases_recent", "recency_days"),
    *("spend_per_month", "visits_per_month", "tickets_recent", "slow_recent", "support_cost"),
    *("nps_last", "nps_group", "csat_last", "ces_last"),
)
"""The profile columns a churn model reads (besides the customers' own attributes)."""

LOG_COLUMNS = frozenset(
    {*PROFILE_FEATURES[:10], "spend", "spend_recent", "purchases", "tickets", "nps_answers"}
)
"""Money, counts and durations: they enter as ``log(1 + max(x, 0))``."""

CV_GRID = tuple(float(c) for c in np.logspace(-3.5, 0, 8))
"""The C values ``C="cv"`` chooses from."""

_GROUP = {"nps_group": "nps_last"}  # reasons: the NPS group is read with the last answer
_MISSING = ":missing"


class TooFewChurnersError(CxroiError):
    """Fewer churners among the training customers than a stable model needs."""

    def __init__(self, message: str, *, n_events: int, needed: int, n_features: int):
        super().__init__(message)
        self.n_events = n_events
        self.needed = needed
        self.n_features = n_features


@dataclass(frozen=True)
class _Feature:
    name: str  # design column: COL, COL:missing or COL=LEVEL
    column: str  # the profile column it comes from
    kind: str  # "value", "missing" or "level"
    fill: float = 0.0  # a value column's stand-in for a missing value (the observed mean)
    code: int = -1  # a level's position in the column's kept levels


class ChurnRisk(Estimator):
    """Probability of churning within a horizon, per customer, from a profile frame.

    Parameters
    ----------
    columns
        Profile columns to use (default: every column but ``customer_id`` and dates).
        Numeric columns are values, text columns levels (see the module docstring).
    C
        Inverse L2 penalty strength of scikit-learn's ``LogisticRegression``, or ``"cv"``.
    min_level_n, max_levels
        A level needs this many training rows to get its own indicator; at most this many
        levels per column.
    min_events, events_per_feature
        ``fit`` needs at least ``max(min_events, events_per_feature × features)`` churners.
    max_fit_rows
        Fit on a seeded random sample of at most this many rows (the model has a few dozen
        parameters; a larger sample adds time, not accuracy).
    chunk_rows
        Rows per block when scoring.
    level
        Interval level.
    random_state
        Seed of the fitting sample.
    """

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        *,
        C: float | str = 1.0,
        min_level_n: int = 30,
        max_levels: int = 30,
        min_events: int = 30,
        events_per_feature: int = 5,
        max_fit_rows: int = 250_000,
        cv_rows: int = 20_000,
        chunk_rows: int = 100_000,
        level: float = 0.95,
        random_state: int = 0,
    ):
        self.columns = columns
        self.C = C
        self.min_level_n = min_level_n
        self.max_levels = max_levels
        self.min_events = min_events
        self.events_per_feature = events_per_feature
        self.max_fit_rows = max_fit_rows
        self.cv_rows = cv_rows
        self.chunk_rows = chunk_rows
        self.level = level
        self.random_state = random_state

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, profile: pd.DataFrame, churned: Any) -> ChurnRisk:
        """Fit on one row per customer and a 0/1 churn label per row.

        Raises
        ------
        TooFewChurnersError
            With fewer churners than ``max(min_events, events_per_feature × features)``.
        """
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(churned, dtype=float)
        if len(y) != len(profile):
            raise CxroiError(f"{len(y)} labels for {len(profile)} rows")
        if not np.isin(y, (0.0, 1.0)).all():
            raise CxroiError("churn labels must be 0 or 1 (no missing values)")
        if not (self.C == "cv" or (isinstance(self.C, int | float) and self.C > 0)):
            raise CxroiError(f"{param('C')} must be positive or 'cv', got {self.C!r}")
        if len(y) > self.max_fit_rows:
            rng = np.random.default_rng(self.random_state)
            keep = np.sort(rng.choice(len(y), self.max_fit_rows, replace=False))
            profile, y = profile.iloc[keep], y[keep]
        cols = self._columns(profile)
        self.levels_: dict[str, list[Any]] = {}
        self.features_ = self._features(profile, cols)
        raw = self._raw(profile)
        self.means_ = raw.mean(axis=0)
        sd = raw.std(axis=0)
        useful = sd > 1e-12
        # a finer text column first, so that it absorbs a coarser one nested in it (city, region)
        rank = [-len(self.levels_.get(f.column, ())) for f in self.features_]
        order = np.flatnonzero(useful)[np.argsort(np.array(rank)[useful], kind="stable")]
        useful[order] = independent_columns((raw[:, order] - self.means_[order]) / sd[order])
        if not useful.all():  # constant, or a combination of earlier columns: no information
            self.features_ = [f for f, u in zip(self.features_, useful, strict=True) if u]
            raw, self.means_, sd = raw[:, useful], self.means_[useful], sd[useful]
        n_events = int(y.sum())
        p = len(self.features_)
        needed = max(self.min_events, self.events_per_feature * p)
        if n_events < needed:
            raise TooFewChurnersError(
                f"{n_events:,} churners among {len(y):,} customers; a churn model on {p} "
                f"features needs at least {needed:,} ({self.events_per_feature} per feature, "
                f"at least {param('min_n', self.min_events)})",
                n_events=n_events,
                needed=needed,
                n_features=p,
            )
        if n_events == len(y):
            raise CxroiError("every training customer churned: there is nothing to tell apart")
        self.scales_ = sd
        z = (raw - self.means_) / self.scales_
        if z.shape[1]:
            self.C_ = self._choose_c(z, y) if self.C == "cv" else float(self.C)
            lr = LogisticRegression(C=self.C_, max_iter=1000).fit(z, y)
            self.coef_ = lr.coef_[0].astype(float)
            self.intercept_ = float(lr.intercept_[0])
        else:
            self.C_ = float("nan") if self.C == "cv" else float(self.C)
            self.coef_ = np.zeros(0)
            self.intercept_ = float(np.log(y.mean() / (1 - y.mean())))
        eta = self.intercept_ + z @ self.coef_
        w = expit(eta) * (1 - expit(eta))
        zt = np.column_stack([np.ones(len(z)), z])
        hess = (zt * w[:, None]).T @ zt + np.diag([0.0] + [1.0 / self.C_] * z.shape[1])
        self.covariance_ = np.linalg.pinv(hess)
        self.n_ = len(y)
        self.n_events_ = n_events
        self.base_rate_ = n_events / len(y)
        self.params_ = pd.Series(
            [self.intercept_, *self.coef_], index=["intercept", *self.feature_names_]
        )
        return self

    def _choose_c(self, z: np.ndarray, y: np.ndarray) -> float:
        """The C of the best three-fold cross-validated log loss over :data:`CV_GRID`, on at
        most ``cv_rows`` rows (rescaled to the full fit: the same penalty per row)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        n = len(y)
        if n > self.cv_rows:
            rng = np.random.default_rng(self.random_state + 1)
            keep = rng.choice(n, self.cv_rows, replace=False)
            z, y = z[keep], y[keep]
        loss = np.zeros(len(CV_GRID))
        folds = StratifiedKFold(3, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(z, y):
            lr = LogisticRegression(max_iter=1000, warm_start=True)
            for i, c in enumerate(CV_GRID):  # increasing C, each warm-started from the last
                lr.set_params(C=c).fit(z[train], y[train])
                p = np.clip(lr.predict_proba(z[test])[:, 1], 1e-12, 1 - 1e-12)
                yt = y[test]
                loss[i] -= np.sum(yt * np.log(p) + (1 - yt) * np.log(1 - p))
        return CV_GRID[int(np.argmin(loss))] * len(y) / n

    @property
    def feature_names_(self) -> list[str]:
        """The design columns, in order."""
        return [f.name for f in self.features_]

    def _columns(self, profile: pd.DataFrame) -> list[str]:
        if self.columns is None:
            return [
                c
                for c in profile.columns
                if c != "customer_id" and not pd.api.types.is_datetime64_any_dtype(profile[c])
            ]
        missing = [c for c in self.columns if c not in profile.columns]
        if missing:
            raise CxroiError(f"profile column(s) not found: {', '.join(missing)}")
        return list(self.columns)

    def _features(self, profile: pd.DataFrame, cols: list[str]) -> list[_Feature]:
        out: list[_Feature] = []
        for c in cols:
            s = profile[c]
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                x = _value(s, c)
                seen = ~np.isnan(x)
                if not seen.any():
                    continue
                out.append(_Feature(c, c, "value", fill=float(x[seen].mean())))
                if not seen.all():
                    out.append(_Feature(c + _MISSING, c, "missing"))
            elif pd.api.types.is_datetime64_any_dtype(s):
                raise CxroiError(f"profile column {c!r} is a date; give a number or a category")
            else:
                counts = s.dropna().astype(str).value_counts()
                kept = counts[counts >= self.min_level_n].index[: self.max_levels].tolist()
                self.levels_[c] = kept
                # the most frequent level is the reference when the others cover every row
                first = 1 if counts[kept].sum() == counts.sum() else 0
                out += [
                    _Feature(f"{c}={v}", c, "level", code=i)
                    for i, v in enumerate(kept)
                    if i >= first
                ]
        return out

    # -- the design --------------------------------------------------------------------------
    def _raw(self, profile: pd.DataFrame) -> np.ndarray:
        """The unstandardised design of ``profile`` (rows × features)."""
        x = np.empty((len(profile), len(self.features_)))
        cache: dict[str, np.ndarray] = {}
        for j, f in enumerate(self.features_):
            if f.column not in cache:
                s = profile[f.column]
                if f.kind == "level":
                    cache[f.column] = pd.Categorical(
                        s.astype("string").to_numpy(dtype=object, na_value=None),
                        categories=self.levels_[f.column],
                    ).codes
                else:
                    cache[f.column] = _value(s, f.column)
            v = cache[f.column]
            if f.kind == "value":
                x[:, j] = np.where(np.isnan(v), f.fill, v)
            elif f.kind == "missing":
                x[:, j] = np.isnan(v)
            else:
                x[:, j] = v == f.code
        return x

    def _blocks(self, profile: pd.DataFrame):
        for start in range(0, len(profile), self.chunk_rows):
            part = profile.iloc[start : start + self.chunk_rows]
            yield start, (self._raw(part) - self.means_) / self.scales_

    def decision_function(self, profile: pd.DataFrame) -> np.ndarray:
        """The logit of each row's churn probability."""
        self._check_fitted()
        out = np.empty(len(profile))
        for start, z in self._blocks(profile):
            out[start : start + len(z)] = self.intercept_ + z @ self.coef_
        return out

    def predict_proba(self, profile: pd.DataFrame) -> np.ndarray:
        """Each row's probability of churning within the horizon (a 1-D array)."""
        return expit(self.decision_function(profile))

    def predict_interval(self, profile: pd.DataFrame) -> tuple[np.ndarray, ...]:
        """``(probability, low, high)`` per row: the delta method on the logit (Laplace
        covariance), mapped through the logistic function."""
        self._check_fitted()
        eta = np.empty(len(profile))
        se = np.empty(len(profile))
        for start, z in self._blocks(profile):
            zt = np.column_stack([np.ones(len(z)), z])
            eta[start : start + len(z)] = self.intercept_ + z @ self.coef_
            se[start : start + len(z)] = np.sqrt(
                np.maximum(np.einsum("ij,jk,ik->i", zt, self.covariance_, zt), 0.0)
            )
        zq = z_value(self.level)
        return expit(eta), expit(eta - zq * se), expit(eta + zq * se)

    @property
    def groups_(self) -> list[str]:
        """The source columns whose contributions :meth:`contributions` sums, in order."""
        return list(dict.fromkeys(_GROUP.get(f.column, f.column) for f in self.features_))

    def contributions(self, profile: pd.DataFrame) -> np.ndarray:
        """How far each source column (:attr:`groups_`) moves each row's logit from that of the
        average training customer: :math:`\\sum_{j \\in g} \\beta_j z_{ij}` (rows × groups,
        float32)."""
        self._check_fitted()
        groups = self.groups_
        m = np.zeros((len(self.features_), len(groups)))
        for j, f in enumerate(self.features_):
            m[j, groups.index(_GROUP.get(f.column, f.column))] = self.coef_[j]
        out = np.empty((len(profile), len(groups)), dtype=np.float32)
        for start, z in self._blocks(profile):
            out[start : start + len(z)] = z @ m
        return out

    def _summary(self) -> pd.DataFrame:
        se = np.sqrt(np.maximum(np.diag(self.covariance_), 0.0))
        zq = z_value(self.level)
        est = self.params_.to_numpy()
        return pd.DataFrame(
            {
                "estimate": est,
                "se": se,
                "ci_low": est - zq * se,
                "ci_high": est + zq * se,
                "level": self.level,
            },
            index=pd.Index(self.params_.index, name="term"),
        )


def independent_columns(z: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Which standardised columns are not (nearly) linear combinations of earlier ones: a
    greedy pivot on the correlation matrix (a duplicate missing indicator, the last city of a
    region already in the model)."""
    g = z.T @ z / max(len(z), 1)
    keep: list[int] = []
    for j in range(g.shape[0]):
        if keep:
            gk = g[np.ix_(keep, keep)]
            b = np.linalg.solve(gk, g[keep, j])
            resid = g[j, j] - g[keep, j] @ b
        else:
            resid = g[j, j]
        if resid > tol * max(g[j, j], 1e-300):
            keep.append(j)
    out = np.zeros(g.shape[0], dtype=bool)
    out[keep] = True
    return out


def _value(s: pd.Series, column: str) -> np.ndarray:
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if column in LOG_COLUMNS:
        with np.errstate(invalid="ignore"):
            x = np.log1p(np.maximum(x, 0.0))
    return x
