"""Read an input file or frame into an Arrow table, with the input line of every row.

Text formats (CSV, TSV) are read with every column as a string, so that validation in
:mod:`cxroi.ingest` sees exactly what the file says and can name a bad value; typed formats
(Parquet, JSON Lines, Excel, frames) keep their types. Each row carries ``_line``: the line of
the file it came from (header = line 1), or the row number for Parquet and frames.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from cxroi.errors import IngestError, first_line, param

__all__ = [
    "FORMATS",
    "MAX_FIELD",
    "Staged",
    "check_column_names",
    "check_encoding",
    "check_text_file",
    "read_source",
    "sniff_header_rows",
]

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".xlsx": "excel",
    ".xlsm": "excel",
}

LINE = "_line"


@dataclass
class Staged:
    """An input read into Arrow, ready for validation.

    Attributes
    ----------
    data
        The rows, with a ``_line`` column.
    label
        How messages name the input (the file name, or ``"frame"``).
    unit
        ``"line"`` for text files, ``"row"`` for Parquet, Excel and frames.
    path
        The input file, when there is one.
    """

    data: pa.Table
    label: str
    unit: str = "line"
    path: Path | None = None


def _with_lines(table: pa.Table, first: int) -> pa.Table:
    lines = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
    return table.append_column(LINE, lines)


MAX_FIELD = 1 << 20
"""Longest value (characters) the header sniffer accepts in one CSV field."""

_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an Excel workbook? name it .xlsx)",
    b"\x1f\x8b": "a gzip archive (unpack it first)",
    b"PAR1": "a Parquet file (name it .parquet)",
    b"SQLite format 3": "an SQLite database",
}


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; an unknown one is an :class:`IngestError` naming it."""
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise IngestError(
            f"unknown {param('encoding')} {encoding!r}; use e.g. utf-8, latin-1 or cp1252"
        ) from None


def check_text_file(path: Path) -> None:
    """Refuse a binary file given as CSV/TSV, saying what it looks like."""
    with path.open("rb") as f:
        head = f.read(8192)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise IngestError(f"{path.name}: this is not a text file; it looks like {what}")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(f"{path.name}: this is not a text file (it holds binary data)")


def sniff_header_rows(path: Path, n: int = 3, *, encoding: str = "utf-8") -> list[list[str]]:
    """Return the first ``n`` rows of a delimited text file, parsed as CSV.

    Line ends may be LF, CRLF or bare CR; a field longer than :data:`MAX_FIELD` characters in
    the first rows is an :class:`IngestError` (it is no CSV export we know).
    """
    check_encoding(encoding)
    check_text_file(path)
    delim = "\t" if FORMATS.get(path.suffix.lower()) == "tsv" else ","
    with path.open(newline="", encoding=encoding, errors="replace") as f:
        head = f.read(1 << 20)
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=delim)
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(MAX_FIELD)
        for row in reader:
            rows.append(row)
            if len(rows) >= n:
                break
    except csv.Error as e:
        if len(head) >= (1 << 20) and "field larger" not in str(e):
            return rows[:n]  # the sniffed block ended inside a quoted value: fine
        what = (
            f"a value longer than {MAX_FIELD:,} characters" if "field larger" in str(e) else str(e)
        )
        raise IngestError(f"{path.name}: line {reader.line_num}: {what}") from None
    finally:
        csv.field_size_limit(limit)
    return rows[:n]


def _first_bad_utf8_line(path: Path) -> tuple[int, str]:
    with path.open("rb") as f:
        for i, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return i, f"byte 0x{raw[e.start]:02x} at position {e.start + 1}"
    return 0, ""


def _read_text(
    path: Path, fmt: str, encoding: str, names: list[str] | None, header_rows: int
) -> pa.Table:
    import pyarrow.csv as pcsv

    delim = "\t" if fmt == "tsv" else ","
    if names is None:
        rows = sniff_header_rows(path, 1, encoding=encoding)
        header = rows[0] if rows else None
        if not header or all(not h.strip() for h in header):
            raise IngestError(f"{path.name}: line 1: no header row (expected column names)")
        header[0] = header[0].lstrip("\ufeff")
    else:
        header = list(names)
    check_column_names(header, f"{path.name}: line 1")
    read = pcsv.ReadOptions(
        column_names=header,
        skip_rows=header_rows,
        encoding=encoding,
        block_size=1 << 24,
    )
    convert = pcsv.ConvertOptions(
        column_types={h: pa.string() for h in header},
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=True,
    )
    try:
        try:
            # Parallel parsing needs newlines_in_values=False; a quoted value with a line
            # break makes that fail, and the file is read again the slower way.
            parse = pcsv.ParseOptions(delimiter=delim, newlines_in_values=False)
            return pcsv.read_csv(
                path, read_options=read, convert_options=convert, parse_options=parse
            )
        except pa.ArrowInvalid as e:
            if "UTF8" in str(e) or "utf8" in str(e).lower():
                raise
            parse = pcsv.ParseOptions(delimiter=delim, newlines_in_values=True)
            return pcsv.read_csv(
                path, read_options=read, convert_options=convert, parse_options=parse
            )
    except (pa.ArrowException, OSError) as e:
        msg = first_line(e)
        if "UTF8" in msg or "utf8" in msg.lower():
            line, where = _first_bad_utf8_line(path)
            raise IngestError(
                f"{path.name}: line {line}: not valid UTF-8 ({where}); save the file as UTF-8 "
                f"or give its encoding (e.g. {param('encoding', 'latin-1')})"
            ) from None
        raise IngestError(f"{path.name}: cannot parse as {fmt.upper()}: {msg}") from None


