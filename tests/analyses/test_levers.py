"""``cxroi.analyses.levers.lever``: the result contract and the simulator's truth."""

from __future__ import annotations

import pytest

from cxroi.analyses.levers import lever
from cxroi.errors import CxroiError
from cxroi.results import Result
from tests.models._workspaces import simulated_workspace


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return simulated_workspace(tmp_path_factory.mktemp("sim") / "ws", customers=4000, seed=3)


def test_slow_first_response_lever_covers_the_truth(company):
    ws, truth = company
    res = lever(
        ws, threshold=truth["slow_response_threshold_hours"], adjust=["plan"],
        survey="relationship",
    )  # fmt: skip
    assert res.analysis == "lever" and res.problems() == []
    row = res.table("lever").iloc[0]
    assert row["ci_low"] <= truth["slow_response_hazard_ratio"] <= row["ci_high"]
    assert row["method"] == "cox (time-varying)" and row["n"] > 1000 and row["level"] == 0.95
    assert res.adjustment == ["having a ticket", "NPS group so far", "ticket rate", "plan"]
    assert res.readings == [row["reading"]]
    back = Result.from_json(res.to_json())
    assert back.table("lever")["estimate"].iloc[0] == pytest.approx(row["estimate"])


def test_spend_lever_has_both_estimators(company):
    ws, _ = company
    res = lever(ws, outcome="spend", threshold=24, adjust=[])
    frame = res.table("lever")
    assert res.problems() == [] and res.adjustment == []
    assert list(frame["method"]) == ["regression adjustment", "doubly robust (AIPW)"]
    assert (frame["ci_low"] < frame["ci_high"]).all()


def test_unknown_measure_names_the_parameter(company):
    ws, _ = company
    with pytest.raises(CxroiError, match="unknown measure 'events.speed'"):
        lever(ws, measure="events.speed")
