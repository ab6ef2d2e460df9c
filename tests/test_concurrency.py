"""Many readers, one writer: read-only opening, bounded waits with a clear message."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from cxroi import Workspace
from cxroi.config import load_settings
from cxroi.errors import WorkspaceError
from tests.utils.factories import TX_HEADER, transactions_rows, write_csv

_HOLD = textwrap.dedent(
    """
    import sys, time
    from cxroi import Workspace
    ws = Workspace.open(sys.argv[1], read_only=sys.argv[2] == "r", purpose="ingest")
    print("holding", flush=True)
    time.sleep(float(sys.argv[3]))
    ws.close()
    """
)


@contextlib.contextmanager
def _hold(path, mode: str, seconds: float) -> Iterator[subprocess.Popen]:
    """Another process that holds the store (``r``: read-only) for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), mode, str(seconds)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def _timeout(path, seconds: float) -> None:
    toml = path / "cxroi.toml"
    toml.write_text(toml.read_text().replace("lock_timeout = 30.0", f"lock_timeout = {seconds}"))
    assert load_settings(path).lock_timeout == seconds


@pytest.fixture
def wpath(tmp_path):
    with Workspace.init(tmp_path / "w") as ws:
        ws.ingest("transactions", write_csv(tmp_path / "t.csv", TX_HEADER, transactions_rows(9)))
    return tmp_path / "w"


def test_many_readers_at_once(wpath):
    with _hold(wpath, "r", 30), Workspace.open(wpath, read_only=True) as ws:
        assert ws.table("transactions").count().execute() == 9


def test_a_reader_meeting_a_writer_waits_then_fails_cleanly(wpath):
    _timeout(wpath, 0.6)
    said = []
    with _hold(wpath, "w", 30) as proc, pytest.raises(WorkspaceError) as e:
        start = time.monotonic()
        try:
            Workspace.open(wpath, read_only=True, on_wait=said.append)
        finally:
            waited = time.monotonic() - start
    assert said == [f"workspace busy: ingest by pid {proc.pid}; waiting up to 0.6 s"]
    assert f"workspace busy: ingest by pid {proc.pid} holds" in str(e.value)
    assert "gave up after 0.6 s" in str(e.value)
    assert waited >= 0.6


def test_a_wait_ends_as_soon_as_the_writer_is_done(wpath):
    _timeout(wpath, 20)
    said = []
    with _hold(wpath, "w", 1.0) as proc:
        with Workspace.open(wpath, read_only=True, on_wait=said.append) as ws:
            assert ws.counts()["transactions"] == 9
        assert proc.wait() == 0  # it finished its sleep and released the store
    assert len(said) == 1 and said[0].startswith("workspace busy: ingest by pid")


def test_read_only_workspace_cannot_write(wpath, tmp_path):
    with (
        Workspace.open(wpath, read_only=True) as ws,
        pytest.raises(WorkspaceError, match="read-only"),
    ):
        ws.ingest("transactions", write_csv(tmp_path / "u.csv", TX_HEADER, transactions_rows(2)))


def test_a_missing_store_is_an_error_not_a_new_empty_one(wpath):
    (wpath / "cx.duckdb").unlink()
    with pytest.raises(WorkspaceError, match="the store cx.duckdb is missing"):
        Workspace.open(wpath)
    assert not (wpath / "cx.duckdb").exists()


def test_a_damaged_store_is_a_clean_error(wpath):
    with open(wpath / "cx.duckdb", "r+b") as f:
        f.truncate(3000)
    with pytest.raises(WorkspaceError, match="cannot open the store"):
        Workspace.open(wpath, read_only=True)


def test_a_command_waits_for_an_ingest_with_one_message_and_then_runs(wpath):
    from typer.testing import CliRunner

    from cxroi.cli import app

    _timeout(wpath, 20)
    with _hold(wpath, "w", 1.0) as proc:
        r = CliRunner().invoke(app, ["tables", "-w", str(wpath), "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert f"workspace busy: ingest by pid {proc.pid}; waiting up to 20 s" in r.stderr
    assert "transactions,9,transaction_id" in r.stdout


def test_two_readers_and_a_writer_from_the_command_line(wpath, tmp_path):
    """Real processes: two scorecards while an ingest runs; none fails, all rows arrive."""
    import sys

    big = write_csv(tmp_path / "big.csv", TX_HEADER, transactions_rows(300_000, start=100))
    cx = [sys.executable, "-m", "cxroi.cli"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    run = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    writer = subprocess.Popen([*cx, "ingest", "transactions", str(big), "-w", str(wpath)], **run)
    readers = [
        subprocess.Popen([*cx, "scorecard", "-w", str(wpath), "-m", "revenue", "-f", "csv"], **run)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in (writer, *readers)]
    assert [p.returncode for p in (writer, *readers)] == [0, 0, 0], outs
    assert all("Traceback" not in err for _, err in outs)
    with Workspace.open(wpath, read_only=True) as ws:
        assert ws.counts()["transactions"] == 300_009


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a read-only disk")
def test_a_workspace_on_a_read_only_disk_still_lists_its_tables(tmp_path):
    from typer.testing import CliRunner

    from cxroi.cli import app

    disk = tmp_path / "ro"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount here")
    try:
        with Workspace.init(disk / "w") as ws:
            ws.ingest(
                "transactions", write_csv(tmp_path / "t.csv", TX_HEADER, transactions_rows(4))
            )
        assert subprocess.run(["mount", "-o", "remount,ro", str(disk)]).returncode == 0
        r = CliRunner().invoke(app, ["tables", "-w", str(disk / "w"), "--format", "csv"])
        assert r.exit_code == 0, r.output
        assert "transactions,4,transaction_id" in r.stdout
        r = CliRunner().invoke(app, ["ingest", "transactions", str(tmp_path / "t.csv"),
                                     "-w", str(disk / "w")])  # fmt: skip
        assert r.exit_code == 2 and r.output.startswith("error: ") and "Traceback" not in r.output
    finally:
        subprocess.run(["umount", str(disk)], check=False)