def check_column_names(names: list[str], where: str) -> None:
    """Refuse duplicate column names, also those differing only by case (SQL folds case)."""
    seen: dict[str, str] = {}
    clashes = []
    for name in names:
        key = name.casefold()
        if key in seen:
            clashes.append(name if seen[key] == name else f"{seen[key]} / {name}")
        seen.setdefault(key, name)
    if clashes:
        raise IngestError(
            f"{where}: duplicate column name(s): {', '.join(clashes)} (names that differ "
            "only by case count as the same)"
        )


def _read_excel(path: Path) -> pa.Table:
    import pandas as pd

    try:
        frame = pd.read_excel(path, engine="openpyxl", dtype=object)
    except Exception as e:  # openpyxl raises many types for a damaged workbook
        raise IngestError(f"{path.name}: cannot read as an Excel workbook: {e}") from None
    return _frame_to_arrow(frame, path.name)


def _frame_to_arrow(frame: Any, label: str) -> pa.Table:
    import pandas as pd

    frame = frame.copy()
    for col in frame.columns:
        s = frame[col]
        if s.dtype == object:
            kinds = {type(v) for v in s.dropna()}
            if len(kinds) > 1 or (kinds and not kinds <= {str}):
                if kinds <= {pd.Timestamp} or all(
                    issubclass(k, pd.Timestamp | np.datetime64) for k in kinds
                ):
                    frame[col] = pd.to_datetime(s)
                else:
                    frame[col] = s.map(lambda v: None if pd.isna(v) else str(v))
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise IngestError(f"{label}: cannot convert the frame to columns: {e}") from None


def read_source(
    source: str | Path | Any,
    *,
    encoding: str = "utf-8",
    names: list[str] | None = None,
    header_rows: int = 1,
) -> Staged:
    """Read ``source`` (a path, pandas DataFrame or pyarrow Table) into a :class:`Staged`.

    Parameters
    ----------
    source
        A CSV, TSV, Parquet, JSON Lines or Excel file, or an in-memory frame.
    encoding
        Text encoding of CSV/TSV files.
    names, header_rows
        For exports with several header rows (survey tools): the column names to use and
        how many lines to skip before the data.

    Raises
    ------
    IngestError
        Missing, empty, unreadable or wrongly encoded input, naming the file and line.
    """
    if isinstance(source, pa.Table):
        check_column_names(source.column_names, "frame")
        return Staged(_with_lines(source, 1), "frame", unit="row")
    if hasattr(source, "to_records") and hasattr(source, "columns"):  # pandas DataFrame
        check_column_names([str(c) for c in source.columns], "frame")
        return Staged(_with_lines(_frame_to_arrow(source, "frame"), 1), "frame", unit="row")
    path = Path(source)
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a folder, not a file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(
            f"{path.name}: unknown file type {path.suffix!r}; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    if path.stat().st_size == 0:
        raise IngestError(f"{path.name}: the file is empty")
    if fmt in ("csv", "tsv"):
        table = _read_text(path, fmt, encoding, names, header_rows)
        first = 1 + header_rows
        unit = "line"
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as e:
            raise IngestError(f"{path.name}: cannot read as Parquet: {e}") from None
        first, unit = 1, "row"
    elif fmt == "jsonl":
        import pyarrow.json as pj

        try:
            table = pj.read_json(path)
        except (pa.ArrowException, OSError) as e:
            raise IngestError(f"{path.name}: cannot read as JSON Lines: {e}") from None
        first, unit = 1, "line"
    else:
        table = _read_excel(path)
        first, unit = 2, "row"
    if table.num_rows == 0:
        raise IngestError(f"{path.name}: the file has a header but no rows")
    check_column_names(table.column_names, path.name)
    return Staged(_with_lines(table, first), path.name, unit=unit, path=path)
