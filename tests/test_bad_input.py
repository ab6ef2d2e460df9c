"""Careless or hostile input: a one-line error naming what is wrong, exit 2, nothing written.

Each case here ended in a traceback, silent data loss or unsafe output before (issue 12).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxroi import Workspace
from cxroi.cli import app
from tests.utils.factories import TX_HEADER, transactions_rows, write_csv

runner = CliRunner()


@pytest.fixture
def wsp(tmp_path) -> Path:
    with Workspace.init(tmp_path / "w") as ws:
        ws.ingest("transactions", write_csv(tmp_path / "t.csv", TX_HEADER, transactions_rows(5)))
        ws.ingest("customers", pd.DataFrame({"customer_id": ["C1"], "plan": ["basic"]}))
    return tmp_path / "w"


def _counts(path: Path) -> dict[str, int]:
    with Workspace.open(path, read_only=True) as ws:
        return ws.counts()


def _file(tmp: Path, name: str, data: bytes) -> Path:
    (tmp / name).write_bytes(data)
    return tmp / name


def _big_field(tmp):
    line = b"T9,C9,2024-01-01," + b"9" * 10 + b"\nT10," + b"x" * (10 * 2**20) + b",2024-01-01,2\n"
    return ["ingest", "transactions", str(_file(tmp, "big.csv", b",".join(
        [b"transaction_id", b"customer_id", b"ts", b"amount\n"]) + line))]  # fmt: skip


def _parquet_wrong_types(tmp):
    frame = pd.DataFrame(
        {"transaction_id": ["a", "b"], "customer_id": ["c", "c"], "ts": [1_700_000_000, 5],
         "amount": ["x", "2"]}
    )  # fmt: skip
    frame.to_parquet(tmp / "wrong.parquet")
    return ["ingest", "transactions", str(tmp / "wrong.parquet")]


def _placeholder_dates(tmp):
    rows = [["T90", "C1", "0001-01-01 00:00", 1.0], ["T91", "C1", "9999-12-31 10:00", 2.0]]
    return ["ingest", "transactions", str(write_csv(tmp / "d.csv", TX_HEADER, rows))]


def _bad_config(tmp):
    toml = tmp / "w" / "cxroi.toml"
    toml.write_text(toml.read_text().replace("min_n = 30", 'min_n = "thirty"'))
    return ["tables"]


def _truncated_store(tmp):
    with open(tmp / "w" / "cx.duckdb", "r+b") as f:
        f.truncate(4096)
    return ["tables"]


def _missing_store(tmp):
    (tmp / "w" / "cx.duckdb").unlink()
    return ["scorecard"]


CASES = {
    "png renamed csv": (
        lambda tmp: [
            "ingest",
            "transactions",
            str(_file(tmp, "img.csv", b"\x89PNG\r\n\x1a\n\0\0")),
        ],
        "img.csv: this is not a text file; it looks like a PNG image",
    ),
    "ten MB field": (_big_field, "is longer than 1,048,576 bytes"),
    "columns differing by case": (
        lambda tmp: [
            "ingest",
            "transactions",
            str(
                _file(
                    tmp,
                    "case.csv",
                    b"transaction_id,customer_id,ts,amount,Amount\nT1,C1,2024-01-01,1,2\n",
                )
            ),
        ],  # fmt: skip
        "duplicate column name(s): amount / Amount",
    ),
    "parquet with wrong types": (_parquet_wrong_types, "ts '1700000000' is not a timestamp"),
    "unknown encoding": (
        lambda tmp: ["ingest", "transactions", str(tmp / "t.csv"), "--encoding", "klingon"],
        "unknown --encoding 'klingon'",
    ),
    "placeholder dates": (
        _placeholder_dates,
        "line 2: ts '0001-01-01 00:00' is outside the plausible dates",
    ),
    "key as a group": (["scorecard", "--by", "customer_id"], "--by 'customer_id' is a key"),
    "span of a placeholder date": (
        ["scorecard", "--since", "0001-01", "--period", "week"],
        "is more than 2,000",
    ),
    "config value of the wrong type": (_bad_config, "min_n must be int, got str 'thirty'"),
    "truncated store": (_truncated_store, "cannot open the store"),
    "missing store": (_missing_store, "the store cx.duckdb is missing"),
    "demo of a billion customers": (
        ["demo", "--customers", "1000000000"],
        "--customers 1,000,000,000 over 24 months needs",
    ),
    "demo into real data": (["demo"], "holds data that the demo did not generate"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clean_line_and_writes_nothing(case, wsp, tmp_path):
    make, expected = CASES[case]
    before = _counts(wsp)
    args = make(tmp_path) if callable(make) else list(make)
    intact = (wsp / "cx.duckdb").exists() and "store" not in case and "config" not in case
    r = runner.invoke(app, [*args, "-w", str(wsp)])
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output
    assert r.output.startswith("error: ") and expected in r.output, r.output
    assert len(r.output.splitlines()[0]) < 400
    if intact:
        assert _counts(wsp) == before
    assert not (wsp / "demo-data").exists()


def test_a_file_that_changes_while_read_is_refused(wsp, tmp_path):
    path = write_csv(tmp_path / "grow.csv", TX_HEADER, transactions_rows(50, start=100))
    before = _counts(wsp)

    def writer_still_busy(step: str, fraction: float) -> None:
        if step == "validating":
            with path.open("a", encoding="utf-8") as f:
                f.write("T999,C1,2024-01-01 10:00:00,1801.99\n")

    with Workspace.open(wsp) as ws, pytest.raises(Exception) as e:
        ws.ingest("transactions", path, progress=writer_still_busy)
    assert "changed while it was being read" in str(e.value)
    assert _counts(wsp) == before


def test_bare_cr_line_ends_load_correctly(wsp, tmp_path):
    path = _file(
        tmp_path,
        "cr.csv",
        b"transaction_id,customer_id,ts,amount\rT50,C1,2024-01-01,1.5\rT51,C1,2024-01-02,2\r",
    )
    r = runner.invoke(app, ["ingest", "transactions", str(path), "-w", str(wsp)])
    assert r.exit_code == 0, r.output
    with Workspace.open(wsp, read_only=True) as ws:
        t = ws.table("transactions")
        got = t.filter(t.transaction_id.isin(["T50", "T51"])).order_by("transaction_id")
        assert got.amount.execute().tolist() == [1.5, 2.0]


def test_hostile_strings_in_data_reach_the_terminal_inert(wsp, tmp_path):
    plans = ["[/red]", "[link=http://evil.example]x[/link]", "\x1b[2Jclear", "=HYPERLINK(1)"]
    rows = pd.DataFrame({"customer_id": [f"H{i}" for i in range(4)], "plan": plans})
    with Workspace.open(wsp) as ws:
        ws.ingest("customers", rows)
    r = runner.invoke(app, ["scorecard", "-w", str(wsp), "--by", "plan", "-m", "revenue"])
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "[/red]" in r.output and "\\x1b[2Jclear" in r.output
    r = runner.invoke(app, ["scorecard", "-w", str(wsp), "--by", "plan", "--format", "csv"])
    assert ",'=HYPERLINK(1)," in r.output


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="needs root to mount")
def test_a_full_disk_is_a_clean_error_and_loads_nothing(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {mounted.stderr.decode().strip()}")
    try:
        with Workspace.init(disk / "w") as ws:
            ws.ingest(
                "transactions", write_csv(tmp_path / "a.csv", TX_HEADER, transactions_rows(3))
            )
        big = write_csv(tmp_path / "big.csv", TX_HEADER, transactions_rows(200_000, start=10))
        r = runner.invoke(app, ["ingest", "transactions", str(big), "-w", str(disk / "w")])
        assert r.exit_code == 2, r.output
        assert r.output.startswith("error: ") and "Traceback" not in r.output
        assert "nothing was loaded" in r.output or "No space left" in r.output
        with contextlib.suppress(Exception):
            assert _counts(disk / "w")["transactions"] == 3
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_cohorts_of_a_placeholder_signup_are_bounded(wsp):
    with Workspace.open(wsp) as ws:
        ws.ingest(
            "customers",
            pd.DataFrame({"customer_id": ["Z1"], "signup_date": ["0001-01-01"]}),
            allow_dates=True,
        )
        ws.ingest(
            "contracts",
            pd.DataFrame({"contract_id": ["k"], "customer_id": ["Z1"],
                          "start_date": ["2024-01-01"], "value": [1.0]}),
        )  # fmt: skip
    r = runner.invoke(app, ["cohorts", "-w", str(wsp), "--period", "week"])
    assert r.exit_code == 2 and "more than 2,000" in r.output and "Traceback" not in r.output
