"""Typed Arrow columns from simulated numpy arrays."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from cxroi.simulate.columns import NULL, cat, date, fmt_id, ts


def test_fmt_id_pads_and_prefixes():
    assert fmt_id("C", 7, np.array([1, 42, 9_999_999])).to_pylist() == [
        "C0000001",
        "C0000042",
        "C9999999",
    ]


def test_fmt_id_wider_than_width_falls_back_without_truncating():
    assert fmt_id("T", 2, np.array([7, 123])).to_pylist() == ["T07", "T123"]


def test_timestamps_dates_and_nulls():
    sec = np.array([0, 86_400 + 3_600, NULL])
    assert ts(sec).to_pylist() == [dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 2, 1), None]
    assert ts(sec).type == pa.timestamp("us")
    assert date(sec).to_pylist() == [dt.date(1970, 1, 1), dt.date(1970, 1, 2), None]


def test_categories_with_missing_codes():
    assert cat(np.array([1, -1, 0]), ["a", "b"]).to_pylist() == ["b", None, "a"]
