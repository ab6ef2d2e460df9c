"""Benchmark: the scorecard and the CLV summary as data grow, on DuckDB and PySpark local mode.

Issue 19: how time grows with the transactions, at 1, 10 and 50 million, on the embedded
engine and on Spark (local mode, every core of this machine), reading the same Parquet files
in place (DuckDB ``read_parquet`` views, Spark temporary views of ``spark.read.parquet``: no
copy into either engine, as with a company's own tables). Per size and engine it times:

- ``scorecard``: :func:`cxroi.metrics.scorecard.scorecard` by month (first run and the median
  of ``--repeat`` more);
- ``clv_summary``: :func:`cxroi.models.rfm.rfm_summary` executed (one row per customer).

It prints the growth exponent of each timing against the transactions (1 = linear) and checks
that both engines gave the same numbers (1e-9 relative), since a fast wrong answer is no
answer. The simulator's company is generated once per size into ``benchmarks/.data/`` (about
19 transactions per customer over 24 months). Only the Python process's peak is measured
here: DuckDB runs inside it; Spark's JVM is a child whose heap is set by
``spark.driver.memory`` (4g here).

``--scale small`` runs two small sizes (20 and 100 thousand transactions) to prove the
benchmark works; ``--scale full`` is the issue's 1, 10 and 50 million (tens of minutes and
about 10 GB of Parquet and memory: run it on a quiet machine).

Usage: ``python benchmarks/bench_engines.py [--scale small|full] [--engines duckdb,pyspark]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import _measure  # noqa: E402

from cxroi.metrics.scorecard import scorecard  # noqa: E402
from cxroi.models.rfm import rfm_summary  # noqa: E402
from cxroi.simulate import generate_to  # noqa: E402

TABLES = ("customers", "responses", "transactions", "contracts", "tickets")
TX_PER_CUSTOMER = 19  # the simulator's, over 24 months (measured: 19.0)
SIZES = {"small": (20_000, 100_000), "full": (1_000_000, 10_000_000, 50_000_000)}
CALIBRATION_END = "2025-06-30"


def data_dir(transactions: int) -> Path:
    customers = max(transactions // TX_PER_CUSTOMER, 500)
    d = HERE / ".data" / f"engines-{customers}"
    if not all((d / f"{t}.parquet").exists() for t in TABLES):
        generate_to(d, customers=customers, months=24, seed=0, start="2024-01-01")
    return d


def duckdb_tables(d: Path):
    import ibis

    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    return {t: con.read_parquet(str(d / f"{t}.parquet"), table_name=t) for t in TABLES}


def spark_tables(d: Path, spark_con):
    return {t: spark_con.read_parquet(str(d / f"{t}.parquet"), table_name=t) for t in TABLES}


def spark_connection(tmp: Path):
    from cxroi.engines import connect

    cores = os.cpu_count() or 2
    url = (
        f"pyspark://{tmp / 'warehouse'}?spark.master=local[{cores}]&spark.ui.enabled=false"
        f"&spark.sql.shuffle.partitions={2 * cores}&spark.driver.memory=4g"
        "&spark.log.level=ERROR&spark.ui.showConsoleProgress=false"
    )
    return connect(url)


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """(first run, median of ``repeat`` more, the first result)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return first, statistics.median(runs) if runs else first, out


def same(a: pd.DataFrame, b: pd.DataFrame, key: list[str] | None = None) -> bool:
    if key:
        a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9, atol=0)
    except AssertionError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", choices=tuple(SIZES), default="small")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--engines", default="duckdb,pyspark")
    args = ap.parse_args()
    engines = args.engines.split(",")
    sizes = SIZES[args.scale]
    timings: dict[tuple[str, str], list[float]] = {}
    actual: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        spark = spark_connection(Path(tmp)) if "pyspark" in engines else None
        for target in sizes:
            d = data_dir(target)
            results = {}
            for engine in engines:
                tables = duckdb_tables(d) if engine == "duckdb" else spark_tables(d, spark)
                if engine == engines[0]:
                    actual.append(int(tables["transactions"].count().execute()))
                c_first, c_warm, card = timed(lambda t=tables: scorecard(t), args.repeat)
                r_first, r_warm, rfm = timed(
                    lambda t=tables: rfm_summary(
                        t["transactions"], calibration_end=CALIBRATION_END
                    ).execute(),
                    args.repeat,
                )
                results[engine] = (card, rfm)
                timings.setdefault((engine, "scorecard"), []).append(c_warm)
                timings.setdefault((engine, "clv_summary"), []).append(r_warm)
                print(
                    f"{engine} {actual[-1]:,} transactions: scorecard {c_first:.2f} s first, "
                    f"{c_warm:.2f} s again; clv_summary {r_first:.2f} s first, {r_warm:.2f} s "
                    f"again ({len(rfm):,} customers)",
                    flush=True,
                )
            if len(results) == 2:
                (ca, ra), (cb, rb) = results.values()
                ok = same(ca, cb) and same(ra, rb, key=["customer_id"])
                print(f"same_numbers_{actual[-1]}: {ok}")
        if spark is not None:
            spark.disconnect()
    for (engine, step), values in timings.items():
        exp = _measure.growth_exponent(actual, values)
        shown = "n/a" if exp is None else f"{exp:.2f}"
        print(f"{engine}_{step}_s: " + ", ".join(f"{v:.2f}" for v in values))
        print(f"{engine}_{step}_growth_exponent: {shown} (1 = linear in transactions)")
    print(f"load_average: {os.getloadavg()[0]:.1f} (2 cores: above 2 means shared timings)")
    print(f"python_peak_rss_mib: {_measure.self_rss_kib() / 1024:.0f}")


if __name__ == "__main__":
    main()
