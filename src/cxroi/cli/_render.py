"""Render a :class:`~cxroi.results.Result` as a terminal table, CSV or JSON.

This is the only place the CLI turns results into text, and it knows no analysis's keys:
JSON is :meth:`Result.to_json` (everything), CSV is one table (:meth:`Result.to_csv`,
formula-safe), and the table view prints each table's ``view`` columns under its title (only
the ``--table`` one when given; tables marked ``show=False`` only when named), then the
readings, with warnings on stderr.

:class:`RichReporter` draws the library's progress (:mod:`cxroi.progress`) as transient bars;
:mod:`cxroi.cli._app` installs it for every command when stderr is a terminal.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Task as BarTask
from rich.table import Table as RichTable
from rich.text import Text

from cxroi import progress
from cxroi.cli._app import Format
from cxroi.cli._safe import plain
from cxroi.errors import CxroiError
from cxroi.results import Result, Table, format_cell

__all__ = ["RichReporter", "emit"]


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


class RichReporter(progress.Reporter):
    """Draw the library's progress on ``console`` (stderr) as transient Rich bars.

    One row per open task, a child indented under its parent: a bar and ``done/total`` when
    the total is known, a pulse and the count so far when not, and the elapsed time. Nothing
    is drawn until a task has been open for ``delay`` seconds, so quick commands never
    flicker; the rows are cleared when the last task ends, before the command prints its
    result. Lines written to stderr meanwhile (warnings, notes) print above the bars; stdout
    is left alone, so a redirected result never receives a bar.
    """

    def __init__(self, console: Console, *, delay: float = 0.5):
        self._bars = Progress(
            SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
            _CountColumn(), TimeElapsedColumn(), console=console, transient=True,
            redirect_stdout=False, redirect_stderr=True, refresh_per_second=8,
        )  # fmt: skip
        self._delay = delay
        self._lock = threading.RLock()
        self._labels: dict[Any, str] = {}
        self._live = False
        self._timer: threading.Timer | None = None

    def open(self, description: str, total: float | None, depth: int) -> Any:
        label = "  " * depth + plain(description)
        with self._lock:
            handle = self._bars.add_task(label, total=total)
            self._labels[handle] = label
            if not self._live and self._timer is None:
                if self._delay <= 0:
                    self._show()
                else:
                    self._timer = threading.Timer(self._delay, self._show)
                    self._timer.daemon = True
                    self._timer.start()
        return handle

    def advance(self, handle: Any, n: float) -> None:
        with self._lock:
            if handle in self._labels:  # not a task already cleared by stop()
                self._bars.advance(handle, n)

    def step(self, handle: Any, description: str) -> None:
        with self._lock:
            label = self._labels.get(handle)
            if label is not None:
                self._bars.update(handle, description=f"{label}: {plain(description)}")

    def close(self, handle: Any) -> None:
        with self._lock:
            if self._labels.pop(handle, None) is None:
                return
            self._bars.remove_task(handle)
            if not self._labels:
                self._hide()

    def _show(self) -> None:
        with self._lock:
            self._timer = None
            if self._labels and not self._live:
                self._bars.start()
                self._live = True

    def _hide(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._live:
                self._bars.stop()
                self._live = False

    def stop(self) -> None:
        """Clear every row and stop drawing (the command ended, perhaps by an error)."""
        with self._lock:
            for handle in list(self._labels):
                self._bars.remove_task(handle)
            self._labels.clear()
            self._hide()


def _count(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() or x >= 10 else f"{x:,.2g}"


class _CountColumn(ProgressColumn):
    """``done/total`` when the total is known; the count so far (if any) when not."""

    def render(self, task: BarTask) -> Text:
        if task.total is None:
            return Text(_count(task.completed) if task.completed else "", style="dim")
        return Text(f"{_count(task.completed)}/{_count(task.total)}", style="dim")
