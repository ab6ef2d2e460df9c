"""Money at stake per segment, checked by hand on frames small enough to follow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.opportunity import opportunity_table
from cxroi.models.segments import SegmentSpec, segment

RATE = 0.10


def clv(m: float, lam: float) -> float:
    r = np.exp(-lam)
    return m * r / (1 + RATE - r)


def _frame(rows: list[tuple[str, str | None, int, float, float, float]]) -> pd.DataFrame:
    """(city, nps_group, churned, exposure_years, revenue, support_cost) per customer."""
    f = pd.DataFrame(
        rows, columns=["city", "nps_group", "churned", "exposure_years", "revenue", "support_cost"]
    )
    f["purchases"] = 1
    f["spend"] = f["revenue"]
    return f


def test_retention_is_the_clv_at_the_rest_of_the_dimensions_hazard():
    # A: 40 customers, 20 churns over 40 years; B: 60 customers, 6 churns over 60 years
    rows = [("A", None, int(i < 20), 1.0, 1000.0, 100.0) for i in range(40)]
    rows += [("B", None, int(i < 6), 1.0, 500.0, 50.0) for i in range(60)]
    f = _frame(rows)
    t = opportunity_table(f, segment(f, SegmentSpec(("city",))), strata=None, discount_rate=RATE,
                          min_n=10, n_boot=0).set_index("segment")  # fmt: skip
    m_a, lam_a, lam_b = 900.0, 20 / 40, 6 / 60
    assert t.loc["A", "churn_rate"] == pytest.approx(1 - np.exp(-lam_a))
    assert t.loc["A", "comparable_churn"] == pytest.approx(1 - np.exp(-lam_b))
    assert t.loc["A", "retention"] == pytest.approx(40 * (clv(m_a, lam_b) - clv(m_a, lam_a)))
    assert t.loc["B", "retention"] == 0.0  # B churns less than the rest: nothing at stake
    assert t.loc["A", "perception"] == 0.0  # no answers, no effects given
    assert t.loc["A", "rank"] == 1 and t.loc["A", "estimate"] == t.loc["A", "retention"]


def test_comparable_customers_are_those_who_feel_the_same():
    # A is all detractors, B all promoters, and each churns as its NPS group does: A's churn
    # is explained by perception, so nothing of it counts as retention; lifting A's mix to
    # that of all customers (half promoters, half detractors) through the hazard ratio and
    # spend multiple is the perception part
    rows = [("A", "detractor", int(i < 12), 1.0, 800.0, 0.0) for i in range(50)]
    rows += [("B", "promoter", int(i < 5), 1.0, 800.0, 0.0) for i in range(50)]
    f = _frame(rows)
    hr = {"passive": (1.6, 0.0), "detractor": (2.8, 0.0)}
    sm = {"passive": (0.8, 0.0), "detractor": (0.64, 0.0)}
    t = opportunity_table(f, segment(f, SegmentSpec(("city",))), hazard_ratios=hr,
                          spend_multiples=sm, strata=None, discount_rate=RATE, min_n=10,
                          n_boot=0).set_index("segment")  # fmt: skip
    assert t.loc["A", "retention"] == 0.0
    lam = 12 / 50
    h, m = (0.5 * 1 + 0.5 * 2.8) / 2.8, (0.5 * 1 + 0.5 * 0.64) / 0.64
    lift = clv(800 + 800 * (m - 1), lam * h) - clv(800, lam)
    assert t.loc["A", "perception"] == pytest.approx(50 * lift)
    assert t.loc["B", "perception"] == 0.0  # it feels better than the average customer
    assert t.loc["A", "nps"] == -100 and t.loc["B", "nps"] == 100
    assert t.loc["A", "target_nps"] == 0.0


def test_strata_cross_the_plan_and_small_segments_are_flagged():
    rng = np.random.default_rng(1)
    n = 2000
    f = pd.DataFrame(
        {
            "city": rng.choice(["x", "y", "z"], n, p=[0.45, 0.45, 0.10]),
            "plan": rng.choice(["basic", "pro"], n),
            "nps_group": rng.choice(["promoter", "passive", "detractor"], n),
            "exposure_years": 1.0,
            "revenue": 600.0,
            "support_cost": 0.0,
            "purchases": 1,
        }
    )
    f["spend"] = f["revenue"]
    f["churned"] = (rng.random(n) < np.where(f["city"] == "x", 0.4, 0.1)).astype(int)
    seg = segment(f, SegmentSpec(("city", "plan")))
    t = opportunity_table(f, seg, strata="plan", min_n=250, n_boot=100, discount_rate=RATE)
    top = t.iloc[0]
    assert (top["dimension"], top["segment"]) == ("city", "x")
    assert top["ci_low"] <= top["estimate"] <= top["ci_high"]
    assert top["ci_low"] > t.iloc[1]["estimate"]
    z = t[t["segment"] == "z"].iloc[0]
    assert "small-n" in z["flag"]
    # the hand value of x's retention: the rest (y and z) within each NPS group x plan
    x = f[f["city"] == "x"]
    rest = f[f["city"] != "x"].groupby(["nps_group", "plan"])
    lam_rest = rest["churned"].sum() / rest["exposure_years"].sum()
    w = x.groupby(["nps_group", "plan"])["exposure_years"].sum() / x["exposure_years"].sum()
    lam_star = float((w * lam_rest).sum())
    lam_x = x["churned"].sum() / x["exposure_years"].sum()
    assert top["retention"] == pytest.approx(len(x) * (clv(600, lam_star) - clv(600, lam_x)))


def test_opportunity_frame_needs_its_columns():
    with pytest.raises(CxroiError, match="lacks column"):
        f = pd.DataFrame({"city": ["a"], "nps_group": [None]})
        opportunity_table(f, segment(f, SegmentSpec(("city",))))


def test_segments_found_from_churn_count_only_their_perception():
    rows = [("A", None, int(i < 20), 1.0, 1000.0, 100.0) for i in range(40)]
    rows += [("B", None, int(i < 6), 1.0, 500.0, 50.0) for i in range(60)]
    f = _frame(rows)
    seg = segment(f, SegmentSpec(("city",)))
    t = opportunity_table(f, seg, strata=None, selected_on_churn={"city"}, min_n=10, n_boot=0)
    assert (t["retention"] == 0).all()
    assert t["flag"].str.contains("selected-on-churn").all()


def test_intervals_do_not_depend_on_the_order_of_the_rows():
    # an engine returns the rows of a query without ORDER BY in any order; the exact draws
    # give one Poisson weight per row, so they are made in customer order (issue 15)
    rng = np.random.default_rng(3)
    n = 600  # small cells: drawn exactly, a weight per customer
    f = pd.DataFrame({
        "customer_id": [f"C{i:04d}" for i in range(n)],
        "city": rng.choice(["A", "B", "C"], n),
        "nps_group": rng.choice(["promoter", "passive", "detractor", None], n),
        "churned": rng.binomial(1, 0.2, n),
        "exposure_years": rng.uniform(0.2, 2.0, n),
        "revenue": rng.gamma(2.0, 300.0, n),
        "support_cost": rng.gamma(1.0, 30.0, n),
        "purchases": rng.poisson(5, n),
    })  # fmt: skip
    f["spend"] = f["revenue"]
    hr = {"passive": (1.5, 0.1), "detractor": (2.5, 0.1)}
    sm = {"passive": (0.9, 0.05), "detractor": (0.7, 0.05)}

    def table(frame: pd.DataFrame) -> pd.DataFrame:
        seg = segment(frame, SegmentSpec(("city",)))
        return opportunity_table(frame, seg, hazard_ratios=hr, spend_multiples=sm,
                                 strata=None, n_boot=50, random_state=0)  # fmt: skip

    shuffled = f.sample(frac=1.0, random_state=1).reset_index(drop=True)
    a, b = table(f), table(shuffled)
    assert a["ci_low"].notna().all() and (a["ci_low"] < a["ci_high"]).all()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    # the same rows in another order are another bootstrap without the key
    c = table(shuffled.drop(columns="customer_id"))
    assert not np.allclose(a["ci_high"], c["ci_high"], rtol=1e-6)
