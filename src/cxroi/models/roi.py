r"""ROI of an initiative: what it should return before launch, and what it returned after.

**Before launch** (``roi simulate``) the path is A → C → B. An initiative (A) is expected to
move the NPS of the customers it reaches by :math:`\Delta` points (C). A change of
:math:`\Delta` points is read as :math:`\Delta`\% of them moving one group up (each move adds
one point), split between detractor → passive and passive → promoter in proportion to their
detractor and passive shares :math:`\pi_d, \pi_p` (:func:`move_shares`), which turns the
shares :math:`\pi` into :math:`\pi'`. Each NPS group :math:`g` has an adjusted churn hazard
ratio :math:`R_g` and spend-per-month multiple :math:`K_g` against promoters
(:mod:`cxroi.models.effects`; :math:`R = K = 1` for promoters), so the group's churn hazard
and spend move by (:func:`mix_effects`)

.. math::

    \mathrm{HR} = \frac{\sum_g \pi'_g R_g}{\sum_g \pi_g R_g}, \qquad
    \Delta s = s_0 \Big(\frac{\sum_g \pi'_g K_g}{\sum_g \pi_g K_g} - 1\Big),

from the group's own monthly churn :math:`h_0`, margin :math:`m_0` (spend less cost to serve)
and spend :math:`s_0` before launch. With the initiative the :math:`N` customers churn at
:math:`h_1 = h_0\,\mathrm{HR}` and bring :math:`m_1 = m_0 + \Delta s` a month alive, so month
:math:`t` gains

.. math:: B(t) = N\,d^t\,\big[m_1 (1-h_1)^t - m_0 (1-h_0)^t\big],

discounted monthly at the workspace rate (:math:`d = (1+i)^{-1}`); costs are the one-off cost
at launch and the running cost of every month, discounted alike. NPV = :math:`\sum_t B(t)` −
cost, ROI = NPV / cost, and the payback month is the first in which the cumulative discounted
benefit covers the cumulative discounted cost. The cost to serve is not moved: the same money
that ``roi measure`` counts (:func:`realised_paths` is the same formula).

**The predictive band.** The band is for what a measurement of the :math:`N` customers over
the horizon will show, not only for the expected value. Each draw takes the estimates'
uncertainty (bootstrap of the group's own churn, margin, spend and NPS shares; the adjusted
effects on their log scale; the expected change if given with a standard deviation) *and* the
outcome noise of a measurement (:func:`measurement_noise`): after :math:`t` months the
measured spend effect and log hazard ratio differ from the true ones by normal errors of
variance

.. math::

    \sigma^2_s(t) = \sigma^2_w \Big(\frac{1}{K_t} + \overline{1/J}\Big)
        \Big(\frac{1}{N} + \frac{1}{N_c}\Big), \qquad
    \sigma^2_{\log HR}(t) = \Big(\frac{1}{D_t} + \frac{1}{D_0}\Big)\Big(1 + \frac{N}{N_c}\Big),

where :math:`\sigma^2_w` is the within-customer variance of monthly spend before launch,
:math:`K_t = \sum_{u \le t} (1-h_1)^u` the expected months alive of a customer in the first
:math:`t` months, :math:`\overline{1/J}` the customers' mean inverse number of months before
launch, :math:`D_t = N(1 - (1-h_1)^t)` the churns expected in :math:`t` months and
:math:`D_0` those seen before launch, and :math:`N_c` the comparison customers (the holdout or
the untargeted). That is a difference of each customer's mean month after and before launch
with independent months, and a Poisson ratio of churn rates, for the treated and (alike, pro
rata) the comparison customers; a randomised holdout compares the months after launch only
(no :math:`1/D_0`). The measured value of draw :math:`b` at month :math:`t` is the same
benefit with the measured effects (:math:`m_1` and :math:`h_1` as observed, the counterfactual
from the measured effects, as :func:`realised_paths`). Row 0 carries no draw and no noise: the
point estimate is the value of the expected change at the estimates.

The noise term is that of an ideal measurement (every customer against their own months
before launch, independent months, no trend to estimate); a measurement that also fits
trends (``roi measure`` without a holdout) is noisier, and ``roi measure`` compares its
realised value with the simulation using its own sampling error (see its module).

Assumptions, stated with every result: the moved customers stay in their new group for the
horizon; the customers are those reached and active at launch (none join); the effect is
immediate and constant: the hazard ratio, and the spend effect as a multiple of spend. With a
spend trend :math:`c(t)` (customers stop buying, so a surviving customer's spend falls month by
month; ``roi simulate`` predicts it from each customer's purchases before launch) spend
:math:`s_0` becomes :math:`s_0 c(t)` in month :math:`t`, the margin
:math:`m_0 + s_0 (c(t) - 1)` and the spend effect :math:`\Delta s\, c(t)`.

**After launch** (``roi measure``): :func:`realised_paths` values the measured hazard ratio
and spend effect; :func:`followup_value` values a detractor follow-up (closed loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cxroi.errors import CxroiError, param
from cxroi.metrics.money import period_discount_rate
from cxroi.metrics.nps import GROUPS

__all__ = [
    "MeasurementNoise",
    "ROIPaths",
    "clip_to_room",
    "followup_value",
    "measurement_noise",
    "mix_effects",
    "move_shares",
    "realised_paths",
    "simulated_paths",
]

MOVES = (("detractor", "passive"), ("passive", "promoter"))


def _below(shares: Mapping[str, np.ndarray | float]) -> np.ndarray:
    """Share of the customers below promoter (detractors and passives)."""
    d = np.asarray(shares.get("detractor", 0.0), dtype=float)
    p = np.asarray(shares.get("passive", 0.0), dtype=float)
    return d + p


def move_shares(shares: Mapping[str, float], delta_points: np.ndarray) -> dict[str, np.ndarray]:
    """Share of the target customers making each one-step move for a change of Δ NPS points.

    A change needs room: ``|Δ|`` at most 100 × the share below promoter (else an error; see
    :func:`clip_to_room` for Monte Carlo draws).

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


