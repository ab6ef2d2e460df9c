"""ROI before launch against hand arithmetic: the closed form with no uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from cxroi.errors import CxroiError
from cxroi.models.roi import move_shares, roi_paths

GROUPS = ("promoter", "passive", "detractor")


def _one(values: dict[str, float]) -> dict[str, np.ndarray]:
    return {g: np.array([values[g]]) for g in GROUPS}


def test_no_churn_no_discount_by_hand():
    # 1,000 target customers, 20% detractors and 30% passives; +10 NPS points moves 10% up:
    # 4% detractor->passive and 6% passive->promoter (in proportion 0.2 : 0.3). Annual margins
    # 120 / 240 / 360: each move is worth 120 a year = 10 a month, so the target group gains
    # 1,000 x (0.04 + 0.06) x 10 = 1,000 a month.
    p = roi_paths(
        customers=1000, shares={"detractor": 0.2, "passive": 0.3, "promoter": 0.5},
        churn=_one({"promoter": 0.0, "passive": 0.0, "detractor": 0.0}),
        margin=_one({"promoter": 360.0, "passive": 240.0, "detractor": 120.0}),
        delta_points=10.0, cost=5000.0, running_cost=100.0, horizon_months=12, discount_rate=0.0,
    )  # fmt: skip
    assert p.benefit[0] == pytest.approx(np.full(12, 1000.0))
    assert p.pv_benefit[0] == pytest.approx(12_000.0)
    assert p.pv_cost == pytest.approx(5000 + 12 * 100)
    assert p.npv[0] == pytest.approx(12_000 - 6_200)
    assert p.roi[0] == pytest.approx(5_800 / 6_200)
    # month 5: 5,000 < 5,000 + 500; month 6: 6,000 >= 5,600
    assert p.payback_month[0] == 6


def test_churn_and_discount_by_hand():
    # One move only (all below promoter are passives): 5% of 200 customers, passive -> promoter.
    # Promoters: margin 600/yr, churn 10%/yr; passives: margin 300/yr, churn 30%/yr.
    # Month t: 200 x 0.05 x (50 x 0.9^(t/12) - 25 x 0.7^(t/12)), discounted by 1.08^(-t/12).
    p = roi_paths(
        customers=200, shares={"passive": 0.4, "detractor": 0.0, "promoter": 0.6},
        churn=_one({"promoter": 0.1, "passive": 0.3, "detractor": 0.5}),
        margin=_one({"promoter": 600.0, "passive": 300.0, "detractor": 100.0}),
        delta_points=5.0, cost=1000.0, horizon_months=24, discount_rate=0.08,
    )  # fmt: skip
    by_hand = [
        200 * 0.05 * (50 * 0.9 ** (t / 12) - 25 * 0.7 ** (t / 12)) / 1.08 ** (t / 12)
        for t in range(1, 25)
    ]
    assert p.benefit[0] == pytest.approx(by_hand)
    assert p.npv[0] == pytest.approx(sum(by_hand) - 1000)
    cum = np.cumsum(by_hand)
    assert p.payback_month[0] == 1 + int(np.argmax(cum >= 1000))


def test_draws_carry_the_uncertainty_and_a_loss_never_pays_back():
    churn = {g: np.array([0.1, 0.1, 0.1]) for g in GROUPS}
    margin = {"promoter": np.array([300.0, 200.0, 400.0]), "passive": np.array([100.0] * 3),
              "detractor": np.array([50.0] * 3)}  # fmt: skip
    p = roi_paths(customers=100, shares={"detractor": 0.5, "passive": 0.5}, churn=churn,
                  margin=margin, delta_points=1.0, cost=1e9, horizon_months=6)  # fmt: skip
    assert p.npv[1] < p.npv[0] < p.npv[2]  # a larger promoter margin is worth more
    assert np.isnan(p.payback_month).all() and (p.roi < 0).all()


@pytest.mark.parametrize(
    ("shares", "delta", "message"),
    [
        ({"detractor": 0.0, "passive": 0.0}, 5.0, "no detractors or passives"),
        ({"detractor": 0.1, "passive": 0.1}, 25.0, "needs more than the 20%"),
    ],
)
def test_impossible_changes_are_clear_errors(shares, delta, message):
    with pytest.raises(CxroiError, match=message):
        move_shares(shares, delta)


def test_horizon_must_be_positive():
    with pytest.raises(CxroiError, match="horizon_months must be at least 1"):
        roi_paths(customers=1, shares={"detractor": 1.0}, churn=_one(dict.fromkeys(GROUPS, 0.1)),
                  margin=_one(dict.fromkeys(GROUPS, 1.0)), delta_points=1.0, cost=1.0,
                  horizon_months=0)  # fmt: skip
