"""The per-customer ledger (cxroi.models.ledger) by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from cxroi.models.ledger import ledger_frame
from tests.models._workspaces import tiny_workspace


@pytest.fixture()
def tiny(tmp_path):
    return tiny_workspace(tmp_path / "ws")


def test_ledger_by_hand(tiny):
    led = ledger_frame(tiny.tables).set_index("customer_id")
    # data cover 2024-01-01 .. 2024-12-31; a entered (left-truncated) 2024-01-01, still active
    assert led.loc["a", "churned"] == 0
    assert led.loc["a", "exposure_years"] == pytest.approx(365 / 365.25)
    assert led.loc["a", "tenure_years"] == pytest.approx(214 / 365.25)  # 2023-06-01 -> entry
    assert led.loc["a", "spend"] == 40.0 and led.loc["a", "purchases"] == 2
    assert led.loc["a", "nps_latest"] == 9 and led.loc["a", "nps_group"] == "promoter"
    assert led.loc["a", "nps_mean"] == 7.0
    assert led.loc["a", "tickets"] == 2 and led.loc["a", "support_cost"] == 10.0
    assert led.loc["a", "first_response_hours"] == pytest.approx(4.0)  # median of 2 h and 6 h
    # b churned when its only contract ended on 2024-07-01
    assert led.loc["b", "churned"] == 1
    assert led.loc["b", "exposure_years"] == pytest.approx(122 / 365.25)
    assert led.loc["b", "nps_group"] == "detractor"
    assert led.loc["b", "first_response_hours"] == pytest.approx(24.0)
    assert led.loc["b", "plan"] == "pro"


def test_ledger_survey_picks_the_nps(tiny):
    # no response belongs to survey "relationship": nobody has an NPS from it
    led = ledger_frame(tiny.tables, survey="relationship")
    assert led["nps_latest"].isna().all() and led["nps_group"].isna().all()
    assert (led["responses"] == 0).all()


def test_missing_score_has_no_group(tiny):
    # a customer without a response has no NPS group (never a detractor)
    tiny.ingest("customers", pd.DataFrame({"customer_id": ["c"], "plan": ["basic"]}))
    led = ledger_frame(tiny.tables).set_index("customer_id")
    assert pd.isna(led.loc["c", "nps_latest"]) and pd.isna(led.loc["c", "nps_group"])
