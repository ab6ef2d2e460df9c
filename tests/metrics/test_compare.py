"""Two-group tests: NPS difference (hand calculation) and CSAT two-proportion z-test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from cxroi.metrics.compare import csat_test, mean_diff_from_moments, nps_test


def test_nps_difference_hand_calculation():
    a = [10] * 150 + [8] * 100 + [3] * 50
    b = [10] * 120 + [8] * 100 + [3] * 80
    r = nps_test(a, b)
    assert r.diff == pytest.approx(-20.0)
    # Adjusted Wald on each side, difference of adjusted NPS over the root sum of variances.
    pa, da = 150.75 / 303, 50.75 / 303
    pb, db = 120.75 / 303, 80.75 / 303
    va = (pa + da - (pa - da) ** 2) / 303
    vb = (pb + db - (pb - db) ** 2) / 303
    z = ((pb - db) - (pa - da)) / np.sqrt(va + vb)
    assert r.statistic == pytest.approx(z)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert r.significant
    assert r.ci_high < 0


def test_nps_same_groups_not_significant():
    a = [10, 9, 8, 3, 6, 10] * 10
    r = nps_test(a, a)
    assert r.diff == 0 and r.p_value == pytest.approx(1.0)
    assert not r.significant


def test_csat_two_proportion_matches_statsmodels():
    a = [5] * 60 + [2] * 40
    b = [4] * 75 + [1] * 25
    r = csat_test(a, b)
    z, p = proportions_ztest([75, 60], [100, 100])
    assert r.diff == pytest.approx(15.0)
    assert (r.statistic, r.p_value) == (pytest.approx(z), pytest.approx(p))
    se = np.sqrt(0.6 * 0.4 / 100 + 0.75 * 0.25 / 100)
    assert r.ci_low == pytest.approx(100 * (0.15 - 1.959964 * se), abs=1e-4)


def test_welch_from_moments_matches_scipy():
    rng = np.random.default_rng(1)
    x, y = rng.normal(3, 1, 40), rng.normal(3.5, 2, 25)
    r = mean_diff_from_moments((len(x), x.sum(), (x**2).sum()), (len(y), y.sum(), (y**2).sum()))
    t = stats.ttest_ind(y, x, equal_var=False)
    assert float(r["statistic"]) == pytest.approx(t.statistic)
    assert float(r["p_value"]) == pytest.approx(t.pvalue)
