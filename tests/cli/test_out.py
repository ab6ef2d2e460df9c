"""``--out``: the CSV written in blocks is byte for byte the one-piece CSV, formula-safe."""

from __future__ import annotations

import pandas as pd
import pytest

from cxroi.cli import _out
from cxroi.errors import CxroiError
from cxroi.results import Table


def test_blocks_write_the_same_bytes_as_one_piece(tmp_path, monkeypatch):
    monkeypatch.setattr(_out, "BLOCK_ROWS", 3)
    df = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(10)],
            "churn_probability": [i / 10 for i in range(10)],
            "reasons": ["=cmd|' /C calc'!A0", "a, b", 'q"t', "", None, "x\ny", "y", "z", "w", "v"],
        }
    )
    path = _out.write_csv(df, tmp_path / "scores.csv")
    got = path.read_bytes().decode("utf-8")
    assert got == Table("out", "out", df, kind="data").to_csv()
    assert "'=cmd" in got  # a formula is written as text
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left
    empty = _out.write_csv(df.iloc[:0], tmp_path / "empty.csv")
    assert empty.read_bytes() == b"customer_id,churn_probability,reasons\r\n"


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CxroiError, match="does not exist"):
        _out.write_csv(pd.DataFrame({"a": [1]}), tmp_path / "no" / "x.csv")
