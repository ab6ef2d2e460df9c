"""Workspace commands: ``init``, ``ingest``, ``tables``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, fail, open_workspace
from cxroi.cli._render import emit
from cxroi.cli._safe import plain


def _parse_pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            fail(f"{flag} {item!r}: expected NAME=VALUE")
        out[src] = dst
    return out


def _progress_for(path: Path | None):
    """A Rich progress bar for large files on a terminal; ``None`` in pipes."""
    if path is None or not sys.stderr.isatty() or not path.is_file():
        return None, None
    if path.stat().st_size < 20 * 2**20:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True,
        console=Console(stderr=True),  # stdout carries the result
    )  # fmt: skip
    task = bar.add_task(f"loading {plain(path.name)}", total=1.0)

    def note(step: str, fraction: float) -> None:
        bar.update(task, completed=fraction, description=f"{step} {plain(path.name)}")

    return bar, note


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")],
    currency: Annotated[str, typer.Option(help="ISO currency of money columns.")] = "USD",
    timezone: Annotated[str, typer.Option(help="Zone of naive times in inputs.")] = "UTC",
    engine: Annotated[
        str | None, typer.Option(help="Ibis URL of another engine (default: embedded DuckDB).")
    ] = None,
) -> None:
    """Create a workspace: cxroi.toml, the embedded store and every canonical table."""
    from cxroi.config import Settings
    from cxroi.store import Workspace

    settings = Settings(engine=engine, currency=currency, timezone=timezone)
    with Workspace.init(directory, settings=settings) as ws:
        typer.echo(plain(f"created workspace {ws.path} ({ws.engine_label})"))


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help="Canonical table: customers, transactions, ….")],
    file: Annotated[Path, typer.Argument(help="CSV, TSV, Parquet, JSON Lines or Excel file.")],
    workspace: WorkspaceOpt = Path("."),
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Rename a column: SOURCE=CANONICAL (repeatable)."),
    ] = None,
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Load good rows; write bad ones to FILE.rejected.csv."),
    ] = False,
    replace_rows: Annotated[
        bool,
        typer.Option(
            "--replace-rows",
            help="Replace stored rows whole (columns the file lacks become empty).",
        ),
    ] = False,
    allow_dates: Annotated[
        bool,
        typer.Option(
            "--allow-dates", help="Load dates outside the plausible window instead of refusing."
        ),
    ] = False,
    adapter: Annotated[
        str, typer.Option(help="auto, none, qualtrics, surveymonkey or helpdesk.")
    ] = "auto",
    questions: Annotated[
        list[str] | None,
        typer.Option(
            "--question", help="Override a detected question: nps=Q5, comment=Q7 (repeatable)."
        ),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV/TSV files.")] = "utf-8",
) -> None:
    """Load a file into a canonical table: validated, all or nothing, upsert by key."""

    pairs = _parse_pairs(mapping, "--map")
    asked = _parse_pairs(questions, "--question")
    bar, note = _progress_for(file)
    with open_workspace(workspace, "ingest", write=True) as ws:
        if bar is not None:
            bar.start()
        try:
            r = ws.ingest(
                table, file, mapping=pairs, skip_bad=skip_bad, replace_rows=replace_rows,
                allow_dates=allow_dates, adapter=adapter, questions=asked, encoding=encoding,
                progress=note,
            )  # fmt: skip
        finally:
            if bar is not None:
                bar.stop()
    for line in r.summary().splitlines():
        typer.echo(plain(line))
    if r.rejected_path is not None:
        typer.echo(plain(f"rejected rows with reasons: {r.rejected_path}"))


@app.command()
def tables(
    workspace: WorkspaceOpt = Path("."), format: FormatOpt = Format.table, table: TableOpt = None
) -> None:
    """List the canonical tables with their row counts and key; check the mapped ones.

    A table mapped in [tables] of cxroi.toml that does not fit the schema is named on stderr,
    one line per missing table, column or wrong type, and the exit code is 2.
    """
    from cxroi.analyses import workspace_tables

    with open_workspace(workspace, "tables") as ws:
        r = workspace_tables(ws)
    problems = r.params.get("problems", [])
    emit(r, format, table=table)
    for p in problems:
        typer.echo(f"error: {plain(p)}", err=True)
    if problems:
        raise typer.Exit(2)
