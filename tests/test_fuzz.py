"""Property-based fuzzing of the file reader and the validators (Hypothesis).

Random bytes and random well-formed rows never end in a traceback: a load either lands or
raises :class:`~cxroi.errors.IngestError`, and a refused load changes nothing.
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxroi import Workspace
from cxroi.errors import IngestError

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def fuzz_ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "ws"
    with Workspace.init(path) as ws:
        yield ws


def _snapshot(ws) -> tuple:
    t = ws.table("transactions")
    return tuple(map(tuple, t.order_by("transaction_id").to_pandas().astype(str).values))


def _load(ws, path, **options):
    before = _snapshot(ws)
    try:
        ws.ingest("transactions", path, **options)
    except IngestError as e:
        assert str(e).strip(), "an error must say what is wrong"
        assert _snapshot(ws) == before, "a refused load changed the table"
        return False
    return True


@FUZZ
@given(data=st.binary(min_size=1, max_size=2048))
def test_random_bytes_never_crash(fuzz_ws, tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "x.csv"
    path.write_bytes(b"transaction_id,customer_id,ts,amount\n" + data)
    _load(fuzz_ws, path)


@FUZZ
@given(data=st.binary(min_size=1, max_size=512))
def test_random_bytes_as_parquet_and_jsonl_never_crash(fuzz_ws, tmp_path_factory, data):
    for name in ("x.parquet", "x.jsonl"):
        path = tmp_path_factory.mktemp("p") / name
        path.write_bytes(data)
        _load(fuzz_ws, path)


_cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", "=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)", "\r", "a\nb", '"', "NaN", "inf", "-0",
         "1e309", "2024-02-30", "0001-01-01", "9999-12-31 23:59:59", "12,50", "  7 ", "\x00",
         "2024-01-01T10:00:00+05:00", "1" * 40]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
)  # fmt: skip


@FUZZ
@given(rows=st.lists(st.tuples(_cell, _cell, _cell, _cell), min_size=1, max_size=8))
def test_random_well_formed_rows_load_or_are_refused_cleanly(fuzz_ws, tmp_path_factory, rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["transaction_id", "customer_id", "ts", "amount"])
    w.writerows(rows)
    path = tmp_path_factory.mktemp("r") / "rows.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    _load(fuzz_ws, path)
    _load(fuzz_ws, path, skip_bad=True)
