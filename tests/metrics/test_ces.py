"""CES mean (t interval) and share of 5-7 (Wilson) against scipy/statsmodels."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from cxroi.errors import CxroiError
from cxroi.metrics.ces import ces, ces_counts, ces_from_moments


def test_mean_share_and_intervals():
    x = [7, 5, 3, 1, 6, 6, 2]
    r = ces(x)
    assert r.mean == pytest.approx(30 / 7)
    assert r.share_5_7 == pytest.approx(400 / 7)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert (r.ci_low, r.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    wlo, whi = proportion_confint(4, 7, method="wilson")
    assert (r.share_ci_low, r.share_ci_high) == (pytest.approx(100 * wlo), pytest.approx(100 * whi))


def test_single_answer_has_no_interval():
    r = ces([4])
    assert r.mean == 4 and np.isnan(r.ci_low)


def test_empty():
    r = ces([])
    assert r.n == 0 and np.isnan(r.mean)


def test_off_scale():
    with pytest.raises(CxroiError, match="CES"):
        ces([8])


def test_engine_moments_match_scalar():
    t = ibis.memtable(pd.DataFrame({"ces": [7, 5, 3, 1, None]}))
    m = ces_counts(t).execute().iloc[0]
    r = ces_from_moments(m["n"], m["sum"], m["sumsq"], m["easy"])
    assert float(r["mean"]) == pytest.approx(ces([7, 5, 3, 1]).mean)
    assert float(r["ci_high"]) == pytest.approx(ces([7, 5, 3, 1]).ci_high)


def test_mean_interval_is_clipped_to_the_1_7_scale():
    # Two 7s and a 6: the t interval (t_2 = 4.30) reaches 8.10, off the 1-7 scale.
    x = [7, 7, 6]
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(x), scale=stats.sem(x))
    assert hi > 7
    r = ces(x)
    assert r.ci_high == 7.0 and r.ci_low == pytest.approx(lo)
    low = ces([1, 1, 2])
    assert low.ci_low == 1.0 and low.ci_high < 7
