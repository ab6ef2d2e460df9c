"""``cxroi.frames.to_frame`` gives the frame Ibis' own ``to_pandas`` gives, columns with
nulls, dates, booleans and text included, on a hand-made table and on the ledger and the
customer profile of a simulated company."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pyarrow as pa

from cxroi.frames import to_frame
from cxroi.models.ledger import customer_ledger
from cxroi.models.profile import customer_profile
from cxroi.simulate import generate
from cxroi.store import Workspace


def test_every_kind_of_column_with_and_without_nulls():
    con = ibis.duckdb.connect()
    t = con.create_table(
        "t",
        pa.table({
            "i": pa.array([1, None, 3], pa.int64()), "j": pa.array([1, 2, 3], pa.int64()),
            "x": pa.array([0.5, None, 2.0]), "s": pa.array(["a", None, "c"]),
            "b": pa.array([True, None, False]), "c": pa.array([True, False, True]),
            "d": pa.array([dt.date(2024, 1, 31), None, dt.date(2025, 6, 1)]),
            "ts": pa.array([dt.datetime(2024, 1, 1, 12), None, dt.datetime(2025, 1, 1)]),
        }),
    )  # fmt: skip
    ours, theirs = to_frame(t.order_by("j")), t.order_by("j").to_pandas()
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours["d"].iloc[0] == pd.Timestamp("2024-01-31") and pd.isna(ours["i"].iloc[1])


def test_the_ledger_and_the_profile_of_a_company(tmp_path):
    sim = generate(customers=1_500, months=12, seed=3)
    with Workspace.init(tmp_path / "ws") as ws:
        for name, table in sim.tables.items():
            ws.ingest(name, table)
        profile = customer_profile(ws.tables, as_of=dt.date(2024, 12, 1))
        for expr in (customer_ledger(ws.tables), profile):
            expr = expr.order_by("customer_id")
            theirs = expr.to_pandas()
            assert len(theirs) > 1_000 and theirs.isna().any().any()  # nulls to convert
            pd.testing.assert_frame_equal(to_frame(expr), theirs)
