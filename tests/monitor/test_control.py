"""Control bands and shift runs, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.metrics.nps import nps_from_counts
from cxroi.monitor.control import control_band, shift_runs


def test_individuals_chart_by_hand():
    s = pd.DataFrame({"value": [10.0, 12, 11, 13, 12, 40], "n": 1})
    out = control_band(s, window=6)
    # Last point: reference = first five; mean 11.6; mean moving range (2+1+2+1)/4 = 1.5.
    assert out["centre"].iloc[-1] == pytest.approx(11.6)
    assert out["upper"].iloc[-1] == pytest.approx(11.6 + 3 * 1.5 / 1.128)
    assert out["outside"].iloc[-1] == "above"
    assert out["outside"].iloc[:-1].isna().all()
    assert out["centre"].iloc[:3].isna().all()  # fewer than 3 earlier points: no band


def test_estimate_band_uses_each_points_standard_error():
    # Eight months at NPS 30 (n=100 each), then NPS 60.
    counts = [(50, 30, 20)] * 8 + [(70, 20, 10)]
    r = nps_from_counts(*np.array(counts).T)
    s = pd.DataFrame(
        {"value": r["nps"], "n": r["n"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
    )
    out = control_band(s)
    se = r["se"]  # the adjusted-Wald standard errors (the intervals are symmetric)
    assert out["centre"].iloc[-1] == pytest.approx(30.0)
    # Band: the point's own error and that of the centre (mean of 6 equal points).
    half = 3 * np.sqrt(se[-1] ** 2 + 6 * (se[0] / 6) ** 2)
    assert out["upper"].iloc[-1] == pytest.approx(out["centre"].iloc[-1] + half, rel=1e-6)
    assert out["outside"].tolist()[-1] == "above"
    assert out["outside"].iloc[:-1].isna().all()


def test_small_points_get_no_band():
    s = pd.DataFrame(
        {
            "value": [1.0, 1, 1, 1, 50],
            "n": [50, 50, 50, 50, 3],
            "ci_low": [0.5] * 5,
            "ci_high": [1.5] * 5,
        }
    )
    out = control_band(s, min_n=30)
    assert pd.isna(out["outside"].iloc[-1]) and np.isnan(out["upper"].iloc[-1])


def test_shift_runs():
    marks = shift_runs([1, 2, 3, -1, 2, 2, 2, 2], 0.0, run=3)
    assert marks.tolist() == [0, 0, 1, 0, 0, 0, 1, 1]
    assert shift_runs([-1, -1, np.nan, -1], 0.0, run=2).tolist() == [0, -1, 0, 0]


@pytest.mark.parametrize("bad", [{"window": 2}, {"run": 1}])
def test_bad_settings(bad):
    with pytest.raises(CxroiError):
        if "run" in bad:
            shift_runs([1.0], 0.0, **bad)
        else:
            control_band(pd.DataFrame({"value": [1.0], "n": [1]}), **bad)
