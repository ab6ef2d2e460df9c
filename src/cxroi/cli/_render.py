"""Render a :class:`~cxroi.results.Result` as a terminal table, CSV or JSON.

This is the only place the CLI turns results into text, and it knows no analysis's keys:
JSON is :meth:`Result.to_json` (everything), CSV is one table (:meth:`Result.to_csv`,
formula-safe), and the table view prints each table's ``view`` columns under its title (only
the ``--table`` one when given; tables marked ``show=False`` only when named), then the
readings, with warnings on stderr.
"""

from __future__ import annotations

import sys

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from cxroi.cli._app import Format
from cxroi.cli._safe import plain
from cxroi.errors import CxroiError
from cxroi.results import Result, Table, format_cell

__all__ = ["emit"]


def emit(result: Result, fmt: Format | str, *, table: str | None = None) -> None:
    """Print ``result`` in format ``fmt`` (``table`` picks the CSV table)."""
    fmt = Format(fmt)
    if fmt is Format.json:
        typer.echo(result.to_json())
        return
    if fmt is Format.csv:
        try:
            part = result.get(table)
        except KeyError:
            raise CxroiError(
                f"no table {table!r} in this result; choose one of {', '.join(result.names)}"
            ) from None
        sys.stdout.write(part.to_csv())
        return
    console = Console(width=None if sys.stdout.isatty() else 10_000, highlight=False)
    if table is not None and table not in result.names:
        raise CxroiError(
            f"no table {table!r} in this result; choose one of {', '.join(result.names)}"
        )
    for t in result.tables:
        if (table is not None and t.name != table) or (table is None and not t.show):
            continue
        console.print(_rich_table(t))
        if t.method:
            console.print(Text(plain(f"method: {t.method}"), style="dim"))
    for r in result.readings:
        console.print(Text(plain(r)))
    for w in result.warnings:
        typer.echo(f"warning: {plain(w)}", err=True)


def _rich_table(t: Table) -> RichTable:
    frame = t.shown
    out = RichTable(title=Text(plain(t.title)), show_edge=False, header_style="bold")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col]) and frame[col].dtype != bool
        out.add_column(Text(plain(col)), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        out.add_row(*(Text(plain(format_cell(v))) for v in row))
    return out
