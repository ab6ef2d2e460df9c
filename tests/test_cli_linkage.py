"""The ``cxroi drivers``, ``cxroi value`` and ``cxroi lever`` commands on a simulated company."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cxroi.cli import app
from cxroi.store import Workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def company_ws(tmp_path_factory):
    from cxroi.simulate import generate

    company = generate(customers=4000, months=24, seed=3)
    path = tmp_path_factory.mktemp("linkage") / "ws"
    with Workspace.init(path) as ws:
        for name, table in company.tables.items():
            ws.ingest(name, table)
    return path, company.truth


def _json(args: list[str]) -> list[dict]:
    res = runner.invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_drivers_rank_the_true_drivers_and_cover_their_shares(company_ws):
    path, truth = company_ws
    rows = _json(["drivers", "-w", str(path), "--survey", "relationship", "--dropna"])
    true_order = sorted(truth["driver_weights"], key=truth["driver_weights"].get, reverse=True)
    assert [r["driver"] for r in rows] == true_order
    shares = truth["driver_shares"]["shares"]
    covered = sum(r["share_ci_low"] <= shares[r["driver"]] <= r["share_ci_high"] for r in rows)
    assert covered >= 5
    assert {r["quadrant"] for r in rows} <= {"fix first", "keep up", "monitor", "maintain"}


def test_drivers_subset_and_group(company_ws):
    path, _ = company_ws
    args = ["drivers", "-w", str(path), "--survey", "relationship", "--dropna"]
    rows = _json([*args, "-d", "rating_delivery", "-d", "rating_app", "--by", "plan"])
    assert {r["driver"] for r in rows} == {"rating_delivery", "rating_app"}
    assert {r["group"] for r in rows} == {"basic", "standard", "premium"}
    for plan in ("basic", "standard", "premium"):
        top = [r for r in rows if r["group"] == plan][0]
        assert top["driver"] == "rating_delivery"


def test_value_tables_and_adjusted_effects(company_ws):
    path, truth = company_ws
    args = ["value", "-w", str(path), "--survey", "relationship"]
    value = {(r["nps_group"], r["metric"]): r for r in _json(args)}
    # promoters churn less and spend more than detractors (truth: hazard 1 vs 2.8, spend
    # multiple 1 vs 0.75); the move detractor -> passive is worth money
    assert value[("promoter", "churn_rate")]["value"] < value[("detractor", "churn_rate")]["value"]
    assert value[("detractor->passive", "clv")]["ci_low"] > 0
    rows = {(r["outcome"], r["nps_group"]): r for r in _json([*args, "--adjust", "plan"])}
    assert rows[("churn", "detractor")]["ci_low"] > 1
    assert rows[("spend", "detractor")]["ci_high"] < 1
    assert rows[("spend", "detractor")]["estimate"] < rows[("spend", "passive")]["estimate"]
    assert all(r["reading"].endswith("adjusted for plan.") for r in rows.values())


def test_lever_slow_first_response_covers_the_true_hazard_ratio(company_ws):
    path, truth = company_ws
    threshold = truth["slow_response_threshold_hours"]
    args = ["lever", "-w", str(path), "--measure", "first_response_hours", "--survey"]
    rows = _json([*args, "relationship", "--threshold", str(threshold), "--adjust", "plan"])
    assert len(rows) == 1
    assert rows[0]["ci_low"] <= truth["slow_response_hazard_ratio"] <= rows[0]["ci_high"]
    assert rows[0]["reading"].endswith(
        "adjusted for having a ticket, NPS group so far, ticket rate, plan."
    )


def test_lever_unknown_measure_is_one_clean_line(company_ws):
    path, _ = company_ws
    res = runner.invoke(app, ["lever", "-w", str(path), "--measure", "events.speed"])
    assert res.exit_code == 2
    assert res.output.startswith("error: unknown measure 'events.speed'")
    assert "Traceback" not in res.output
