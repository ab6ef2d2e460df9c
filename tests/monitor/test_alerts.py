"""Alerts: quiet on a stable series, loud where the simulator launched an initiative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.monitor import alerts, series


def _stable(months: int = 24, n: int = 400, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=months, freq="MS").repeat(n) + pd.Timedelta("1D")
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(months * n)],
            "ts": ts,
            "nps": rng.choice([0, 6, 7, 8, 9, 10], months * n),
            "csat": rng.choice([1, 2, 3, 4, 5], months * n),
        }
    )


def test_stable_series_rarely_raises_a_band_alert():
    # 10 stable companies x 2 metrics x 21 judged months = 420 points; a 3-sigma band should
    # flag about 0.3 % of them (~1); a band as narrow as a 95 % interval would flag ~20.
    n_alerts = sum(
        (
            alerts({"responses": _stable(seed=s)}, metrics=["nps", "csat"])["rule"]
            == "outside-band"
        ).sum()
        for s in range(10)
    )
    assert n_alerts <= 4


def test_a_jump_is_caught_and_the_last_change_tested():
    r = _stable()
    last = r["ts"] >= "2025-12-01"
    r.loc[last, "nps"] = 10  # everyone a promoter in the last month
    a = alerts({"responses": r}, metrics=["nps"], recent=1)
    rules = set(a.loc[a["period"] == "2025-12", "rule"])
    assert {"outside-band", "change"} <= rules


def test_alert_rows_carry_the_point_interval_and_flag():
    r = _stable()
    r.loc[r["ts"] >= "2025-12-01", "nps"] = 10
    a = alerts({"responses": r}, metrics=["nps"], recent=1)
    assert len(a) and (a["ci_low"] <= a["value"]).all() and (a["value"] <= a["ci_high"]).all()
    assert (a["level"] == 0.95).all() and (a["n"] == 400).all()
    change = a[a["rule"] == "change"].iloc[0]
    assert change["flag"] == "significant" and change["ci_high"] == 100.0  # clipped to scale


def test_small_n_points_never_alert():
    r = _stable(n=20)  # every point below the default min_n of 30
    r.loc[r["ts"] >= "2025-12-01", "nps"] = 10
    assert alerts({"responses": r}, metrics=["nps"]).empty
    assert not alerts({"responses": r}, metrics=["nps"], min_n=10).empty


def test_alerts_take_tables_not_a_workspace(ws):
    with pytest.raises(CxroiError, match="mapping of table name"):
        alerts(ws)


def test_series_has_a_band():
    s = series({"responses": _stable()}, "nps")
    assert len(s) == 24 and s["upper"].iloc[10] > s["centre"].iloc[10] > s["lower"].iloc[10]


@pytest.fixture(scope="module")
def company():
    from cxroi.simulate import generate

    return generate(customers=4_000, months=24, seed=2)


def test_simulated_initiative_in_south_is_flagged(company):
    # Ground truth: "Fair price promise" (south, standard plan) from 2025-02 and "New mobile
    # app" (south, basic plan) from 2025-03, each +10 to +30 NPS points for their customers
    south_inits = [i for i in company.truth["initiatives"] if "region == 'south'" in i["target"]]
    assert len(south_inits) == 2
    launch = min(south_inits, key=lambda i: i["start_date"])
    a = alerts(company.tables, metrics=["nps"], by="region", window=None)
    south = a[(a["region"] == "south") & (a["period"] >= launch["start_date"][:7])]
    assert (south["value"] > south["centre"]).any()
