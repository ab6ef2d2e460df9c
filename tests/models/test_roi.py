"""ROI before launch against hand arithmetic: the closed form with no uncertainty, the outcome
noise of a measurement, and the Monte Carlo against its closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cxroi.errors import CxroiError
from cxroi.models.roi import (
    MeasurementNoise,
    clip_to_room,
    measurement_noise,
    mix_effects,
    move_shares,
    simulated_paths,
)

SHARES = {"promoter": 0.5, "passive": 0.3, "detractor": 0.2}
HAZARD = {"passive": 2.0, "detractor": 3.0}
SPEND = {"passive": 0.5, "detractor": 0.25}


def test_no_discount_by_hand():
    # 1,000 customers churn 2% a month and bring a margin of 30 a month alive; the initiative
    # halves their hazard and adds 3 of spend a month. Month t gains
    # 1,000 x (33 x 0.99^t - 30 x 0.98^t): 3,270.00, 3,531.30, 3,784.107.
    p = simulated_paths(
        customers=1000, churn_monthly=np.array([0.02]), margin_monthly=np.array([30.0]),
        hazard_ratio=np.array([0.5]), spend_effect=np.array([3.0]), cost=5000.0,
        running_cost=100.0, horizon_months=3, discount_rate=0.0,
    )  # fmt: skip
    assert p.benefit[0] == pytest.approx([3270.0, 3531.3, 3784.107])
    assert p.pv_cost == pytest.approx(5300.0)
    assert p.npv[0] == pytest.approx(3270.0 + 3531.3 + 3784.107 - 5300.0)
    assert p.roi[0] == pytest.approx((10_585.407 - 5300.0) / 5300.0)
    # month 1: 3,270 < 5,100; month 2: 6,801.3 >= 5,200
    assert p.payback_month[0] == 2


def test_the_whole_chain_by_hand():
    """A -> C -> B with no uncertainty: +10 NPS points on shares .5/.3/.2 moves 4% detractor ->
    passive and 6% passive -> promoter (shares .56/.28/.16). With hazard ratios 2 and 3 and
    spend multiples .5 and .25 against promoters, the hazard becomes 1.6 / 1.7 of what it was
    and spend .74 / .70 of it: on 40 of spend (35 of margin) and 1.5% churn a month, over 24
    months discounted at 8% a year."""
    hr, ratio = mix_effects(SHARES, 10.0, HAZARD, SPEND)
    assert float(hr) == pytest.approx(1.6 / 1.7)
    assert float(ratio) == pytest.approx(0.74 / 0.70)
    ds = 40.0 * (0.74 / 0.70 - 1)
    p = simulated_paths(
        customers=250, churn_monthly=np.array([0.015]), margin_monthly=np.array([35.0]),
        hazard_ratio=np.atleast_1d(hr), spend_effect=np.array([ds]), cost=2000.0,
        horizon_months=24, discount_rate=0.08,
    )  # fmt: skip
    h1 = 0.015 * 1.6 / 1.7
    by_hand = [
        250 * ((35.0 + ds) * (1 - h1) ** t - 35.0 * (1 - 0.015) ** t) / 1.08 ** (t / 12)
        for t in range(1, 25)
    ]
    assert p.benefit[0] == pytest.approx(by_hand, rel=1e-12)
    assert p.npv[0] == pytest.approx(sum(by_hand) - 2000.0, rel=1e-12)
    assert p.payback_month[0] == 1 + int(np.argmax(np.cumsum(by_hand) >= 2000.0))


def test_the_spend_trend_by_hand():
    """The closed form with a spend trend, no uncertainty: 1,000 customers with spend 40 and
    margin 30 a month before launch, churning 2% a month; the initiative halves the hazard and
    adds 10% of spend (4 a month at the level before). Spend falls 10% a month from a launch
    month's level below the mean of 2 months before: c(t) = .9^(t-1) / ((1/.9 + 1/.81) / 2) =
    .9^(t-1) x .8526316 of the spend before. Month t gains
    1,000 x [(30 + 40 (c - 1) + 4 c) x .99^t - (30 + 40 (c - 1)) x .98^t]."""
    c = 0.9 ** np.arange(3) / ((1 / 0.9 + 1 / 0.81) / 2)
    p = simulated_paths(
        customers=1000, churn_monthly=np.array([0.02]), margin_monthly=np.array([30.0]),
        hazard_ratio=np.array([0.5]), spend_effect=np.array([4.0]), cost=5000.0,
        horizon_months=3, discount_rate=0.0, spend_monthly=np.array([40.0]),
        trend=c[None, :],
    )  # fmt: skip
    t = np.arange(1, 4)
    m0 = 30 + 40 * (c - 1)
    by_hand = 1000 * ((m0 + 4 * c) * 0.99**t - m0 * 0.98**t)
    assert c[0] == pytest.approx(0.8526316, rel=1e-6)
    assert p.benefit[0] == pytest.approx(by_hand, rel=1e-12)
    assert p.npv[0] == pytest.approx(by_hand.sum() - 5000.0, rel=1e-12)
    # the trend lowers the value against spend held flat
    flat = simulated_paths(
        customers=1000, churn_monthly=np.array([0.02]), margin_monthly=np.array([30.0]),
        hazard_ratio=np.array([0.5]), spend_effect=np.array([4.0]), cost=5000.0,
        horizon_months=3, discount_rate=0.0,
    )  # fmt: skip
    assert p.npv[0] < flat.npv[0]
    with pytest.raises(CxroiError, match="spend_monthly"):
        simulated_paths(
            customers=1, churn_monthly=np.array([0.1]), margin_monthly=np.array([1.0]),
            hazard_ratio=np.array([1.0]), spend_effect=np.array([0.0]), cost=1.0,
            horizon_months=3, trend=np.ones((1, 3)),
        )  # fmt: skip


def test_monte_carlo_spend_noise_with_a_trend():
    """Without churn the measured spend effect of a draw is the trended effect plus the
    measurement's error, so the NPV is normal about the point with the same sd as without a
    trend: N sigma_s(t) sum_{u<=t} d^u."""
    sd = np.array([4.0, 3.0, 2.5, 2.0])
    noise = MeasurementNoise(spend=sd, log_hazard_ratio=np.zeros(4))
    draws = 20_000
    trend = np.broadcast_to(0.95 ** np.arange(4), (draws + 1, 4))
    p = simulated_paths(
        customers=100, churn_monthly=np.zeros(draws + 1), margin_monthly=np.full(draws + 1, 20.0),
        hazard_ratio=np.full(draws + 1, 0.9), spend_effect=np.full(draws + 1, 1.5),
        cost=300.0, horizon_months=4, discount_rate=0.12, noise=noise, random_state=3,
        spend_monthly=np.full(draws + 1, 25.0), trend=trend,
    )  # fmt: skip
    d = 1.12 ** (-np.arange(1, 5) / 12)
    assert p.npv[0] == pytest.approx(100 * 1.5 * (trend[0] * d).sum() - 300.0)
    assert p.npv[1:].std() == pytest.approx(100 * sd[-1] * d.sum(), rel=0.03)


def test_a_fall_in_nps_moves_customers_down():
    hr, ratio = mix_effects(SHARES, -10.0, HAZARD, SPEND)
    # shares .44/.32/.24: hazard 1.8 / 1.7, spend .66 / .70
    assert float(hr) == pytest.approx(1.8 / 1.7)
    assert float(ratio) == pytest.approx(0.66 / 0.70)


def test_draws_beyond_the_room_are_clipped_not_an_error():
    # draw 2 has 20% below promoter, room for 20 points; draw 3 has room for 40
    shares = {"promoter": np.array([0.6, 0.8, 0.6]), "passive": np.array([0.3, 0.1, 0.3]),
              "detractor": np.array([0.1, 0.1, 0.1])}  # fmt: skip
    delta, clipped = clip_to_room(shares, np.array([30.0, 35.0, -45.0]))
    assert clipped == 2
    assert delta.tolist() == [30.0, 20.0, -40.0]
    hr, ratio = mix_effects(shares, delta, HAZARD, SPEND)
    # at the room every customer below promoter moves up one group: draw 2 from .8/.1/.1 to
    # .9/.1/0, hazard (.9 + .2) / (.8 + .2 + .3), spend (.9 + .05) / (.8 + .05 + .025)
    assert hr[1] == pytest.approx(1.1 / 1.3)
    assert ratio[1] == pytest.approx(0.95 / 0.875)
    assert np.isfinite(hr).all() and np.isfinite(ratio).all()


@pytest.mark.parametrize(
    ("shares", "delta", "message"),
    [
        ({"detractor": 0.0, "passive": 0.0}, 5.0, "no detractors or passives"),
        ({"detractor": 0.1, "passive": 0.1}, 25.0, "needs more than the 20%"),
    ],
)
def test_impossible_expected_changes_are_clear_errors(shares, delta, message):
    with pytest.raises(CxroiError, match=message):
        move_shares(shares, np.asarray(delta))


def test_measurement_noise_by_hand():
    """N = 4 customers and N_c = 12 comparison customers alike, within-customer variance of
    monthly spend 100, mean 1/J of .25, churn 50% a month, 2 churns before launch.

    K_1 = .5, K_2 = .75 months alive; 1/N + 1/N_c = 1/3. Spend: 100 (1/.5 + .25) / 3 = 75 and
    100 (1/.75 + .25) / 3 = 52.78. Churns expected: D_1 = 2, D_2 = 3; log hazard ratio:
    (1/2 + 1/2) (1 + 4/12) = 4/3 and (1/3 + 1/2) 4/3 = 10/9; a randomised holdout drops 1/D_0:
    (1/3) 4/3 = 4/9."""
    args = dict(customers=4, comparison=12, within_var=100.0, inverse_months_before=0.25,
                churn_monthly=0.5, churns_before=2, horizon_months=2)  # fmt: skip
    n = measurement_noise(**args)
    assert n.spend**2 == pytest.approx([75.0, 100 * (1 / 0.75 + 0.25) / 3])
    assert n.log_hazard_ratio**2 == pytest.approx([4 / 3, 10 / 9])
    r = measurement_noise(**args, randomised=True)
    assert r.spend == pytest.approx(n.spend)
    assert r.log_hazard_ratio[-1] ** 2 == pytest.approx(4 / 9)
    # no comparison noise, and no churn before launch counts as half a churn
    alone = measurement_noise(**{**args, "comparison": None, "churns_before": 0})
    assert alone.spend[0] ** 2 == pytest.approx(100 * 2.25 / 4)
    assert alone.log_hazard_ratio[0] ** 2 == pytest.approx(1 / 2 + 1 / 0.5)


def test_monte_carlo_spend_noise_against_its_closed_form():
    """Without churn the NPV is linear in the measured spend effect: a measurement after t
    months is normal with sd N sigma_s(t) sum_{u<=t} d^u about the point."""
    sd = np.array([4.0, 3.0, 2.5, 2.0])
    noise = MeasurementNoise(spend=sd, log_hazard_ratio=np.zeros(4))
    draws = 20_000
    p = simulated_paths(
        customers=100, churn_monthly=np.zeros(draws + 1), margin_monthly=np.full(draws + 1, 20.0),
        hazard_ratio=np.full(draws + 1, 0.9), spend_effect=np.full(draws + 1, 1.5),
        cost=300.0, horizon_months=4, discount_rate=0.12, noise=noise, random_state=3,
    )  # fmt: skip
    d = 1.12 ** (-np.arange(1, 5) / 12)
    assert p.npv[0] == pytest.approx(100 * 1.5 * d.sum() - 300.0)
    closed_sd = 100 * sd[-1] * d.sum()
    body = p.npv[1:]
    assert body.std() == pytest.approx(closed_sd, rel=0.03)
    assert abs(body.mean() - p.npv[0]) < 4 * closed_sd / np.sqrt(draws)
    lo, hi = np.quantile(body, [0.05, 0.95])
    z = stats.norm.ppf(0.95)
    assert (lo, hi) == pytest.approx((p.npv[0] - z * closed_sd, p.npv[0] + z * closed_sd),
                                     abs=0.05 * closed_sd)  # fmt: skip
    # month 1 carries the noise of a one-month measurement
    assert (p.net[1:, 0]).std() == pytest.approx(100 * sd[0] * d[0], rel=0.03)


def test_monte_carlo_churn_noise_against_its_closed_form():
    """With the spend effect exact the NPV falls as the measured hazard ratio rises: its 5th
    percentile is the value at HR exp(z_.95 sigma), bracketed by z_.94 and z_.96."""
    sigma, hr, draws = 0.3, 0.8, 20_000
    noise = MeasurementNoise(spend=np.zeros(6), log_hazard_ratio=np.full(6, sigma))
    kw = dict(customers=500, margin_monthly=np.full(draws + 1, 25.0), cost=1000.0,
              horizon_months=6, discount_rate=0.10)  # fmt: skip
    p = simulated_paths(
        **kw, churn_monthly=np.full(draws + 1, 0.03), hazard_ratio=np.full(draws + 1, hr),
        spend_effect=np.zeros(draws + 1), noise=noise, random_state=5,
    )  # fmt: skip
    t = np.arange(1, 7)
    d = 1.10 ** (-t / 12)
    h1 = 0.03 * hr

    def npv_at(measured: float) -> float:  # realised_paths' formula, by hand
        return float((500 * 25.0 * ((1 - h1) ** t - (1 - h1 / measured) ** t) * d).sum() - 1000)

    q05 = np.quantile(p.npv[1:], 0.05)
    assert npv_at(hr * np.exp(sigma * stats.norm.ppf(0.96))) < q05
    assert q05 < npv_at(hr * np.exp(sigma * stats.norm.ppf(0.94)))
    assert p.npv[0] == pytest.approx(npv_at(hr))


def test_horizon_must_be_positive():
    with pytest.raises(CxroiError, match="horizon_months must be at least 1"):
        simulated_paths(customers=1, churn_monthly=np.array([0.1]),
                        margin_monthly=np.array([1.0]), hazard_ratio=np.array([1.0]),
                        spend_effect=np.array([0.0]), cost=1.0, horizon_months=0)  # fmt: skip
