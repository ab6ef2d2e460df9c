"""NPS against hand calculations (Rocks 2016 adjusted Wald, as used by MeasuringU)."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.metrics.nps import nps, nps_counts, nps_from_counts

SCORES = [10] * 150 + [7] * 100 + [0] * 50  # 150 promoters, 100 passives, 50 detractors


def test_hand_calculated_nps_and_adjusted_wald_interval():
    r = nps(SCORES)
    assert r.nps == pytest.approx(100 / 3)
    assert (r.n, r.promoters, r.passives, r.detractors) == (
        300,
        0.5,
        pytest.approx(1 / 3),
        pytest.approx(1 / 6),
    )
    # Hand: p~ = 150.75/303, d~ = 50.75/303, var = (p~ + d~ - (p~ - d~)^2) / 303.
    p, d = 150.75 / 303, 50.75 / 303
    se = np.sqrt((p + d - (p - d) ** 2) / 303)
    assert r.se == pytest.approx(100 * se)
    assert round(r.ci_low, 1) == 24.6
    assert round(r.ci_high, 1) == 41.4


def test_wald_interval_uses_raw_shares():
    r = nps(SCORES, method="wald")
    se = np.sqrt((0.5 + 1 / 6 - (1 / 3) ** 2) / 300)
    assert r.ci_low == pytest.approx(100 * (1 / 3 - 1.959964 * se), abs=1e-4)
    assert r.ci_high == pytest.approx(100 * (1 / 3 + 1.959964 * se), abs=1e-4)


@pytest.mark.parametrize(
    ("score", "group"),
    [(0, "d"), (6, "d"), (7, "m"), (8, "m"), (9, "p"), (10, "p")],
)
def test_score_boundaries(score, group):
    r = nps([score])
    assert {"p": r.promoters, "m": r.passives, "d": r.detractors}[group] == 1.0


@pytest.mark.parametrize("scores", [[], [None, None], [np.nan]])
def test_no_answers_gives_nan_not_error(scores):
    r = nps(scores)
    assert r.n == 0
    assert np.isnan(r.nps) and np.isnan(r.ci_low) and np.isnan(r.ci_high)


@pytest.mark.parametrize("bad", [[11], [-1], [9.5], ["x"]])
def test_off_scale_scores_are_rejected(bad):
    with pytest.raises(CxroiError, match="NPS"):
        nps(bad)


def test_unknown_method():
    with pytest.raises(CxroiError, match="method"):
        nps([9], method="exact")


def test_engine_counts_match_the_scalar_form():
    df = pd.DataFrame({"g": ["a"] * 300 + ["b"] * 4, "nps": SCORES + [9, 3, None, 8]})
    got = nps_counts(ibis.memtable(df), by=["g"]).execute().set_index("g").sort_index()
    assert got.loc["a"].tolist() == [150, 100, 50]
    assert got.loc["b"].tolist() == [1, 1, 1]
    r = nps_from_counts(got.promoters, got.passives, got.detractors)
    assert r["nps"][0] == pytest.approx(nps(SCORES).nps)
    assert r["ci_low"][1] == pytest.approx(nps([9, 3, 8]).ci_low)


def test_interval_is_clipped_to_the_scale():
    # n = 4, all promoters: adjusted Wald gives 57.1 +- 50.2, whose top (107.3) is off the scale.
    r = nps([10, 10, 9, 9])
    p, d = 4.75 / 7, 0.75 / 7
    se = np.sqrt((p + d - (p - d) ** 2) / 7)
    assert 100 * (p - d + 1.959964 * se) == pytest.approx(107.3, abs=0.05)
    assert r.ci_high == 100.0
    assert r.ci_low == pytest.approx(100 * (p - d - 1.959964 * se))
    low = nps([0, 0, 1, 2])
    assert low.ci_low == -100.0 and low.ci_high < 0


def test_interval_centre_is_the_adjusted_nps():
    r = nps_from_counts(4, 0, 0)
    assert float(r["centre"]) == pytest.approx(100 * (4.75 - 0.75) / 7)
    assert float(r["ci_high"]) == 100.0
