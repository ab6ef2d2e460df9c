"""Tests of the transactions → per-customer summary (cxroi.models.rfm)."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.rfm import rfm_summary


@pytest.fixture
def con():
    return ibis.duckdb.connect()


def _tx(con, rows):
    df = pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])
    df["ts"] = pd.to_datetime(df["ts"])
    return con.create_table("tx", df, overwrite=True)


def test_hand_calculated_summary(con):
    # c1: first day 1 Jan (two rows, merged), repeats on 8 Jan (10) and 15 Jan (20 + 5 same day),
    # a refund on 20 Jan (ignored), one holdout purchase; c2: one purchase only;
    # c3: first purchase after the calibration end, so not summarised.
    t = _tx(
        con,
        [
            ("c1", "2024-01-01 09:00", 3.0),
            ("c1", "2024-01-01 18:00", 4.0),
            ("c1", "2024-01-08 10:00", 10.0),
            ("c1", "2024-01-15 10:00", 20.0),
            ("c1", "2024-01-15 11:00", 5.0),
            ("c1", "2024-01-20 11:00", -20.0),
            ("c1", "2024-02-10 11:00", 8.0),
            ("c2", "2024-01-22 12:00", 50.0),
            ("c3", "2024-02-02 12:00", 50.0),
        ],
    )
    df = (
        rfm_summary(t, calibration_end="2024-01-29", holdout_end="2024-02-12", time_unit="week")
        .execute()
        .set_index("customer_id")
    )
    assert list(df.index) == ["c1", "c2"]
    c1, c2 = df.loc["c1"], df.loc["c2"]
    assert c1.frequency == 2
    assert c1.recency == pytest.approx(14 / 7)
    assert c1["T"] == pytest.approx(28 / 7)
    assert c1.monetary_value == pytest.approx((10 + 25) / 2)
    assert c1.holdout_frequency == 1 and c1.holdout_value == pytest.approx(8.0)
    assert c1.holdout_duration == pytest.approx(2.0)
    assert c2.frequency == 0 and c2.recency == 0 and c2["T"] == pytest.approx(1.0)
    assert pd.isna(c2.monetary_value)
    assert c2.holdout_frequency == 0
    assert pd.Timestamp(c1.first_purchase).date() == dt.date(2024, 1, 1)


@pytest.mark.parametrize(("unit", "length"), [("day", 1.0), ("week", 7.0), ("month", 30.4375)])
def test_time_units(con, unit, length):
    t = _tx(con, [("a", "2024-01-01", 1.0), ("a", "2024-01-11", 2.0)])
    df = rfm_summary(t, calibration_end="2024-01-31", time_unit=unit).execute()
    assert df.recency.iloc[0] == pytest.approx(10 / length)
    assert df["T"].iloc[0] == pytest.approx(30 / length)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"calibration_end": "2024-13-01"}, "not a date"),
        ({"calibration_end": "2024-01-31", "time_unit": "year"}, "time_unit"),
        ({"calibration_end": "2024-01-31", "holdout_end": "2024-01-01"}, "after calibration_end"),
        ({"calibration_end": "2024-01-31", "amount_col": "value"}, "missing column"),
    ],
)
def test_bad_arguments(con, kwargs, match):
    t = _tx(con, [("a", "2024-01-01", 1.0)])
    with pytest.raises(CxroiError, match=match):
        rfm_summary(t, **kwargs)


def test_exact_times_keep_same_day_purchases_apart(con):
    t = _tx(
        con,
        [
            ("a", "2024-01-01 00:00", 1.0),
            ("a", "2024-01-01 12:00", 2.0),
            ("a", "2024-01-08 06:00", 4.0),
            ("a", "2024-01-31 23:00", 8.0),  # last day of calibration: included
            ("a", "2024-02-01 00:00", 16.0),  # after it
        ],
    )
    df = rfm_summary(t, calibration_end="2024-01-31", time_unit="day", merge_same_day=False)
    row = df.execute().iloc[0]
    assert row.frequency == 3
    assert row.recency == pytest.approx(30 + 23 / 24)
    assert row["T"] == pytest.approx(31.0)
    assert row.monetary_value == pytest.approx((2 + 4 + 8) / 3)