def clip_to_room(
    shares: Mapping[str, np.ndarray | float], delta_points: np.ndarray
) -> tuple[np.ndarray, int]:
    r"""Monte Carlo draws of an NPS change, clipped to the room to move (and how many were).

    A draw cannot move more customers up than there are below promoter (nor, for a fall,
    more down): draw :math:`b` is clipped to :math:`\pm 100 \times (\pi_d + \pi_p)` of its own
    shares.

    >>> clip_to_room({"detractor": 0.1, "passive": np.array([0.1, 0.3])}, np.array([25.0, 25.0]))
    (array([20., 25.]), 1)
    """
    delta = np.asarray(delta_points, dtype=float)
    room = 100 * _below(shares)
    clipped = np.clip(delta, -room, room)
    return clipped, int(np.sum(np.abs(clipped - delta) > 0))


def mix_effects(
    shares: Mapping[str, np.ndarray | float],
    delta_points: np.ndarray,
    hazard_ratio: Mapping[str, np.ndarray | float],
    spend_multiple: Mapping[str, np.ndarray | float],
) -> tuple[np.ndarray, np.ndarray]:
    r"""Churn hazard ratio and spend ratio of a group when Δ% of it moves one NPS group up.

    ``shares`` are the group's NPS shares (of those with one), ``hazard_ratio`` and
    ``spend_multiple`` each NPS group's against promoters (promoters are 1); all may be one
    value per draw. Returns :math:`\mathrm{HR}` and :math:`\sum \pi' K / \sum \pi K` (see the
    module docstring); the spend effect is the group's spend times the ratio less one.

    +10 points moves 4% detractor -> passive and 6% passive -> promoter: shares .56/.28/.16,
    hazard 1.6 / 1.7 of what it was, spend .74 / .70:

    >>> hr, k = mix_effects({"promoter": 0.5, "passive": 0.3, "detractor": 0.2}, 10.0,
    ...                     {"passive": 2.0, "detractor": 3.0}, {"passive": 0.5, "detractor": 0.25})
    >>> round(float(hr), 6), round(float(k), 6)
    (0.941176, 1.057143)
    """
    pi = {g: np.asarray(shares.get(g, 0.0), dtype=float) for g in GROUPS}
    below = pi["detractor"] + pi["passive"]
    if np.any(below <= 0):
        raise CxroiError("the target group has no detractors or passives to move up")
    moved = np.asarray(delta_points, dtype=float) / 100
    up_d, up_p = moved * pi["detractor"] / below, moved * pi["passive"] / below
    after = {
        "detractor": pi["detractor"] - up_d,
        "passive": pi["passive"] + up_d - up_p,
        "promoter": pi["promoter"] + up_p,
    }

    def ratio(effect: Mapping[str, np.ndarray | float]) -> np.ndarray:
        e = {g: np.asarray(effect.get(g, 1.0), dtype=float) for g in GROUPS}
        return sum(after[g] * e[g] for g in GROUPS) / sum(pi[g] * e[g] for g in GROUPS)

    return np.asarray(ratio(hazard_ratio)), np.asarray(ratio(spend_multiple))


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


def _discount(horizon_months: int, discount_rate: float) -> tuple[np.ndarray, np.ndarray]:
    if horizon_months < 1:
        raise CxroiError(f"{param('horizon_months')} must be at least 1, got {horizon_months}")
    t = np.arange(1, horizon_months + 1, dtype=float)
    return t, 1 / (1 + period_discount_rate(discount_rate, "month")) ** t


