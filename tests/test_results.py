"""The result contract: round trips, the estimate columns, safe CSV and HTML."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from cxroi.results import (
    SMALL_N,
    Result,
    Table,
    add_flag,
    csv_safe,
    estimate_frame,
    format_cell,
    small_n_flag,
)


def _result() -> Result:
    est = estimate_frame(
        [
            {"group": "a", "estimate": 1.5, "ci_low": 1.0, "ci_high": 2.0, "n": 40},
            {"group": "b", "estimate": 2.5, "ci_low": np.nan, "ci_high": np.nan, "n": 3},
        ],
        min_n=30,
    )
    data = pd.DataFrame(
        {
            "when": pd.to_datetime(["2025-01-01", "2025-02-01"]),
            "count": [1, 2],
            "ok": [True, False],
        }
    )
    return Result(
        "demo",
        "A demo result",
        [Table("est", "Estimates", est, method="bootstrap"), Table("data", "Data", data, "data")],
        method="bootstrap",
        adjustment=["plan"],
        window={"as_of": pd.Timestamp("2025-03-31").date()},
        params={"n_customers": np.int64(43), "rate": np.float64(0.1)},
        warnings=["b is small"],
        readings=["a is 1.5."],
    )


def test_estimate_frame_completes_the_contract():
    f = _result().table("est")
    assert list(f.columns[-6:]) == ["estimate", "ci_low", "ci_high", "level", "n", "flag"]
    assert f.loc[0, "flag"] == "" and f.loc[0, "level"] == 0.95
    # below min_n and without an interval: both reasons, once each
    assert f.loc[1, "flag"] == f"{SMALL_N};not-estimable"
    assert np.isnan(f.loc[1, "level"])
    assert _result().problems() == []


def test_problems_names_a_row_without_interval_or_reason():
    bad = pd.DataFrame(
        {"estimate": [1.0], "ci_low": [np.nan], "ci_high": [np.nan], "level": [0.95],
         "n": [5], "flag": [""]}
    )  # fmt: skip
    r = Result("x", "x", [Table("t", "t", bad)])
    assert r.problems() == ["t: 1 row(s) without an interval or a reason"]
    r2 = Result("x", "x", [Table("t", "t", bad.drop(columns=["level", "n"]))])
    assert r2.problems() == ["t: lacks level, n"]


def test_json_round_trip_keeps_tables_types_and_metadata():
    r = _result()
    back = Result.from_json(r.to_json())
    assert back.to_dict() == r.to_dict()
    pd.testing.assert_frame_equal(back.table("data"), r.table("data"))
    pd.testing.assert_frame_equal(back.table("est"), r.table("est"))
    d = json.loads(r.to_json())
    assert d["window"] == {"as_of": "2025-03-31"}
    assert d["params"] == {"n_customers": 43, "rate": 0.1}
    assert d["tables"][0]["method"] == "bootstrap"
    assert d["tables"][0]["rows"][1]["ci_low"] is None  # NaN is null, never NaN


def test_json_is_strict_no_nan_or_infinity():
    f = estimate_frame([{"estimate": float("inf"), "ci_low": 0.0, "ci_high": 1.0, "n": 1}])
    text = Result("x", "x", [Table("t", "t", f)]).to_json()
    assert "Infinity" not in text and "NaN" not in text


@pytest.mark.parametrize(
    "payload",
    ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "@SUM(A1:A2)", "-2+3", "\tTAB",
     "\rCR"],
)  # fmt: skip
def test_csv_neutralises_formula_prefixes(payload):
    t = Table("t", "t", pd.DataFrame({"plan": [payload], "x": [-1.5]}), kind="data")
    rows = list(csv.reader(io.StringIO(t.to_csv(), newline="")))
    assert rows[1][0] == "'" + payload
    assert rows[1][1] == "-1.5"  # numbers stay numbers


def test_csv_quotes_cr_and_lf_inside_a_value():
    t = Table("t", "t", pd.DataFrame({"c": ["a\rb", "c\nd", "plain"]}), kind="data")
    text = t.to_csv()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows] == ["c", "a\rb", "c\nd", "plain"]
    assert pd.read_csv(io.StringIO(text))["c"].tolist() == ["a\rb", "c\nd", "plain"]


def test_html_escapes_everything_from_the_data():
    f = pd.DataFrame({"<b>col</b>": ["<script>alert(1)</script>"]})
    r = Result("x", "<i>title</i>", [Table("t", "<u>t</u>", f, "data")], readings=["<img>"])
    out = r._repr_html_()
    assert "<script>" not in out and "<img>" not in out and "<i>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_small_n_flag_and_add_flag():
    assert small_n_flag(29, 30) == SMALL_N and small_n_flag(30, 30) == ""
    assert small_n_flag(np.array([1, 50, np.nan]), 30).tolist() == [SMALL_N, "", ""]
    assert add_flag("", "a") == "a" and add_flag("a", "a") == "a" and add_flag("a", "b") == "a;b"


def test_cells_read_as_in_the_table_view():
    assert format_cell(1234.5) == "1,234.50"
    assert format_cell(0.012345) == "0.0123"
    assert format_cell(12345) == "12,345"
    assert format_cell(float("nan")) == ""
    assert csv_safe("=1") == "'=1" and csv_safe("a=1") == "a=1"


def test_duplicate_table_names_are_refused():
    t = Table("t", "t", pd.DataFrame({"a": [1]}), "data")
    with pytest.raises(ValueError, match="duplicate"):
        Result("x", "x", [t, t])


def test_get_unknown_table_names_the_choices():
    with pytest.raises(KeyError, match="est"):
        _result().get("nope")
