"""The CLI's one renderer: no analysis keys, and nothing from the data reaches the terminal raw."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from cxroi.cli._render import emit
from cxroi.cli._safe import plain
from cxroi.errors import CxroiError
from cxroi.results import Result, Table, estimate_frame

HOSTILE = [
    "[/red]",
    "[link=http://evil.example]click[/link]",
    "\x1b[2J\x1b[31mred",
    "\x1b]8;;http://evil.example\x1b\\hidden\x1b]8;;\x1b\\",
    "bell\x07",
    "bare\rCR",
    "=HYPERLINK(\"http://x\")",
]  # fmt: skip


def _result() -> Result:
    est = estimate_frame(
        [{"plan": p, "estimate": 1.0, "ci_low": 0.5, "ci_high": 1.5, "n": 40} for p in HOSTILE]
    )
    return Result(
        "hostile", "Title [bold]x[/bold]", [Table("t", "T \x1b[2J", est)], readings=["[/red]"]
    )


def test_table_view_escapes_control_characters_and_never_reads_markup(capsys):
    emit(_result(), "table")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert "[/red]" in out  # printed as text, not swallowed as markup
    assert "[link=http://evil.example]click[/link]" in out
    assert "\\x1b[2J" in out
    assert "T \\x1b[2J" in out


def test_csv_view_is_formula_safe(capsys):
    emit(_result(), "csv")
    out = capsys.readouterr().out
    cells = [r[0] for r in csv.reader(io.StringIO(out, newline=""))]
    assert cells[1:] == [("'" + p if p.startswith("=") else p) for p in HOSTILE]


def test_json_view_carries_everything(capsys):
    emit(_result(), "json")
    d = json.loads(capsys.readouterr().out)
    assert [r["plan"] for r in d["tables"][0]["rows"]] == HOSTILE
    assert d["readings"] == ["[/red]"]


def test_csv_of_an_unknown_table_is_a_clean_error():
    with pytest.raises(CxroiError, match="no table 'x' in this result; choose one of t"):
        emit(_result(), "csv", table="x")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("a\x1bb", "a\\x1bb"), ("a\nb", "a\\nb"), ("\u202eevil", "\\u202eevil"), ("ok", "ok")],
)
def test_plain(raw, shown):
    assert plain(raw) == shown


def test_plain_keeps_newlines_when_asked():
    assert plain("a\nb\x1b", newlines=True) == "a\nb\\x1b"


def test_frame_to_table_columns_come_from_view(capsys):
    f = pd.DataFrame({"a": [1], "b": [2]})
    emit(Result("x", "x", [Table("t", "t", f, "data", view=["b"])]), "table")
    out = capsys.readouterr().out
    assert " b" in out and " a " not in out
