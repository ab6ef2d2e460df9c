"""Value of perception (cxroi.models.perception): hand-made ledgers and the simulator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.ledger import ledger_frame
from cxroi.models.perception import value_of_perception
from tests.models._workspaces import simulated_workspace


def _ledger(groups: dict[str, tuple[int, int, float, float]]) -> pd.DataFrame:
    """Customers per group: (n, churned, spend each, exposure years each)."""
    rows = []
    for g, (n, churned, spend, years) in groups.items():
        for i in range(n):
            rows.append(
                {
                    "nps_group": g,
                    "churned": int(i < churned),
                    "exposure_years": years,
                    "spend": spend,
                    "purchases": 2,
                    "support_cost": 10.0 if g == "detractor" else 0.0,
                    "plan": "basic" if i % 2 else "pro",
                }
            )
    return pd.DataFrame(rows)


def test_value_of_perception_by_hand():
    led = _ledger(
        {
            "promoter": (100, 10, 200.0, 2.0),
            "passive": (80, 16, 150.0, 2.0),
            "detractor": (50, 20, 100.0, 1.0),
        }
    )
    out = value_of_perception(led, discount_rate=0.1, n_boot=100, random_state=1)
    v = out.set_index(["nps_group", "metric"])["value"]
    churn_p = 1 - math.exp(-10 / 200)  # events / customer-years
    assert v["promoter", "churn_rate"] == pytest.approx(churn_p)
    assert v["promoter", "spend_per_year"] == pytest.approx(100.0)
    assert v["detractor", "support_cost_per_year"] == pytest.approx(10.0)
    r = 1 - churn_p
    assert v["promoter", "clv"] == pytest.approx(100 * r / (1.1 - r))
    churn_d = 1 - math.exp(-20 / 50)
    clv_d = 90 * (1 - churn_d) / (1.1 - (1 - churn_d))
    churn_s = 1 - math.exp(-16 / 160)
    clv_s = 75 * (1 - churn_s) / (1.1 - (1 - churn_s))
    assert v["detractor->passive", "clv"] == pytest.approx(clv_s - clv_d)
    row = out.set_index(["nps_group", "metric"]).loc[("promoter", "churn_rate")]
    assert row["ci_low"] < row["value"] < row["ci_high"] and row["n"] == 100
    assert row["level"] == 0.95


def test_value_of_perception_by_segment_flags_small_groups():
    led = _ledger(
        {
            "promoter": (100, 10, 200.0, 2.0),
            "passive": (40, 8, 150.0, 2.0),
            "detractor": (20, 5, 100.0, 1.0),
        }
    )
    out = value_of_perception(led, by="plan", min_n=30, n_boot=20)
    flags = out.set_index(["plan", "nps_group", "metric"])["flag"]
    assert flags["pro", "promoter", "clv"] == ""
    assert flags["pro", "detractor", "clv"] == "small-n"
    assert flags["pro", "detractor->passive", "clv"] == "small-n"  # 10 detractors, 20 passives
    with pytest.raises(CxroiError, match="by 'tier' is not a column of the ledger"):
        value_of_perception(led, by="tier")


def test_value_of_perception_without_bootstrap_has_no_interval():
    led = _ledger({"promoter": (40, 4, 200.0, 2.0), "detractor": (40, 8, 100.0, 1.0)})
    out = value_of_perception(led, n_boot=0)
    assert out["ci_low"].isna().all() and out["value"].notna().all()
    with pytest.raises(CxroiError, match="no customer has an NPS response"):
        value_of_perception(led.assign(nps_group=None))


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return simulated_workspace(tmp_path_factory.mktemp("sim") / "ws", customers=4000, seed=1)


def test_promoters_are_worth_more_than_detractors(company):
    # Direction of the C -> B link in the simulator: promoters churn less and spend more.
    ws, _ = company
    out = value_of_perception(ledger_frame(ws.tables, survey="relationship"), n_boot=100)
    v = out.set_index(["nps_group", "metric"])
    for metric, sign in (("churn_rate", -1), ("spend_per_year", 1), ("clv", 1)):
        move = v.loc[("passive->promoter", metric)]
        assert sign * move["ci_low"] > 0 or sign * move["ci_high"] < 0
        assert np.sign(move["value"]) == sign
