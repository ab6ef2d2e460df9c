"""CSAT (top-2-box, Wilson) against hand counts and statsmodels' Wilson interval."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from cxroi.errors import CxroiError
from cxroi.metrics.csat import csat, csat_counts, csat_from_counts


def test_tiny_literal_table():
    r = csat([5, 4, 4, 3, 1])
    assert (r.csat, r.n, r.satisfied) == (60.0, 5, 3)
    lo, hi = proportion_confint(3, 5, alpha=0.05, method="wilson")
    assert r.ci_low == pytest.approx(100 * lo)
    assert r.ci_high == pytest.approx(100 * hi)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (37, 120), (1, 1)])
def test_wilson_matches_statsmodels(k, n):
    r = csat_from_counts(k, n)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert float(r["ci_low"]) == pytest.approx(100 * lo, abs=1e-9)
    assert float(r["ci_high"]) == pytest.approx(100 * hi, abs=1e-9)


def test_all_null_scores():
    r = csat([None, None])
    assert r.n == 0 and np.isnan(r.csat) and np.isnan(r.ci_low)


@pytest.mark.parametrize("bad", [[0], [6], [4.5]])
def test_off_scale(bad):
    with pytest.raises(CxroiError, match="CSAT"):
        csat(bad)


def test_engine_counts():
    t = ibis.memtable(pd.DataFrame({"g": list("aaab"), "csat": [5, 3, None, 4]}))
    got = csat_counts(t, by=["g"]).execute().set_index("g").sort_index()
    assert got.loc["a"].tolist() == [2, 1]
    assert got.loc["b"].tolist() == [1, 1]


@pytest.mark.parametrize(("k", "n"), [(1, 1), (0, 1), (3, 3), (0, 2)])
def test_interval_stays_on_the_0_100_scale(k, n):
    r = csat_from_counts(k, n)
    assert 0.0 <= float(r["ci_low"]) <= float(r["csat"]) <= float(r["ci_high"]) <= 100.0
