"""CLI conventions: every command has help and is in the README; errors are one clean line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cxroi.cli import app
from tests.utils.cli import rows as json_rows
from tests.utils.factories import TX_HEADER, transactions_rows, write_csv

runner = CliRunner()
README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, object]:
    import typer.main

    group = typer.main.get_group(app)
    return dict(group.commands)


def test_help_lists_every_command_with_a_one_line_help():
    out = runner.invoke(app, ["--help"], terminal_width=200).output
    for name, cmd in _commands().items():
        assert cmd.help and cmd.help.strip(), f"command {name} has no help text"
        assert re.search(rf"│ {re.escape(name)}\s+\S", out), f"{name} missing from cxroi --help"


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_appears_in_the_readme(name):
    assert f"cxroi {name}" in README, f"`cxroi {name}` is not shown in README.md"


def test_init_ingest_tables_round_trip(tmp_path):
    ws = tmp_path / "w"
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    path = write_csv(tmp_path / "t.csv", TX_HEADER, transactions_rows(12))
    r = runner.invoke(app, ["ingest", "transactions", str(path), "-w", str(ws)])
    assert r.exit_code == 0 and "12 rows read, 12 new, 0 updated, 0 unchanged" in r.output
    counts = {row["table"]: row["rows"] for row in json_rows(["tables", "-w", str(ws)])}
    assert counts["transactions"] == 12 and counts["customers"] == 0
    r = runner.invoke(app, ["tables", "-w", str(ws), "--format", "csv"])
    assert r.output.splitlines()[0] == "table,rows,key"
    r = runner.invoke(app, ["tables", "-w", str(ws)])
    assert "transactions │   12 │ transaction_id" in r.output


def test_library_error_is_a_clean_message_and_exit_code_2(tmp_path):
    ws = tmp_path / "w"
    runner.invoke(app, ["init", str(ws)])
    rows = transactions_rows(5)
    rows[2][3] = "lots"
    path = write_csv(tmp_path / "bad.csv", TX_HEADER, rows)
    r = runner.invoke(app, ["ingest", "transactions", str(path), "-w", str(ws)])
    assert r.exit_code == 2
    assert r.output.startswith("error: bad.csv: 1 bad row of 5")
    assert "line 4: amount 'lots' is not a number" in r.output
    assert "Traceback" not in r.output
    # the library names the parameter; the CLI shows the flag
    assert "(--skip-bad loads the good rows" in r.output
    assert "skip_bad" not in r.output


def test_library_error_names_the_parameter_outside_the_cli(tmp_path):
    from cxroi.errors import IngestError
    from cxroi.store import Workspace

    rows = transactions_rows(5)
    rows[2][3] = "lots"
    path = write_csv(tmp_path / "bad.csv", TX_HEADER, rows)
    with Workspace.init(tmp_path / "w") as ws, pytest.raises(IngestError) as e:
        ws.ingest("transactions", path)
    assert "(skip_bad=True loads the good rows" in str(e.value)


def test_skip_bad_from_the_command_line(tmp_path):
    ws = tmp_path / "w"
    runner.invoke(app, ["init", str(ws)])
    rows = transactions_rows(5)
    rows[0][2] = "yesterday"
    path = write_csv(tmp_path / "t.csv", TX_HEADER, rows)
    r = runner.invoke(app, ["ingest", "transactions", str(path), "-w", str(ws), "--skip-bad"])
    assert r.exit_code == 0 and "4 new, 0 updated, 0 unchanged, 1 rejected" in r.output
    assert (tmp_path / "t.csv.rejected.csv").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["tables", "-w", "nowhere"], "error: nowhere is not a cxroi workspace"),
        (
            ["ingest", "transactions", "x.csv", "--map", "oops"],
            "error: --map 'oops': expected NAME=VALUE",
        ),
    ],
)
def test_usage_errors_are_one_line(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    if args[0] == "ingest":
        runner.invoke(app, ["init", "."])
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and r.output.startswith(expected)
    assert len(r.output.strip().splitlines()) == 1


def test_public_names_do_not_drift():
    """Every public name in ``cxroi`` is in ``__all__`` and the other way round (httpx's rule)."""
    import types

    import cxroi

    # dir(): the names imported on first use are public too, loaded or not
    public = {
        n
        for n in dir(cxroi)
        if not n.startswith("_")
        and not isinstance(getattr(cxroi, n), types.ModuleType)
        and n != "annotations"
    }
    assert public | {"__version__"} == set(cxroi.__all__)
