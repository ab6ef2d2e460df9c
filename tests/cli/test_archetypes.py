"""``cxroi archetypes``: JSON with intervals, n and method; ``--out`` with every customer's
archetype (formula-safe, whole); one-line errors."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxroi.cli import app
from cxroi.results import Result
from cxroi.store import Workspace
from tests.models._workspaces import simulated_workspace

runner = CliRunner()
N = 3000


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory):
    ws, _truth = simulated_workspace(tmp_path_factory.mktemp("cli") / "ws", customers=N,
                                     months=12, seed=5)  # fmt: skip
    ws.close()
    return ws.path


@pytest.fixture(scope="module")
def with_out(ws_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "archetypes.csv"
    args = ["archetypes", "-w", str(ws_path), "--k", "3", "--out", str(out), "--format", "json"]
    res = runner.invoke(app, [*args, "--jobs", "1"])
    assert res.exit_code == 0, res.output
    return Result.from_json(res.stdout), out


def test_json_carries_intervals_n_and_method(with_out):
    result, _out = with_out
    assert result.analysis == "archetypes" and result.problems() == []
    main = result.table("archetypes")
    assert len(main) == 3 and main["name"].is_unique
    assert {"value", "ci_low", "ci_high", "level", "n", "flag", "description"} <= set(main)
    assert (main["n"] == N).all() and main["customers"].sum() == N
    assert "BIC" in result.method and result.params["k"] == 3
    assert result.params["n_customers"] == N
    metrics = result.table("metrics")
    nps = metrics[metrics["metric"] == "NPS"]
    assert (nps["ci_low"] < nps["value"]).all() and (nps["n"] > 0).all()


def test_out_lists_every_customer_with_archetype_and_probability(with_out, ws_path):
    result, out = with_out
    raw = out.read_bytes().decode("utf-8")
    assert raw.startswith("customer_id,archetype,probability\r\n")
    rows = pd.read_csv(io.StringIO(raw))
    with Workspace.open(ws_path, read_only=True) as ws:
        ids = ws.table("customers").select("customer_id").to_pandas()["customer_id"]
    assert sorted(rows["customer_id"]) == sorted(ids)
    assert rows["probability"].between(0, 1).all()
    counts = rows["archetype"].value_counts()
    main = result.table("archetypes").set_index("name")
    assert counts.to_dict() == main["customers"].to_dict()
    assert not list(out.parent.glob(".*.tmp"))  # written whole: no temporary file left


def test_table_and_csv_formats(ws_path):
    res = runner.invoke(app, ["archetypes", "-w", str(ws_path), "--k", "2", "--no-themes"])
    assert res.exit_code == 0, res.output
    assert "Archetypes" in res.stdout and "of customers" in res.stdout
    res = runner.invoke(app, ["archetypes", "-w", str(ws_path), "--k", "2", "--no-themes",
                              "--format", "csv", "--table", "metrics"])  # fmt: skip
    assert res.exit_code == 0, res.output
    header = next(csv.reader(io.StringIO(res.stdout)))
    assert header[:3] == ["archetype", "name", "metric"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--k", "0"], f"error: --k must be from 1 to the {N} customers, got 0"),
        (["--k", "2", "--out", "/no/such/folder/a.csv"], "error: --out /no/such/folder/a.csv"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(ws_path, extra, expected):
    res = runner.invoke(app, ["archetypes", "-w", str(ws_path), "--no-themes", *extra])
    assert res.exit_code == 2
    assert res.output.startswith(expected)
    assert len(res.output.strip().splitlines()) == 1


def test_out_is_formula_safe(tmp_path):
    with Workspace.init(tmp_path / "ws") as ws:
        ids = ["=HYPERLINK(1)", "b"]
        ws.ingest("customers", pd.DataFrame({"customer_id": ids, "plan": ["x", "y"],
                  "signup_date": pd.to_datetime(["2024-01-01", "2024-02-01"])}))  # fmt: skip
        ws.ingest("transactions", pd.DataFrame({"transaction_id": ["t1", "t2"],
                  "customer_id": ids, "ts": pd.to_datetime(["2024-03-01", "2024-04-01"]),
                  "amount": [10.0, 20.0]}))  # fmt: skip
    out = tmp_path / "a.csv"
    res = runner.invoke(app, ["archetypes", "-w", str(tmp_path / "ws"), "--k", "1", "--out",
                              str(out), "--format", "json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "'=HYPERLINK(1)," in out.read_text()
