"""Poisson-bootstrap replicates of cell sums: their moments by hand, and the segment and
opportunity intervals against the exact bootstrap (a Poisson weight per customer) at 20,000
customers."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from cxroi.models import cell_bootstrap, opportunity, segments
from cxroi.models.cell_bootstrap import cell_replicates
from cxroi.models.opportunity import opportunity_table
from cxroi.models.segments import SegmentSpec, segment, segment_profile
from tests.models.test_segments import _frame

EXACT = functools.partial(cell_replicates, exact_below=10**12)
"""The reference: every cell drawn with a Poisson weight per customer."""


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cell = rng.integers(0, 3, n)
    x = np.column_stack([
        rng.random(n) < 0.2,  # an event
        rng.uniform(0.2, 2.0, n),  # exposure
        rng.lognormal(5, 1, n),  # skewed money
        np.ones(n),  # a count
    ]).astype(float)  # fmt: skip
    return x, cell


def test_row_zero_is_the_sum_per_cell():
    x, cell = _data(1000)
    out = cell_replicates(x, cell, 4, 10, np.random.default_rng(0))
    want = pd.DataFrame(x).groupby(cell).sum().reindex(range(4), fill_value=0.0).to_numpy()
    assert out.shape == (11, 4, 4)
    np.testing.assert_allclose(out[0], want)
    assert (out[1:, 3] == 0).all()  # an empty cell stays empty


@pytest.mark.parametrize("exact_below", [0, 10**12], ids=["normal", "exact"])
def test_replicates_have_the_poisson_bootstrap_moments(exact_below):
    # Poisson(1) weights: mean of the sums the sums, covariance the uncentred second moments
    x, cell = _data(3000, seed=1)
    out = cell_replicates(x, cell, 3, 4000, np.random.default_rng(2), exact_below=exact_below)
    for c in range(3):
        xc = x[cell == c]
        reps = out[1:, c]
        se = np.sqrt(np.diag(xc.T @ xc))
        assert np.all(np.abs(reps.mean(axis=0) - xc.sum(axis=0)) < 4 * se / np.sqrt(4000))
        np.testing.assert_allclose(np.cov(reps.T), xc.T @ xc, rtol=0.1, atol=0.05 * se.max() ** 2)


def test_cells_with_a_rare_event_are_drawn_exactly():
    x, cell = _data(20_000, seed=3)
    x[:, 0] = 0.0
    x[np.flatnonzero(cell == 1)[:40], 0] = 1.0  # forty events in cell 1: too few for a normal
    out = cell_replicates(x, cell, 3, 50, np.random.default_rng(4))
    events, count = out[1:, :, 0], out[1:, :, 3]
    assert (events[:, 0] == 0).all()  # a column that is all zero in a cell stays zero
    np.testing.assert_array_equal(events[:, 1], np.round(events[:, 1]))  # Poisson sums
    np.testing.assert_array_equal(count[:, 1], np.round(count[:, 1]))
    assert not np.array_equal(count[:, 0], np.round(count[:, 0]))  # cell 0: the normal limit


def _assert_same_intervals(
    got: pd.DataFrame, ref: pd.DataFrame, keys: list[str], min_rows: int
) -> None:
    m = got.merge(ref, on=keys, suffixes=("", "_ref"))
    assert len(m) == len(got) == len(ref)
    # an interval cut at 0 (no money at stake) has an end as noisy as the tail it cuts
    m = m[np.isfinite(m["ci_low_ref"]) & (m["ci_low_ref"] > 0)]
    assert len(m) >= min_rows
    width = m["ci_high_ref"] - m["ci_low_ref"]
    # 1,000 replicates each: an endpoint's Monte Carlo error is about 2% of the width
    assert ((m["ci_low"] - m["ci_low_ref"]).abs() / width).max() < 0.15
    assert ((m["ci_high"] - m["ci_high_ref"]).abs() / width).max() < 0.15
    np.testing.assert_allclose(m["value" if "value" in m else "estimate"],
                               m["value_ref" if "value" in m else "estimate_ref"])  # fmt: skip


def _normal_cells(monkeypatch) -> list[int]:
    """Spy on the normal-limit path: the number of cells it draws, per call."""
    seen: list[int] = []
    real = cell_bootstrap._normal

    def spy(x, cell, sums, which, b, rng):  # type: ignore[no-untyped-def]
        seen.append(int(which.sum()))
        return real(x, cell, sums, which, b, rng)

    monkeypatch.setattr(cell_bootstrap, "_normal", spy)
    return seen


def test_segment_intervals_match_the_exact_bootstrap_at_20k(monkeypatch):
    f = _frame(20_000, seed=5)
    seg = segment(f, SegmentSpec(("plan", "age", "avg_transaction")))
    normal = _normal_cells(monkeypatch)
    got = segment_profile(f, seg, n_boot=1000, random_state=1)
    assert sum(normal) >= 8  # most segments came from the normal limit
    monkeypatch.setattr(segments, "cell_replicates", EXACT)
    ref = segment_profile(f, seg, n_boot=1000, random_state=2)
    boot = ["revenue_share", "revenue_per_year", "support_cost_per_year", "churn_rate", "clv"]
    _assert_same_intervals(got[got["metric"].isin(boot)], ref[ref["metric"].isin(boot)],
                           ["dimension", "segment", "metric"], min_rows=40)  # fmt: skip


def test_opportunity_intervals_match_the_exact_bootstrap_at_20k(monkeypatch):
    # cities a and b churn more than the rest and feel worse: money at stake in both parts
    f = _frame(20_000, seed=6)
    rng = np.random.default_rng(7)
    f["spend"] = f["revenue"]
    f["city"] = rng.choice(["a", "b", "c", "d"], len(f))
    worse = f["city"].isin(["a", "b"]).to_numpy()
    f["churned"] = (rng.random(len(f)) < np.where(worse, 0.6, 0.4)).astype(int)
    f.loc[worse & (rng.random(len(f)) < 0.3), "nps_group"] = "detractor"
    seg = segment(f, SegmentSpec(("city", "age")))
    effects = {"passive": (1.5, 0.05), "detractor": (2.5, 0.05)}
    kw = dict(hazard_ratios=effects, spend_multiples={"detractor": (0.8, 0.05)}, n_boot=1000)
    normal = _normal_cells(monkeypatch)
    got = opportunity_table(f, seg, strata=None, random_state=1, **kw)
    assert sum(normal) >= 12  # most segment × NPS-group cells came from the normal limit
    monkeypatch.setattr(opportunity, "cell_replicates", EXACT)
    ref = opportunity_table(f, seg, strata=None, random_state=2, **kw)
    for part in ("retention", "perception"):
        cols = {f"{part}_ci_low": "ci_low", f"{part}_ci_high": "ci_high", part: "estimate"}
        _assert_same_intervals(
            got[["dimension", "segment", *cols]].rename(columns=cols),
            ref[["dimension", "segment", *cols]].rename(columns=cols),
            ["dimension", "segment"],
            min_rows=2,
        )
