"""The C -> B link: what promoters, passives and detractors do and are worth.

:func:`value_of_perception` reads the per-customer ledger (:mod:`cxroi.models.ledger`) and
gives churn, spend, purchase frequency, cost to serve, referrals and lifetime value per NPS
group (per segment), with bootstrap intervals, and the money value of moving one detractor to
passive and one passive to promoter. The adjusted effects are in :mod:`cxroi.models.effects`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError, param
from cxroi.metrics.money import churn_from_exposure, retention_clv
from cxroi.metrics.nps import GROUPS
from cxroi.results import small_n_flag

__all__ = ["GROUPS", "METRICS", "MOVES", "group_draws", "group_metrics", "value_of_perception"]

MOVES = (("detractor", "passive"), ("passive", "promoter"))
"""The one-step moves up the NPS groups that are valued."""

METRICS = (
    "churn_rate",
    "spend_per_year",
    "purchases_per_year",
    "support_cost_per_year",
    "clv",
    "referrals_per_year",
)
"""What :func:`value_of_perception` reports per group (referrals only with a referrals column)."""

_NEEDED = ["nps_group", "churned", "exposure_years", "spend", "purchases", "support_cost"]


def group_metrics(sums: np.ndarray, has_ref: bool, discount_rate: float) -> dict[str, np.ndarray]:
    """Metrics from summed columns (events, exposure, spend, purchases, cost[, referrals]).

    .. math::

        \\text{churn} = 1 - e^{-E/T},\\quad m = (S - C)/T,\\quad r = 1 - \\text{churn},\\quad
        \\text{CLV} = \\frac{m\\,r}{1 + i - r}

    (the CLV by :func:`cxroi.metrics.money.retention_clv`).
    """
    e, t, s, p, c = (sums[..., k] for k in range(5))
    # a bootstrap replicate that draws none of a small group's customers has no exposure: its
    # metrics are missing (and left out of the percentiles)
    with np.errstate(divide="ignore", invalid="ignore"):
        churn = churn_from_exposure(e, t)[0]
        margin = (s - c) / t
        out = {
            "churn_rate": churn,
            "spend_per_year": s / t,
            "purchases_per_year": p / t,
            "support_cost_per_year": c / t,
            "clv": retention_clv(margin, 1 - churn, discount_rate),
        }
        if has_ref:
            out["referrals_per_year"] = sums[..., 5] / t
    return out


def value_of_perception(
    ledger: pd.DataFrame,
    *,
    by: str | None = None,
    discount_rate: float = 0.10,
    min_n: int = 30,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Behaviour and value of promoters, passives and detractors, and of moving one up.

    Rates are per year of exposure (sums over customers divided by summed exposure), so
    customers observed briefly weigh little. Lifetime value is the retention CLV of the
    group's annual margin :math:`m` (spend less cost to serve) and annual retention :math:`r`
    (see :func:`group_metrics`). Intervals are percentile intervals of a bootstrap that
    resamples customers within each group (Poisson weights).

    Parameters
    ----------
    ledger
        One row per customer (:func:`cxroi.models.ledger.ledger_frame`).
    by
        Optional segment column (plan, region, ...): one block of rows per segment.
    discount_rate
        Annual discount rate of the lifetime value.
    min_n
        Groups with fewer customers are flagged ``small-n``.
    n_boot
        Bootstrap replicates (0: no intervals).
    level
        Interval level.
    random_state
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        Long format: [``by``], ``nps_group``, ``metric``, ``value``, ``ci_low``, ``ci_high``,
        ``level``, ``n``, ``flag``. Rows with ``nps_group`` ``detractor->passive`` and
        ``passive->promoter`` give the change in each metric when one customer moves up
        (``clv`` is the money value of the move).
    """
    missing = [c for c in _NEEDED if c not in ledger.columns]
    if missing:
        raise CxroiError(f"the ledger lacks column(s): {', '.join(missing)}")
    if by is not None and by not in ledger.columns:
        raise CxroiError(
            f"{param('by')} {by!r} is not a column of the ledger; available: "
            f"{', '.join(map(str, ledger.columns))}"
        )
    has_ref = "referrals" in ledger.columns
    cols = ["churned", "exposure_years", "spend", "purchases", "support_cost"]
    cols += ["referrals"] if has_ref else []
    rated = ledger[ledger["nps_group"].notna()]
    if rated.empty:
        raise CxroiError("no customer has an NPS response; value of perception needs NPS")
    rng = np.random.default_rng(random_state)
    alpha = (1 - level) / 2

    def interval(v: np.ndarray) -> tuple[float, float]:
        if n_boot <= 0:
            return np.nan, np.nan
        lo, hi = np.nanquantile(v[1:], [alpha, 1 - alpha])
        return float(lo), float(hi)

    rows: list[dict[str, Any]] = []
    segments = [(None, rated)] if by is None else list(rated.groupby(by, sort=True))
    for seg, part in segments:
        reps: dict[str, dict[str, np.ndarray]] = {}
        counts = part["nps_group"].value_counts()
        for g, (n, m) in _replicates(part, cols, has_ref, discount_rate, rng, n_boot).items():
            reps[g] = m
            for metric, v in m.items():
                rows.append(_row(by, seg, g, metric, v[0], *interval(v), level, n, min_n))
        for a, b in MOVES:
            if a not in reps or b not in reps:
                continue
            na, nb = int(counts.get(a, 0)), int(counts.get(b, 0))
            for metric in reps[a]:
                d = reps[b][metric] - reps[a][metric]
                row = _row(by, seg, f"{a}->{b}", metric, d[0], *interval(d), level, na + nb, 0)
                row["flag"] = small_n_flag(min(na, nb), min_n)
                rows.append(row)
    return pd.DataFrame(rows)


