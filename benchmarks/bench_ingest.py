"""Ingest throughput: a plain CSV of transactions into a workspace, validated and upserted.

Compared, on the same file in the same run, with what a user would otherwise do:
- pandas: ``read_csv`` with dtypes and dates parsed, then DuckDB insert of the frame (no
  checks beyond parsing, no line numbers, no upsert);
- raw DuckDB: ``INSERT … SELECT * FROM read_csv(…)`` with typed columns (no checks at all):
  the floor any validating loader on DuckDB is measured against.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from cxroi import Workspace


def make_csv(path: Path, n: int, *, add: float = 0.0) -> None:
    rng = np.random.default_rng(0)
    ids = pc.binary_join_element_wise("T", pc.cast(pa.array(np.arange(n)), pa.string()), "")
    cust = pc.binary_join_element_wise(
        "C", pc.cast(pa.array(rng.integers(0, max(n // 20, 1), n)), pa.string()), ""
    )
    seconds = rng.integers(0, 730 * 86400, n).astype("timedelta64[s]")
    ts = pa.array(np.datetime64("2024-01-01T00:00:00") + seconds)
    amount = pa.array(np.round(rng.gamma(2.0, 30.0, n), 2) + add)
    table = pa.table({"transaction_id": ids, "customer_id": cust, "ts": ts, "amount": amount})
    pcsv.write_csv(table, path, write_options=pcsv.WriteOptions(quoting_style="none"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    n = {"small": 300_000, "full": 5_000_000}[parser.parse_args().scale]
    tmp = Path(tempfile.mkdtemp(prefix="cxroi-bench-ingest-"))
    try:
        csv_path = tmp / "transactions.csv"
        make_csv(csv_path, n)
        print(f"rows: {n:,}  file: {csv_path.stat().st_size / 2**20:.0f} MiB")

        ws = Workspace.init(tmp / "ws")
        t0 = time.perf_counter()
        r = ws.ingest("transactions", csv_path)
        t_cxroi = time.perf_counter() - t0
        assert r.inserted == n
        t0 = time.perf_counter()
        r2 = ws.ingest("transactions", csv_path)
        t_reload = time.perf_counter() - t0
        assert r2.unchanged == n and ws.table("transactions").count().execute() == n
        changed_path = tmp / "changed.csv"
        make_csv(changed_path, n, add=1.0)  # the same rows, every amount one higher
        t0 = time.perf_counter()
        r3 = ws.ingest("transactions", changed_path)
        t_changed = time.perf_counter() - t0
        assert r3.updated == n and r3.changed_columns == {"amount": n}
        ws.close()

        t0 = time.perf_counter()
        frame = pd.read_csv(
            csv_path, dtype={"transaction_id": str, "customer_id": str, "amount": float},
            parse_dates=["ts"],
        )  # fmt: skip
        con = duckdb.connect(str(tmp / "pandas.duckdb"))
        con.register("frame", frame)
        con.execute("CREATE TABLE transactions AS SELECT * FROM frame")
        con.close()
        t_pandas = time.perf_counter() - t0

        con = duckdb.connect(str(tmp / "raw.duckdb"))
        con.execute(
            "CREATE TABLE transactions (transaction_id VARCHAR, customer_id VARCHAR,"
            " ts TIMESTAMP, amount DOUBLE)"
        )
        t0 = time.perf_counter()
        con.execute(f"INSERT INTO transactions SELECT * FROM read_csv('{csv_path}', header=true)")
        t_raw = time.perf_counter() - t0
        con.close()

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"cxroi ingest: {t_cxroi:.2f} s = {n / t_cxroi:,.0f} rows/s (target >= 1,000,000)")
        print(f"cxroi re-ingest, same rows (all unchanged): {t_reload:.2f} s = "
              f"{n / t_reload:,.0f} rows/s")  # fmt: skip
        print(f"cxroi re-ingest, every amount changed (column-wise update): {t_changed:.2f} s "
              f"= {n / t_changed:,.0f} rows/s")  # fmt: skip
        print(f"pandas read_csv + DuckDB insert: {t_pandas:.2f} s = {n / t_pandas:,.0f} rows/s")
        print(f"raw DuckDB read_csv insert (no checks): {t_raw:.2f} s = {n / t_raw:,.0f} rows/s")
        print(f"speed vs pandas: {t_pandas / t_cxroi:.2f}x")
        print(f"speed vs raw DuckDB (no validation): {t_raw / t_cxroi:.2f}x")
        print(f"peak RSS of this process: {rss:.2f} GiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
