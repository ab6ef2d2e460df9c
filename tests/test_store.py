"""Workspace: init/open, settings, tables through Ibis, atomicity when the process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from cxroi import Workspace
from cxroi.config import Settings, load_settings
from cxroi.errors import WorkspaceError
from cxroi.schema import TABLES
from tests.utils.factories import TX_HEADER, transactions_rows, write_csv


def test_init_creates_settings_store_and_every_table(tmp_path):
    with Workspace.init(tmp_path / "acme", settings=Settings(currency="EUR")) as ws:
        assert (ws.path / "cxroi.toml").exists() and (ws.path / "cx.duckdb").exists()
        assert ws.counts() == dict.fromkeys(TABLES, 0)
        for name, spec in TABLES.items():
            assert set(spec.names) <= set(ws.table(name).columns)
    assert load_settings(tmp_path / "acme").currency == "EUR"


def test_open_reads_settings_and_init_twice_is_refused(tmp_path):
    Workspace.init(tmp_path / "w").close()
    with Workspace.open(tmp_path / "w") as ws:
        assert ws.settings.discount_rate == 0.10 and ws.settings.min_n == 30
        assert ws.settings.nps_benchmarks == {"leaders": [50.0, 80.0], "average": [5.0, 10.0]}
    with pytest.raises(WorkspaceError, match="already a cxroi workspace"):
        Workspace.init(tmp_path / "w")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[workspace]\ncurrancy = "EUR"\n', "unknown key(s) in [workspace]: currancy"),
        ('[workspace]\ntimezone = "Mars/Olympus"\n', "unknown timezone 'Mars/Olympus'"),
        ("[workspace]\ndiscount_rate = 1.5\n", "discount_rate must be in [0, 1)"),
        ("[workspace\n", "cxroi.toml"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path, toml, expected):
    (tmp_path / "cxroi.toml").write_text(toml)
    with pytest.raises(WorkspaceError) as err:
        Workspace.open(tmp_path)
    assert expected in str(err.value)


def test_open_a_folder_that_is_no_workspace(tmp_path):
    with pytest.raises(WorkspaceError, match="is not a cxroi workspace"):
        Workspace.open(tmp_path)


def test_another_engine_url_needs_no_other_change(tmp_path):
    """The engine comes from the URL in cxroi.toml, through Ibis."""
    url = f"duckdb://{tmp_path / 'elsewhere.duckdb'}"
    with Workspace.init(tmp_path / "w", settings=Settings(engine=url)) as ws:
        ws.ingest("transactions", write_csv(tmp_path / "t.csv", TX_HEADER, transactions_rows(7)))
    assert not (tmp_path / "w" / "cx.duckdb").exists()
    with Workspace.open(tmp_path / "w") as ws:
        assert ws.table("transactions").count().execute() == 7


def test_generic_engine_path_upserts_through_ibis(ws, tmp_path, monkeypatch):
    """The path used for non-DuckDB engines (check in scratch DuckDB, Ibis upsert)."""
    import cxroi.load

    monkeypatch.setattr(cxroi.load, "_is_embedded", lambda con: False)
    path = write_csv(tmp_path / "t.csv", TX_HEADER, transactions_rows(20))
    assert ws.ingest("transactions", path).inserted == 20
    rows = transactions_rows(20)
    rows[0][3] = 1234.0
    r = ws.ingest("transactions", write_csv(tmp_path / "u.csv", TX_HEADER, rows))
    assert (r.inserted, r.updated) == (0, 20)
    t = ws.table("transactions")
    assert t.count().execute() == 20
    assert t.filter(t.transaction_id == "T0").amount.execute().tolist() == [1234.0]


_DRIVER = textwrap.dedent(
    """
    import sys
    from cxroi import Workspace
    ws = Workspace.open(sys.argv[1])
    def note(step, frac):
        print(step, flush=True)
    ws.ingest("transactions", sys.argv[2], progress=note)
    print("committed", flush=True)
    """
)


@pytest.mark.slow
def test_a_killed_load_leaves_nothing_half_written(tmp_path):
    """SIGKILL while the rows are being written: after reopening, all rows or none."""
    n = 400_000
    Workspace.init(tmp_path / "w").close()
    path = write_csv(tmp_path / "big.csv", TX_HEADER, transactions_rows(n))
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(tmp_path / "w"), str(path)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    for line in proc.stdout:
        if line.strip() == "writing":
            time.sleep(0.05)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with Workspace.open(tmp_path / "w") as ws:
        count = ws.table("transactions").count().execute()
    assert count in (0, n)
    print(f"rows after kill: {count}")


def test_an_engine_password_is_never_printed(tmp_path):
    from typer.testing import CliRunner

    from cxroi.cli import app

    url = "postgres://analyst:s3cret-pw@127.0.0.1:1/cx"
    with pytest.raises(WorkspaceError) as e:
        Workspace.init(tmp_path / "w", settings=Settings(engine=url))
    assert "s3cret-pw" not in str(e.value) and "analyst:***@127.0.0.1:1" in str(e.value)
    r = CliRunner().invoke(app, ["init", str(tmp_path / "v"), "--engine", url])
    assert r.exit_code == 2 and "s3cret-pw" not in r.output and r.output.startswith("error: ")
    assert not (tmp_path / "v" / "cxroi.toml").exists()


def test_a_sibling_reads_the_same_store_on_another_thread(tmp_path):
    # a second connection to the same database: both run queries at the same time, and
    # closing the sibling leaves the workspace open
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "ws"
    Workspace.init(path).close()
    write_csv(tmp_path / "tx.csv", TX_HEADER, transactions_rows(500))
    with Workspace.open(path) as ws:
        ws.ingest("transactions", tmp_path / "tx.csv")
    with Workspace.open(path, read_only=True) as ws:
        twin = ws.sibling()
        assert twin is not None and twin.con is not ws.con

        def total(w):
            t = w.table("transactions")
            return [t.amount.sum().to_pandas() for _ in range(20)]

        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(total, (ws, twin))
        assert a == b and len(set(a)) == 1
        twin.close()
        assert ws.counts()["transactions"] == 500
