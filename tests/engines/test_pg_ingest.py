"""Ingest into PostgreSQL (the generic MERGE path): all or nothing, idempotent, and whole or
absent after ``kill -9`` in the middle of a load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import psycopg
import pytest

from cxroi.config import Settings
from cxroi.errors import IngestError
from cxroi.store import Workspace

pytestmark = pytest.mark.engines


def transactions(n: int, amount: float, *, first: int = 0) -> pd.DataFrame:
    ids = np.arange(first, first + n)
    return pd.DataFrame({
        "transaction_id": [f"T{i:07d}" for i in ids],
        "customer_id": [f"C{i % 500:04d}" for i in ids],
        "ts": pd.Timestamp("2025-01-01") + pd.to_timedelta(ids % 300, unit="D"),
        "amount": amount,
        "product": "plan",
    })  # fmt: skip


def stored(url: str) -> pd.DataFrame:
    with psycopg.connect(url) as con:
        rows = con.execute(
            "SELECT transaction_id, amount, product FROM transactions ORDER BY 1"
        ).fetchall()
    return pd.DataFrame(rows, columns=["transaction_id", "amount", "product"])


@pytest.fixture
def pg_ws(pg_db, tmp_path):
    path = tmp_path / "ws"
    Workspace.init(path, settings=Settings(engine=pg_db)).close()
    return path, pg_db


def test_all_or_nothing_and_idempotent(pg_ws):
    path, url = pg_ws
    v1 = transactions(300, 1.0)
    with Workspace.open(path) as ws:
        r = ws.ingest("transactions", v1)
        assert (r.inserted, r.updated) == (300, 0)
        bad = transactions(10, 5.0, first=1000)
        bad.loc[7, "ts"] = None  # a required value missing: nothing of the file lands
        with pytest.raises(IngestError, match="1 bad row of 10; nothing was loaded"):
            ws.ingest("transactions", bad)
        assert len(stored(url)) == 300
        again = ws.ingest("transactions", v1)  # the same rows again: a no-op
        assert again.inserted == 0
        before = stored(url)
        assert len(before) == 300 and (before.amount == 1.0).all()
        # a changed amount updates the columns the input carries and keeps the others
        ws.ingest("transactions", v1.drop(columns="product").assign(amount=2.0))
    after = stored(url)
    assert len(after) == 300 and (after.amount == 2.0).all() and (after["product"] == "plan").all()


def _wait_for(url: str, app: str, what: str, proc, timeout: float = 60) -> int | None:
    """The server pid of the ingest's session once it runs ``what`` (``MERGE``)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as con:
        while time.monotonic() < deadline and proc.poll() is None:
            row = con.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND query ILIKE %s", (app, f"{what}%"),
            ).fetchone()  # fmt: skip
            if row:
                return row[0]
            time.sleep(0.02)
    return None


def test_kill_9_in_the_middle_of_a_merge_leaves_the_old_rows(pg_ws, tmp_path):
    """The MERGE is held on a lock, the ingesting process is killed: the old rows stay, all
    of them; loading the file again then lands all of it, and once only."""
    path, url = pg_ws
    v1 = transactions(2_000, 1.0)
    with Workspace.open(path) as ws:
        ws.ingest("transactions", v1)
    v2 = pd.concat([v1.assign(amount=2.0), transactions(1_000, 2.0, first=2_000)])
    file = tmp_path / "v2.csv"
    v2.to_csv(file, index=False)
    app = f"cxroi_kill_{os.getpid()}"
    cfg = path / "cxroi.toml"
    sep = "&" if "?" in url else "?"
    cfg.write_text(cfg.read_text().replace(url, f"{url}{sep}application_name={app}"))
    cli = [sys.executable, "-m", "cxroi.cli", "ingest", "transactions", str(file), "-w", str(path)]
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE transactions IN SHARE MODE")  # the MERGE waits on it
        with subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            try:
                backend = _wait_for(url, app, "MERGE", proc)
                assert backend is not None, proc.communicate(timeout=5)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
        holder.rollback()  # the lock goes; the orphaned MERGE can run but never commit
    with psycopg.connect(url, autocommit=True) as con:
        for _ in range(500):  # the killed session ends on the server
            if not con.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                               (backend,)).fetchone():  # fmt: skip
                break
            time.sleep(0.02)
    after = stored(url)
    assert len(after) == 2_000 and (after.amount == 1.0).all()  # all of the old, none new
    done = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = stored(url)
    assert len(after) == 3_000 and (after.amount == 2.0).all()
    again = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "0 new" in again.stdout, again.stdout
    assert len(stored(url)) == 3_000