def _replicates(part, cols, has_ref, discount_rate, rng, n_boot):
    """Per NPS group: (customers, metrics as arrays: the estimate, then ``n_boot`` Poisson
    bootstrap replicates over the group's customers)."""
    out = {}
    for g in GROUPS:
        x = np.nan_to_num(part.loc[part["nps_group"] == g, cols].to_numpy(float))
        n = len(x)
        if n == 0:
            continue
        w = np.vstack([np.ones(n), rng.poisson(1.0, size=(max(n_boot, 0), n))])
        out[g] = (n, group_metrics(w @ x, has_ref, discount_rate))
    return out


def group_draws(
    ledger: pd.DataFrame, *, n_boot: int = 1000, discount_rate: float = 0.10, random_state: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Churn, spend and cost to serve per NPS group: the estimate and bootstrap replicates.

    The same computation as :func:`value_of_perception` (one estimate, then ``n_boot``
    replicates that resample the group's customers), returned whole so that a Monte Carlo can
    carry the estimates' uncertainty. Element 0 of every array is the point estimate.
    """
    missing = [c for c in _NEEDED if c not in ledger.columns]
    if missing:
        raise CxroiError(f"the ledger lacks column(s): {', '.join(missing)}")
    rated = ledger[ledger["nps_group"].notna()]
    if rated.empty:
        raise CxroiError("no customer has an NPS response; the value of perception needs NPS")
    cols = ["churned", "exposure_years", "spend", "purchases", "support_cost"]
    rng = np.random.default_rng(random_state)
    reps = _replicates(rated, cols, False, discount_rate, rng, n_boot)
    return {g: m for g, (_, m) in reps.items()}


def _row(by, seg, group, metric, value, lo, hi, level, n, min_n) -> dict[str, Any]:
    row: dict[str, Any] = {} if by is None else {by: seg}
    row.update(
        nps_group=group,
        metric=metric,
        value=float(value),
        ci_low=lo,
        ci_high=hi,
        level=level,
        n=int(n),
        flag=small_n_flag(n, min_n),
    )
    return row
