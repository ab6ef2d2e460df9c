"""``cxroi.analyses.churn.churn``: survival, hazard ratios, retention CLV as one result."""

from __future__ import annotations

import pytest

from cxroi.analyses.churn import churn
from cxroi.errors import CxroiError
from cxroi.models.survival import churn_frame
from cxroi.results import Result
from tests.models._workspaces import simulated_workspace


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return simulated_workspace(tmp_path_factory.mktemp("sim") / "ws", customers=4000, seed=3)


@pytest.fixture(scope="module")
def result(company) -> Result:
    return churn(company[0])


def test_tables_and_contract(result):
    assert result.analysis == "churn"
    assert result.names == ["survival", "hazard_ratios", "segments"]
    assert result.problems() == []
    for name in result.names:
        cols = set(result.table(name).columns)
        assert {"estimate", "ci_low", "ci_high", "level", "n", "flag"} <= cols, name
        assert not cols & {"lower_95", "upper_95", "small_n", "survival", "clv"}, name
    assert set(result.params) >= {"n_customers", "n_churned", "n_cox", "n_events"}
    assert set(result.window) == {"as_of", "observed_from"}


def test_hazard_ratios_of_perception_and_slow_response(result, company):
    _, truth = company
    hr = result.table("hazard_ratios").set_index("term")
    assert {"nps_group=detractor", "nps_group=passive", "slow_response"} <= set(hr.index)
    assert hr.loc["nps_group=detractor", "ci_low"] > 1  # truth 2.8
    assert hr.loc["nps_group=passive", "n"] > 0
    assert result.params["n_events"] <= result.params["n_churned"]
    assert any(r.startswith("Detractors churn at") for r in result.readings)


def test_survival_and_segments(result, company):
    ws, _ = company
    s = result.table("survival")
    assert (s["ci_low"] <= s["estimate"]).all() and (s["estimate"] <= s["ci_high"]).all()
    seg = result.table("segments").set_index("segment")
    frame = churn_frame(
        ws.tables["contracts"], as_of=result.window["as_of"],
        customers=ws.tables["customers"], observed_from=result.window["observed_from"],
    ).execute()  # fmt: skip
    assert seg["n"].sum() == len(frame) == result.params["n_customers"]
    assert (seg["ci_low"] < seg["estimate"]).all() and (seg["estimate"] < seg["ci_high"]).all()


def test_json_round_trip(result):
    back = Result.from_json(result.to_json())
    assert back.names == result.names and back.params == result.params


def test_bad_by_names_the_parameter(company):
    with pytest.raises(CxroiError, match="by 'nope' is not a column of customers"):
        churn(company[0], by="nope")