def _benefit(
    customers: int, h1: np.ndarray, m1: np.ndarray, hr: np.ndarray, ds: np.ndarray,
    t: np.ndarray, d: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """``(draws, months)`` discounted value of ``customers`` who churn at ``h1`` and bring
    ``m1`` a month alive, against the same customers at ``h1 / hr`` and ``m1 - ds``; ``m1``
    and ``ds`` are one value per draw or ``(draws, months)`` (one per draw and month)."""
    h1 = np.clip(h1, 0.0, 1.0)[:, None]
    h0 = np.clip(h1 / np.where(hr > 0, hr, np.nan)[:, None], 0.0, 1.0)
    m1 = m1 if m1.ndim == 2 else m1[:, None]
    ds = ds if ds.ndim == 2 else ds[:, None]
    with_it = m1 * (1 - h1) ** t[None, :]
    without = (m1 - ds) * (1 - h0) ** t[None, :]
    return customers * (with_it - without) * d[None, :]


@dataclass(frozen=True)
class MeasurementNoise:
    """Standard deviations of a measurement's errors after 1, 2, … months (one per month).

    ``spend`` is that of the spend effect per customer-month, ``log_hazard_ratio`` that of the
    churn hazard ratio on the log scale (see :func:`measurement_noise`).
    """

    spend: np.ndarray
    log_hazard_ratio: np.ndarray


def measurement_noise(
    *,
    customers: int,
    comparison: int | None,
    within_var: float,
    inverse_months_before: float,
    churn_monthly: float,
    churns_before: float,
    horizon_months: int,
    randomised: bool = False,
) -> MeasurementNoise:
    r"""The outcome noise of measuring an initiative on ``customers`` over the horizon.

    .. math::

        \sigma^2_s(t) = \sigma^2_w \Big(\frac{1}{K_t} + \overline{1/J}\Big)
            \Big(\frac{1}{N} + \frac{1}{N_c}\Big), \quad
        \sigma^2_{\log HR}(t) = \Big(\frac{1}{D_t} + \frac{1}{D_0}\Big)
            \Big(1 + \frac{N}{N_c}\Big)

    with :math:`K_t = \sum_{u=1}^{t} (1-h)^u`, :math:`D_t = N (1 - (1-h)^t)` and :math:`D_0`
    the churns before launch (half a churn when none was seen); a ``randomised`` holdout drops
    :math:`1/D_0` (its comparison is the months after launch only). ``comparison`` ``None``:
    no comparison noise (:math:`N_c = \infty`).

    Parameters
    ----------
    customers
        Customers measured (:math:`N`, active at launch).
    comparison
        Comparison customers (:math:`N_c`), taken to be alike.
    within_var
        Variance of a customer's monthly spend around their own mean (:math:`\sigma^2_w`).
    inverse_months_before
        Mean over the customers of 1 / their months observed before launch.
    churn_monthly
        Monthly churn with the initiative (:math:`h`).
    churns_before
        Churns of the measured group before launch (:math:`D_0`).
    horizon_months
        Months after launch (one standard deviation per month).
    randomised
        The comparison is a randomised holdout.

    Examples
    --------
    >>> n = measurement_noise(customers=100, comparison=None, within_var=400.0,
    ...     inverse_months_before=0.1, churn_monthly=0.0, churns_before=4, horizon_months=10)
    >>> round(float(n.spend[-1] ** 2), 6)  # 400 x (1/10 + 0.1) / 100
    0.8
    """
    if customers < 1:
        raise CxroiError("a measurement needs customers")
    t = np.arange(1, horizon_months + 1, dtype=float)
    h = float(np.clip(churn_monthly, 0.0, 1.0))
    alive = np.cumsum((1 - h) ** t)
    pair = 1 / customers + (0.0 if comparison is None else 1 / max(comparison, 1))
    spend_var = within_var * (1 / alive + inverse_months_before) * pair
    churns = customers * (1 - (1 - h) ** t)
    with np.errstate(divide="ignore"):
        hr_var = 1 / churns + (0.0 if randomised else 1 / max(float(churns_before), 0.5))
    hr_var = hr_var * pair * customers
    return MeasurementNoise(np.sqrt(spend_var), np.sqrt(hr_var))


def simulated_paths(
    *,
    customers: int,
    churn_monthly: np.ndarray,
    margin_monthly: np.ndarray,
    hazard_ratio: np.ndarray,
    spend_effect: np.ndarray,
    cost: float,
    running_cost: float = 0.0,
    horizon_months: int = 36,
    discount_rate: float = 0.10,
    noise: MeasurementNoise | None = None,
    random_state: int = 0,
    spend_monthly: np.ndarray | None = None,
    trend: np.ndarray | None = None,
) -> ROIPaths:
    """Value an initiative's expected effects over a horizon: ROI before launch.

    ``churn_monthly`` (:math:`h_0`) and ``margin_monthly`` (:math:`m_0`) are the customers'
    before launch, ``hazard_ratio`` and ``spend_effect`` what the initiative does to them;
    each one value per draw (element 0 the point estimate). With ``noise``, every draw from 1
    on is what a measurement after :math:`t` months would show (the module docstring): its
    effects shifted by ``noise`` times one standard normal draw for spend and one for churn,
    the same for every month of the draw.

    With ``trend`` (:math:`c(t)`, ``(draws, months)``, or one row for every draw) and
    ``spend_monthly`` (:math:`s_0`, one per draw) the customers' spend follows the trend: month
    :math:`t` brings :math:`m_0 + s_0 (c(t) - 1)` without the initiative and the spend effect
    is :math:`\\Delta s \\, c(t)` (a multiple of spend moves with it); the cost to serve stays.

    Examples
    --------
    >>> p = simulated_paths(customers=100, churn_monthly=np.array([0.0]),
    ...     margin_monthly=np.array([10.0]), hazard_ratio=np.array([1.0]),
    ...     spend_effect=np.array([2.0]), cost=150.0, horizon_months=1, discount_rate=0.0)
    >>> float(p.npv[0])  # 100 x 2 - 150
    50.0
    """
    t, d = _discount(horizon_months, discount_rate)
    if customers < 1:
        raise CxroiError("the target group has no active customers")
    hr = np.asarray(hazard_ratio, dtype=float)
    shape = hr.shape
    h0 = np.broadcast_to(np.asarray(churn_monthly, dtype=float), shape)
    m0 = np.broadcast_to(np.asarray(margin_monthly, dtype=float), shape)
    ds = np.broadcast_to(np.asarray(spend_effect, dtype=float), shape)
    if trend is not None:
        if spend_monthly is None:
            raise CxroiError("a spend trend needs the spend it moves (spend_monthly)")
        c = np.broadcast_to(np.asarray(trend, dtype=float), (len(hr), len(t)))
        s0 = np.broadcast_to(np.asarray(spend_monthly, dtype=float), shape)[:, None]
        m0 = m0[:, None] + s0 * (c - 1)
        ds = ds[:, None] * c
    h1, m1 = h0 * hr, m0 + ds
    if noise is None or len(hr) < 2:
        return _paths(_benefit(customers, h1, m1, hr, ds, t, d), d, cost, running_cost)
    rng = np.random.default_rng(random_state)
    z_s = np.r_[0.0, rng.standard_normal(len(hr) - 1)]
    z_h = np.r_[0.0, rng.standard_normal(len(hr) - 1)]
    cum = np.empty((len(hr), len(t)))
    for k in range(len(t)):  # a measurement after k + 1 months: its own noise
        hr_k = hr * np.exp(z_h * noise.log_hazard_ratio[k])
        ds_k = (ds.T + z_s * noise.spend[k]).T  # one value per draw, or per draw and month
        m1_k, ds_k = (m1[:, : k + 1], ds_k[:, : k + 1]) if m1.ndim == 2 else (m1, ds_k)
        cum[:, k] = _benefit(customers, h1, m1_k, hr_k, ds_k, t[: k + 1], d[: k + 1]).sum(axis=1)
    benefit = np.diff(cum, axis=1, prepend=0.0)
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
    costs as in :func:`simulated_paths`. ``hazard_ratio`` and ``spend_effect`` are one value per
    draw (element 0 the point estimate).

    >>> p = realised_paths(customers=100, churn_monthly=0.01, margin_monthly=10.0,
    ...                    hazard_ratio=np.array([0.5]), spend_effect=np.array([0.0]),
    ...                    cost=0.0, horizon_months=1, discount_rate=0.0)
    >>> round(float(p.pv_benefit[0]), 6)  # 100 x 10 x (0.99 - 0.98)
    10.0
    """
    t, d = _discount(horizon_months, discount_rate)
    if customers < 1:
        raise CxroiError("the target group had no active customers at launch")
    hr = np.asarray(hazard_ratio, dtype=float)
    ds = np.broadcast_to(np.asarray(spend_effect, dtype=float), hr.shape)
    h1 = np.full(hr.shape, float(churn_monthly))
    m1 = np.full(hr.shape, float(margin_monthly))
    return _paths(_benefit(customers, h1, m1, hr, ds, t, d), d, cost, running_cost)


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
