"""ROI before launch: an initiative's expected perception change, valued through behaviour.

The path is A → C → B. An initiative (A) is expected to move the NPS of its target group by
:math:`\\Delta` points (C). A change of :math:`\\Delta` points is read as :math:`\\Delta`\\% of
the target customers moving one group up (each such move adds one point), split between
detractor → passive and passive → promoter in proportion to the group's current detractor and
passive shares. A customer in group :math:`g` has annual churn :math:`c_g` and annual margin
:math:`m_g` (spend less cost to serve), from the value of perception
(:func:`cxroi.models.perception.group_draws`), so in month :math:`t` after launch they bring

.. math::

    v_g(t) = \\frac{m_g}{12}\\, s_g^{\\,t}, \\qquad s_g = (1 - c_g)^{1/12}

(the monthly survival of a constant hazard). A move :math:`a \\to b` is worth
:math:`v_b(t) - v_a(t)` in month :math:`t`, and the initiative's incremental value is

.. math::

    B(t) = N \\sum_{a \\to b} f_{a \\to b}\\,\\big(v_b(t) - v_a(t)\\big),

with :math:`N` active target customers and :math:`f` the share making each move. Benefits and
costs (the one-off cost at launch, the running cost every month) are discounted monthly at the
workspace rate: NPV :math:`= \\sum_t B(t) d^t - (C_0 + C_m \\sum_t d^t)`, ROI = NPV / cost, and
the payback month is the first in which cumulative discounted benefit covers cumulative
discounted cost.

Monte Carlo: each draw takes one bootstrap replicate of every group's churn and margin (and,
when the expected change is given with a standard deviation, a normal draw of it), so the NPV
band carries the estimates' uncertainty. Assumptions, stated with every result: moved
customers stay in their new group for the horizon; the target group is the customers active
at launch (none join); the effect is immediate and constant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cxroi.errors import CxroiError, param
from cxroi.metrics.money import period_discount_rate
from cxroi.metrics.nps import GROUPS

__all__ = ["ROIPaths", "followup_value", "move_shares", "realised_paths", "roi_paths"]

MOVES = (("detractor", "passive"), ("passive", "promoter"))


def move_shares(shares: Mapping[str, float], delta_points: np.ndarray) -> dict[str, np.ndarray]:
    """Share of the target customers making each one-step move for a change of Δ NPS points.

    >>> f = move_shares({"detractor": 0.2, "passive": 0.3}, 5.0)
    >>> {k: round(float(v), 4) for k, v in f.items()}
    {'detractor->passive': 0.02, 'passive->promoter': 0.03}
    """
    d, p = float(shares.get("detractor", 0.0)), float(shares.get("passive", 0.0))
    below = d + p
    delta = np.asarray(delta_points, dtype=float)
    if below <= 0:
        raise CxroiError("the target group has no detractors or passives to move up")
    if np.nanmax(np.abs(delta)) > 100 * below:
        raise CxroiError(
            f"an NPS change of {float(np.nanmax(delta)):g} points needs more than the "
            f"{100 * below:.0f}% of the target group below promoter to move up"
        )
    moved = delta / 100
    return {"detractor->passive": moved * d / below, "passive->promoter": moved * p / below}


@dataclass(frozen=True)
class ROIPaths:
    """Monte Carlo paths of an initiative's value (row 0: the point estimate, no draw).

    ``benefit`` and ``net`` are ``(draws, months)``: the discounted incremental value of each
    month, and the cumulative discounted value less cumulative discounted cost.
    """

    benefit: np.ndarray
    net: np.ndarray
    pv_benefit: np.ndarray
    pv_cost: float
    npv: np.ndarray
    roi: np.ndarray
    payback_month: np.ndarray  # nan: not within the horizon


def _paths(benefit: np.ndarray, d: np.ndarray, cost: float, running_cost: float) -> ROIPaths:
    """NPV, ROI and payback of discounted monthly ``benefit`` against the costs."""
    cost_path = cost + running_cost * np.cumsum(d)
    net = np.cumsum(benefit, axis=1) - cost_path[None, :]
    pv_benefit = benefit.sum(axis=1)
    pv_cost = float(cost_path[-1])
    npv = pv_benefit - pv_cost
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = npv / pv_cost if pv_cost > 0 else np.full_like(npv, np.nan)
    paid = net >= 0
    payback = np.where(paid.any(axis=1), paid.argmax(axis=1) + 1.0, np.nan)
    return ROIPaths(benefit, net, pv_benefit, pv_cost, npv, roi, payback)


def roi_paths(
    *,
    customers: int,
    shares: Mapping[str, float],
    churn: Mapping[str, np.ndarray],
    margin: Mapping[str, np.ndarray],
    delta_points: np.ndarray,
    cost: float,
    running_cost: float = 0.0,
    horizon_months: int = 36,
    discount_rate: float = 0.10,
) -> ROIPaths:
    """Value an expected NPS change over a horizon (see the module docstring).

    Parameters
    ----------
    customers
        Active customers in the target group at launch (:math:`N`).
    shares
        The target group's share of detractors and passives (of those with an NPS group).
    churn, margin
        Per NPS group: annual churn probability and annual margin per customer, arrays of the
        same length (one per draw; element 0 the point estimate).
    delta_points
        Expected NPS change in points, a scalar or one per draw.
    cost, running_cost
        One-off cost at launch and running cost per month.
    horizon_months
        Months valued.
    discount_rate
        Annual discount rate, applied monthly.
    """
    if horizon_months < 1:
        raise CxroiError(f"{param('horizon_months')} must be at least 1, got {horizon_months}")
    if customers < 1:
        raise CxroiError("the target group has no active customers")
    missing = [g for g in GROUPS if g not in churn or g not in margin]
    if missing:
        raise CxroiError(f"no behaviour estimate for NPS group(s) {', '.join(missing)}")
    n_draws = len(churn[GROUPS[0]])
    delta = np.broadcast_to(np.asarray(delta_points, dtype=float), (n_draws,))
    f = move_shares(shares, delta)
    t = np.arange(1, horizon_months + 1, dtype=float)
    d = 1 / (1 + period_discount_rate(discount_rate, "month")) ** t

    def monthly(g: str) -> np.ndarray:
        c = np.clip(np.asarray(churn[g], dtype=float), 0.0, 1.0)
        s = (1 - c) ** (1 / 12)
        return (np.asarray(margin[g], dtype=float) / 12)[:, None] * s[:, None] ** t[None, :]

    v = {g: monthly(g) for g in GROUPS}
    gain = sum(f[f"{a}->{b}"][:, None] * (v[b] - v[a]) for a, b in MOVES)
    benefit = customers * gain * d[None, :]
    return _paths(benefit, d, cost, running_cost)


def realised_paths(
    *,
    customers: int,
    churn_monthly: float,
    margin_monthly: float,
    hazard_ratio: np.ndarray,
    spend_effect: np.ndarray,
    cost: float,
    running_cost: float = 0.0,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
) -> ROIPaths:
    """Value measured behaviour effects over a horizon: ROI after launch.

    The target group's ``customers`` (active at launch) churn at ``churn_monthly`` and bring
    ``margin_monthly`` per customer-month, as observed since launch. Without the initiative
    they would churn at ``churn_monthly / HR`` and bring ``margin_monthly - spend_effect``, so
    month :math:`t` gains :math:`N\\,[m_1 (1-h_1)^t - m_0 (1-h_0)^t]`, discounted monthly;
    costs as in :func:`roi_paths`. ``hazard_ratio`` and ``spend_effect`` are one value per draw
    (element 0 the point estimate).

    >>> p = realised_paths(customers=100, churn_monthly=0.01, margin_monthly=10.0,
    ...                    hazard_ratio=np.array([0.5]), spend_effect=np.array([0.0]),
    ...                    cost=0.0, horizon_months=1, discount_rate=0.0)
    >>> round(float(p.pv_benefit[0]), 6)  # 100 x 10 x (0.99 - 0.98)
    10.0
    """
    if horizon_months < 1:
        raise CxroiError(f"{param('horizon_months')} must be at least 1, got {horizon_months}")
    if customers < 1:
        raise CxroiError("the target group had no active customers at launch")
    hr = np.asarray(hazard_ratio, dtype=float)
    ds = np.broadcast_to(np.asarray(spend_effect, dtype=float), hr.shape)
    t = np.arange(1, horizon_months + 1, dtype=float)
    d = 1 / (1 + period_discount_rate(discount_rate, "month")) ** t
    h1 = float(np.clip(churn_monthly, 0.0, 1.0))
    h0 = np.clip(h1 / np.where(hr > 0, hr, np.nan), 0.0, 1.0)
    with_it = margin_monthly * (1 - h1) ** t[None, :]
    without = (margin_monthly - ds)[:, None] * (1 - h0)[:, None] ** t[None, :]
    benefit = customers * (with_it - without) * d[None, :]
    return _paths(benefit, d, cost, running_cost)


def followup_value(
    *,
    churn_monthly: float,
    hazard_ratio: np.ndarray,
    margin_monthly: float,
    window_months: int,
    horizon_months: int = 36,
    discount_rate: float = 0.10,
) -> np.ndarray:
    """Customer value a follow-up adds to one detractor case (closed-loop ROI).

    Followed-up customers churn at ``churn_monthly`` for ``window_months`` after the case;
    without the follow-up they would churn at ``churn_monthly / HR``. After the window both
    carry on at ``churn_monthly``, so the gap in survival persists. The value is the margin
    of the extra survival, discounted monthly over ``horizon_months``:

    .. math:: \\Delta = m \\sum_{t=1}^{H} d^t \\big[S_1(t) - S_0(t)\\big],\\quad
        S_k(t) = (1-h_k)^{\\min(t,W)}\\,(1-h_1)^{\\max(t-W,0)}

    One value per hazard-ratio draw.

    >>> v = followup_value(churn_monthly=0.02, hazard_ratio=np.array([0.5]),
    ...                    margin_monthly=10.0, window_months=1, horizon_months=1,
    ...                    discount_rate=0.0)
    >>> round(float(v[0]), 6)  # 10 x (0.98 - 0.96)
    0.2
    """
    if window_months < 1 or horizon_months < 1:
        raise CxroiError("the follow-up window and the horizon must be at least one month")
    hr = np.asarray(hazard_ratio, dtype=float)
    h1 = float(np.clip(churn_monthly, 0.0, 1.0))
    h0 = np.clip(h1 / np.where(hr > 0, hr, np.nan), 0.0, 1.0)
    t = np.arange(1, horizon_months + 1, dtype=float)
    d = 1 / (1 + period_discount_rate(discount_rate, "month")) ** t
    inside, after = np.minimum(t, window_months), np.maximum(t - window_months, 0)
    s1 = (1 - h1) ** inside * (1 - h1) ** after
    s0 = (1 - h0)[:, None] ** inside[None, :] * (1 - h1) ** after[None, :]
    return margin_monthly * ((s1[None, :] - s0) * d[None, :]).sum(axis=1)
