"""The initiative register: add, list, show, close, with clear errors and overlap warnings."""

from __future__ import annotations

import pandas as pd
import pytest

from cxroi import Workspace
from cxroi.analyses import initiative_add, initiative_close, initiative_list, initiative_show
from cxroi.errors import CxroiError
from tests.utils.cli import run_json

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [f"c{i}" for i in range(6)],
        "plan": ["basic", "basic", "premium", "premium", "premium", "standard"],
        "region": ["north", "south", "north", "south", "north", "north"],
    }
)


@pytest.fixture
def wsp(tmp_path):
    with Workspace.init(tmp_path / "w") as ws:
        ws.ingest("customers", CUSTOMERS)
        ws.ingest("responses", pd.DataFrame({"response_id": ["r"], "ts": ["2025-01-05"],
                                             "nps": [9], "rating_app": [4]}))  # fmt: skip
    return tmp_path / "w"


def _add(ws, iid="A1", **kw):
    opts = dict(name="Faster refunds", level="efficiency", start="2025-02-01", cost=1000.0)
    return initiative_add(ws, initiative_id=iid, **{**opts, **kw})


def test_add_stores_every_field_and_counts_the_target(wsp):
    with Workspace.open(wsp) as ws:
        r = _add(ws, target="plan == 'premium' and region == 'north'", running_cost=50.0,
                 metric="rating_app", expected_effect=0.4, behaviour="spend",
                 holdout_share=0.1, touchpoint="refunds", owner="ops")  # fmt: skip
        assert r.params["target_customers"] == 2  # c2 and c4, by hand
        row = ws.table("initiatives").to_pandas().iloc[0]
    assert (row["level"], row["cost"], row["running_cost"]) == ("efficiency", 1000.0, 50.0)
    assert (row["metric"], row["expected_effect"], row["behaviour"]) == ("rating_app", 0.4, "spend")
    assert row["holdout_share"] == 0.1 and pd.Timestamp(row["start_date"]) == pd.Timestamp(
        "2025-02-01"
    )
    assert "targets 2 customers" in r.readings[0] and "by +0.4" in r.readings[0]
    assert r.problems() == []


def test_overlapping_initiatives_warn_and_say_how_effects_are_attributed(wsp):
    with Workspace.open(wsp) as ws:
        _add(ws, "A1", target="plan == 'premium'", end="2025-06-30")
        r = _add(ws, "A2", target="region == 'north'", start="2025-05-01")
        later = _add(ws, "A3", target="region == 'north'", start="2025-07-01", level="excellence")
    # A2 meets A1 in May-June on c2 and c4; A3 starts after A1 ended but runs with A2 (3 north)
    assert len(r.warnings) == 1 and "A2 overlaps A1" in r.warnings[0]
    assert "on 2 customers" in r.warnings[0] and "leaves them out of both" in r.warnings[0]
    assert "customers it reaches alone" in r.warnings[0]
    assert len(later.warnings) == 1 and "A3 overlaps A2" in later.warnings[0]
    assert "on 4 customers" in later.warnings[0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": "magic"}, "level 'magic' is not a maturity level; choose efficiency"),
        ({"target": "plan == 'gold'"}, "matches no customer"),
        ({"target": "tier == 'x'"}, "customers have no column 'tier'"),
        ({"end": "2025-01-01"}, "end 2025-01-01 is before start 2025-02-01"),
        ({"metric": "happiness"}, "metric 'happiness' is not a perception score"),
        ({"behaviour": "joy"}, "behaviour 'joy' is not one of churn"),
        ({"cost": -1.0}, "cost must be 0 or more"),
        ({"holdout_share": 0.95}, "holdout_share must be in"),
        ({"start": "soon"}, "start: 'soon' is not a date"),
    ],
)
def test_bad_initiatives_are_clear_errors_and_write_nothing(wsp, options, message):
    with Workspace.open(wsp) as ws:
        with pytest.raises(CxroiError, match=message):
            _add(ws, **options)
        assert ws.table("initiatives").count().execute() == 0


def test_a_duplicate_id_is_refused(wsp):
    with Workspace.open(wsp) as ws:
        _add(ws)
        with pytest.raises(CxroiError, match="exists already"):
            _add(ws)


def test_close_sets_the_end_and_keeps_the_rest(wsp):
    with Workspace.open(wsp) as ws:
        _add(ws, target="region == 'north'", running_cost=20.0)
        r = initiative_close(ws, "A1", end="2025-08-31")
        row = ws.table("initiatives").to_pandas().iloc[0]
        with pytest.raises(CxroiError, match="no initiative 'B9'; the register has A1"):
            initiative_close(ws, "B9")
        with pytest.raises(CxroiError, match="before the start"):
            initiative_close(ws, "A1", end="2024-01-01")
    assert pd.Timestamp(row["end_date"]) == pd.Timestamp("2025-08-31")
    assert (row["target"], row["running_cost"], row["name"]) == ("region == 'north'", 20.0,
                                                                 "Faster refunds")  # fmt: skip
    assert "to 2025-08-31" in r.readings[0]


def test_list_and_show(wsp):
    with Workspace.open(wsp) as ws:
        _add(ws, "A1", target="plan == 'basic'")
        _add(ws, "A2", level="experience_innovation", start="2025-03-01")
        listing = initiative_list(ws)
        shown = initiative_show(ws, "A1")
    f = listing.table()
    assert list(f["initiative_id"]) == ["A1", "A2"]
    assert list(f["target_customers"]) == [2, 6]
    assert "2 initiative(s): efficiency 1, excellence 0" in listing.readings[0]
    fields = dict(zip(shown.table()["field"], shown.table()["value"], strict=True))
    assert fields["start_date"] == "2025-02-01" and fields["target"] == "plan == 'basic'"
    assert len(shown.warnings) == 1  # A2 targets everyone from March, A1 still runs


def test_cli_round_trip(wsp):
    r = run_json(["initiative", "add", "C1", "--name", "App redesign", "--level",
                  "experience_innovation", "--start", "2025-04-01", "--cost", "8000",
                  "--target", "plan in ('basic', 'standard')", "-w", str(wsp)])  # fmt: skip
    assert r.params["target_customers"] == 3
    listing = run_json(["initiative", "list", "-w", str(wsp)])
    assert listing.table()["initiative_id"].tolist() == ["C1"]
    closed = run_json(["initiative", "close", "C1", "--end", "2025-12-31", "-w", str(wsp)])
    assert "to 2025-12-31" in closed.readings[0]
