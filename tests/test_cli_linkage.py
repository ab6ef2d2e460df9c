"""The ``cxroi drivers``, ``cxroi value`` and ``cxroi lever`` commands on a simulated company.

These run the CLI and read its JSON back as a result (``tests/utils/cli.py``).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cxroi.store import Workspace
from tests.utils.cli import rows, run_json

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


def test_drivers_rank_the_true_drivers_and_cover_their_shares(company_ws):
    path, truth = company_ws
    out = rows(["drivers", "-w", str(path), "--survey", "relationship", "--dropna"])
    true_order = sorted(truth["driver_weights"], key=truth["driver_weights"].get, reverse=True)
    assert [r["driver"] for r in out] == true_order
    shares = truth["driver_shares"]["shares"]
    covered = sum(r["share_ci_low"] <= shares[r["driver"]] <= r["share_ci_high"] for r in out)
    assert covered >= 5
    assert {r["quadrant"] for r in out} <= {"fix first", "keep up", "monitor", "maintain"}
    assert all(r["ci_low"] <= r["estimate"] <= r["ci_high"] and r["n"] > 0 for r in out)


def test_drivers_subset_and_group(company_ws):
    path, _ = company_ws
    args = ["drivers", "-w", str(path), "--survey", "relationship", "--dropna"]
    out = rows([*args, "-d", "rating_delivery", "-d", "rating_app", "--by", "plan"])
    assert {r["driver"] for r in out} == {"rating_delivery", "rating_app"}
    assert {r["group"] for r in out} == {"basic", "standard", "premium"}
    for plan in ("basic", "standard", "premium"):
        top = [r for r in out if r["group"] == plan][0]
        assert top["driver"] == "rating_delivery"


def test_value_tables_and_adjusted_effects(company_ws):
    path, truth = company_ws
    args = ["value", "-w", str(path), "--survey", "relationship"]
    res = run_json(args)
    assert res.problems() == [] and res.names == ["value", "effects"]
    value = {(r["nps_group"], r["metric"]): r for r in res.get("value").records()}
    # promoters churn less and spend more than detractors (truth: hazard 1 vs 2.8, spend
    # multiple 1 vs 0.75); the move detractor -> passive is worth money
    assert value[("promoter", "churn_rate")]["value"] < value[("detractor", "churn_rate")]["value"]
    assert value[("detractor->passive", "clv")]["ci_low"] > 0
    # the adjusted hazard ratios are always in the JSON, with interval, n and method
    assert {r["method"] for r in res.get("effects").records()} == {
        "cox (time-varying)",
        "log-linear regression",
    }
    effects = {(r["outcome"], r["nps_group"]): r for r in rows([*args, "--adjust", "plan"],
                                                               "effects")}  # fmt: skip
    assert effects[("churn", "detractor")]["ci_low"] > 1
    assert effects[("spend", "detractor")]["ci_high"] < 1
    assert effects[("spend", "detractor")]["estimate"] < effects[("spend", "passive")]["estimate"]
    assert all(r["reading"].endswith("adjusted for plan.") for r in effects.values())
    assert all(r["n"] > 0 and r["level"] == 0.95 for r in effects.values())


def test_lever_slow_first_response_covers_the_true_hazard_ratio(company_ws):
    path, truth = company_ws
    threshold = truth["slow_response_threshold_hours"]
    args = ["lever", "-w", str(path), "--measure", "first_response_hours", "--survey"]
    res = run_json([*args, "relationship", "--threshold", str(threshold), "--adjust", "plan"])
    out = res.get("lever").records()
    assert len(out) == 1 and res.problems() == []
    assert out[0]["ci_low"] <= truth["slow_response_hazard_ratio"] <= out[0]["ci_high"]
    assert out[0]["method"] == "cox (time-varying)" and out[0]["n"] > 0
    assert out[0]["reading"].endswith(
        "adjusted for having a ticket, NPS group so far, ticket rate, plan."
    )


def test_lever_unknown_measure_is_one_clean_line(company_ws):
    from cxroi.cli import app

    path, _ = company_ws
    res = runner.invoke(app, ["lever", "-w", str(path), "--measure", "events.speed"])
    assert res.exit_code == 2
    assert res.output.startswith("error: unknown measure 'events.speed'")
    assert "Traceback" not in res.output
