"""Segments: bands, rules and profiles, checked by hand and against a pandas recomputation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.segments import MISSING, SegmentSpec, band_edges, segment, segment_profile


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro"], n, p=[0.7, 0.3])
    groups = np.array(["promoter", "passive", "detractor", None], dtype=object)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "plan": plan,
            "age": rng.integers(18, 80, n).astype(float),
            "avg_transaction": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 20, n)),
            "churned": (rng.random(n) < np.where(plan == "pro", 0.1, 0.3)).astype(int),
            "exposure_years": rng.uniform(0.2, 2.0, n),
            "revenue": rng.gamma(2, 300, n),
            "purchases": rng.poisson(5, n),
            "support_cost": rng.gamma(1, 20, n),
            "nps_group": groups[rng.integers(0, 4, n)],
            "csat_last": np.where(rng.random(n) < 0.3, np.nan, rng.integers(1, 6, n)),
            "ces_last": np.where(rng.random(n) < 0.5, np.nan, rng.integers(1, 8, n)),
        }
    )


def test_band_edges_are_the_quantiles_and_ties_merge_bands():
    v = np.arange(1, 101, dtype=float)
    assert band_edges(v, 4) == pytest.approx(list(np.quantile(v, [0.25, 0.5, 0.75])))
    # mostly zeros: the 25% and 50% quantiles are both 0 (the minimum) and give no cut
    z = np.r_[np.zeros(60), np.arange(1, 41)].astype(float)
    assert band_edges(z, 4) == [float(np.quantile(z, 0.75))]
    assert band_edges(np.zeros(10), 4) == []


def test_segment_codes_labels_and_missing_by_hand():
    f = pd.DataFrame({"plan": ["a", "b", "a", None], "age": [20.0, 35.0, 50.0, np.nan]})
    seg = segment(f, SegmentSpec(("plan", "age"), edges={"age": [30, 50]}))
    assert seg.labels["plan"] == ["a", "b", MISSING]
    assert list(seg.codes["plan"]) == [0, 1, 0, 2]
    assert seg.labels["age"] == ["< 30", "30–50", "≥ 50", MISSING]
    assert list(seg.codes["age"]) == [0, 1, 2, 3]  # 50 falls in "≥ 50"


def test_rules_are_segments_of_their_own():
    f = _frame(50)
    seg = segment(f, SegmentSpec((), rules={"old pro": "plan == 'pro' and age >= 60"}))
    hit = (f["plan"] == "pro") & (f["age"] >= 60)
    assert list(seg.codes["rule:old pro"] == 0) == list(hit)
    assert seg.labels["rule:old pro"] == ["old pro", "not old pro"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (SegmentSpec(("age",), edges={"age": [10, 50]}), "band edge 10 for age lies outside"),
        (SegmentSpec(("age",), edges={"age": [50, 200]}), "band edge 200 for age lies outside"),
        (SegmentSpec(("age",), edges={"age": [50, 40]}), "must increase"),
        (SegmentSpec(("age",), edges={"age": [40.1, 40.2]}), "segment age 40.1–40.2 holds no"),
        (SegmentSpec((), rules={"none": "age > 500"}), "rule 'none' (age > 500) matches no"),
        (
            SegmentSpec((), rules={"bad": "age >>> 1"}),
            "rule 'bad': target 'age >>> 1': age is numeric",
        ),
        (SegmentSpec((), rules={"call": "__import__('os')"}), "rule 'call': target"),
        (SegmentSpec(("shoe_size",)), "no column 'shoe_size'"),
        (SegmentSpec(("age",), bands=1), "bands must be at least 2"),
        (SegmentSpec(("customer_id",)), "customer_id has 250 distinct values, more than 200"),
    ],
)
def test_segment_errors_name_what_is_wrong(spec, message):
    f = _frame(250)
    f["age"] = np.where(f["age"].between(40, 41), 39.0, f["age"])  # nobody in (40, 41]
    with pytest.raises(CxroiError, match=message.replace("(", r"\(").replace(")", r"\)")):
        segment(f, spec)


def test_profile_matches_a_pandas_recomputation():
    f = _frame(600, seed=3)
    seg = segment(f, SegmentSpec(("plan",)))
    prof = segment_profile(f, seg, discount_rate=0.1, min_n=250, n_boot=50)
    got = prof.set_index(["segment", "metric"])["value"]
    i = 0.1
    for plan, g in f.groupby("plan"):
        e, t = g["churned"].sum(), g["exposure_years"].sum()
        churn = 1 - np.exp(-e / t)
        margin = (g["revenue"].sum() - g["support_cost"].sum()) / t
        r = 1 - churn
        assert got[(plan, "customers")] == len(g)
        assert got[(plan, "share_customers")] == pytest.approx(len(g) / len(f))
        assert got[(plan, "revenue_share")] == pytest.approx(
            g["revenue"].sum() / f["revenue"].sum()
        )
        assert got[(plan, "churn_rate")] == pytest.approx(churn)
        assert got[(plan, "clv")] == pytest.approx(margin * r / (1 + i - r))
        assert got[(plan, "support_cost_per_year")] == pytest.approx(g["support_cost"].sum() / t)
        ans = g["nps_group"].dropna()
        nps = 100 * ((ans == "promoter").mean() - (ans == "detractor").mean())
        assert got[(plan, "nps")] == pytest.approx(nps)
        cs = g["csat_last"].dropna()
        assert got[(plan, "csat")] == pytest.approx(100 * (cs >= 4).mean())
        assert got[(plan, "ces")] == pytest.approx(g["ces_last"].dropna().mean())
    # intervals bracket the estimates; n of NPS is the answers; small segments flagged, kept
    est = prof[prof["metric"].isin(["churn_rate", "clv", "revenue_share", "nps"])]
    assert ((est["ci_low"] <= est["value"]) & (est["value"] <= est["ci_high"])).all()
    nps_n = prof[(prof["metric"] == "nps")].set_index("segment")["n"]
    assert nps_n["pro"] == f.loc[f["plan"] == "pro", "nps_group"].notna().sum()
    small = prof[(prof["metric"] == "customers")].set_index("segment")["flag"]
    assert "small-n" in small["pro"] and "small-n" not in small["basic"]


def test_profile_share_interval_is_wilson():
    f = _frame(300, seed=5)
    seg = segment(f, SegmentSpec(("plan",)))
    prof = segment_profile(f, seg, n_boot=0)
    row = prof[(prof["segment"] == "pro") & (prof["metric"] == "share_customers")].iloc[0]
    k, n, z = (f["plan"] == "pro").sum(), len(f), 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert row["ci_low"] == pytest.approx(centre - half)
    assert row["ci_high"] == pytest.approx(centre + half)
