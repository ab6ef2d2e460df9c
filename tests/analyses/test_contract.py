"""The result contract, held by every analysis: one test parametrized over all of them.

Each analysis runs on one simulated company; its result must render as a table, CSV and
JSON, round-trip through JSON unchanged, and give every estimate row an ``n`` and an interval
or a stated reason for none (:meth:`cxroi.results.Result.problems`).
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from cxroi import Workspace, analyses
from cxroi.cli._render import emit
from cxroi.results import ESTIMATE_COLUMNS, Result

CASES = {
    "workspace_tables": lambda ws, tmp: analyses.workspace_tables(ws),
    "scorecard": lambda ws, tmp: analyses.scorecard(ws, by=["plan"], metrics=["nps", "revenue"]),
    "alerts": lambda ws, tmp: analyses.alerts(ws, metrics=["nps"]),
    "cohorts": lambda ws, tmp: analyses.cohorts(ws, period="quarter"),
    "drivers": lambda ws, tmp: analyses.drivers(ws, survey="relationship", dropna=True,
                                                n_boot=20),
    "value": lambda ws, tmp: analyses.value(ws, survey="relationship", n_boot=20),
    "lever": lambda ws, tmp: analyses.lever(ws, threshold=24, survey="relationship"),
    "clv": lambda ws, tmp: analyses.clv(ws, calibration_end="2025-06-30",
                                        holdout_end="2025-12-31"),
    "churn": lambda ws, tmp: analyses.churn(ws, by="plan"),
    "themes": lambda ws, tmp: analyses.themes(ws, n_jobs=1),
    "emerging": lambda ws, tmp: analyses.emerging(ws, n_jobs=1),
    "sentiment": lambda ws, tmp: analyses.sentiment(_reviews(tmp), text_column="text", n_jobs=1),
    "privacy_scan": lambda ws, tmp: analyses.privacy_scan(ws),
    "initiative_list": lambda ws, tmp: analyses.initiative_list(ws),
    "initiative_show": lambda ws, tmp: analyses.initiative_show(ws, "I001"),
    "roi_simulate": lambda ws, tmp: analyses.roi_simulate(ws, "I002", draws=50),
    "roi_measure": lambda ws, tmp: analyses.roi_measure(ws, "I001", draws=50),
    "roi_compare": lambda ws, tmp: analyses.roi_compare(ws),
    "roi_closed_loop": lambda ws, tmp: analyses.roi_closed_loop(ws, draws=50),
    "segments": lambda ws, tmp: analyses.segments(ws, n_boot=20),
    "opportunities": lambda ws, tmp: analyses.opportunities(ws, n_boot=20),
    "archetypes": lambda ws, tmp: analyses.archetypes(ws, n_boot=2),
    "journey_check": lambda ws, tmp: analyses.journey_check(ws),
    "journey_touchpoints": lambda ws, tmp: analyses.journey_touchpoints(ws),
    "journey_funnel": lambda ws, tmp: analyses.journey_funnel(
        ws, ["website", "checkout", "delivery"], within="60d", by="plan"),
    "journey_paths": lambda ws, tmp: analyses.journey_paths(ws, length=3, top=5),
    "journey_pain_points": lambda ws, tmp: analyses.journey_pain_points(ws, n_boot=20),
    "journey_picture": lambda ws, tmp: analyses.journey_picture(ws, "blueprint",
                                                                tmp / "blueprint.svg"),
}  # fmt: skip
# at-risk needs more churners than the small company has: it runs on a subscription company
# of customers and contracts only (tests/analyses/test_at_risk.py), its other use case
ON_CONTRACTS = {"at_risk": lambda ws, tmp: analyses.at_risk(ws, top=5)}
WRITERS = {
    "initiative_add": lambda ws, tmp: analyses.initiative_add(
        ws, initiative_id="T1", name="Test", level="excellence", start="2025-05-01", cost=10.0,
        target="plan == 'premium'"),
    "initiative_close": lambda ws, tmp: analyses.initiative_close(ws, "T1", end="2025-09-30"),
    "journey_init": lambda ws, tmp: analyses.journey_init(ws),
}  # fmt: skip
NOT_RESULTS = {  # the fitted theme model itself; per-customer frames another analysis reads
    "theme_model",
    "at_risk_scores",
    "archetype_assignments",
}


def _reviews(tmp):
    path = tmp / "reviews.csv"
    path.write_text("id,text\n1,Great service!\n2,=cmd|' /C calc'!A0 terrible\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    from cxroi.simulate import generate

    sim = generate(customers=1500, months=24, seed=4)
    path = tmp_path_factory.mktemp("contract") / "ws"
    with Workspace.init(path) as ws:
        for name, table in sim.tables.items():
            ws.ingest(name, table)
    return path


@pytest.fixture(scope="module")
def results(company, tmp_path_factory):
    from tests.analyses.test_at_risk import contracts_only_workspace

    tmp = tmp_path_factory.mktemp("contract-files")
    with Workspace.open(company) as ws:
        out = {name: case(ws, tmp) for name, case in WRITERS.items()}
    with Workspace.open(company, read_only=True) as ws:
        out.update({name: case(ws, tmp) for name, case in CASES.items()})
    with contracts_only_workspace(tmp / "contracts-only") as ws:
        out.update({name: case(ws, tmp) for name, case in ON_CONTRACTS.items()})
    return out


ALL = sorted({**CASES, **WRITERS, **ON_CONTRACTS})


def test_every_analysis_has_a_case():
    assert set(analyses.__all__) - NOT_RESULTS == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_result_keeps_the_contract(results, name):
    r = results[name]
    assert isinstance(r, Result) and r.tables
    assert r.problems() == []
    for t in r.tables:
        if t.kind == "estimates":
            assert set(ESTIMATE_COLUMNS) <= set(t.frame.columns)
            assert t.frame["n"].notna().all(), f"{t.name}: every estimate row has an n"


@pytest.mark.parametrize("name", ALL)
def test_json_round_trips_and_carries_every_table(results, name):
    r = results[name]
    d = json.loads(r.to_json())
    back = Result.from_json(r.to_json())
    assert back.to_dict() == d
    assert [t["name"] for t in d["tables"]] == r.names
    for t, part in zip(d["tables"], r.tables, strict=True):
        assert len(t["rows"]) == len(part.frame)
        assert [c["name"] for c in t["columns"]] == [str(c) for c in part.frame.columns]


@pytest.mark.parametrize("name", ALL)
def test_renders_as_table_csv_and_json(results, name, capsys):
    r = results[name]
    emit(r, "table")
    shown = capsys.readouterr().out
    for t in r.tables:  # a table marked show=False prints only when asked for by name
        if t.show:
            assert t.title.split(" ")[0] in shown
        else:
            assert t.title not in shown
    for t in r.tables:
        emit(r, "csv", table=t.name)
        rows = list(csv.reader(io.StringIO(capsys.readouterr().out, newline="")))
        assert rows[0] == [str(c) for c in t.frame.columns]
        assert len(rows) == len(t.frame) + 1
    emit(r, "json")
    assert json.loads(capsys.readouterr().out)["analysis"] == r.analysis


def test_json_carries_what_the_table_view_shows(results):
    """Everything a table prints is in its JSON, and the method and window come along."""
    v = results["value"]
    d = v.to_dict()
    effects = next(t for t in d["tables"] if t["name"] == "effects")
    assert {r["outcome"] for r in effects["rows"]} == {"churn", "spend"}
    for row in effects["rows"]:
        assert row["method"] and row["n"] > 0
        assert row["ci_low"] < row["estimate"] < row["ci_high"]
    lever = results["lever"].to_dict()
    row = lever["tables"][0]["rows"][0]
    assert row["method"] == "cox (time-varying)" and row["n"] > 0
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
