"""The ``cxroi`` command line: one Typer app; each command parses, makes one library call,
formats the answer.

Conventions every command follows:

- ``--workspace DIR`` (default: the current folder);
- reporting commands take ``--format table|csv|json`` and print through :func:`emit`;
- a library error (:class:`~cxroi.errors.CxroiError`) prints as ``error: …`` on stderr and
  exits with code 2, never a traceback.
"""

from __future__ import annotations

import json
import math
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cxroi.errors import CxroiError

__all__ = ["app", "emit", "main"]


class _Group(TyperGroup):
    """Turns library errors into one clean message and exit code 2."""

    def invoke(self, ctx):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except CxroiError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group,
    help="cxroi: customer-experience analytics from what you do (A), through how customers "
    "perceive it (C), to what they are worth (B).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder.", show_default=True)
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalar
        return _jsonable(v.item())
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def emit(data: Any, fmt: Format | str, *, title: str | None = None) -> None:
    """Print a DataFrame, a list of dicts or a dict as a table, CSV or JSON."""
    import pandas as pd

    fmt = Format(fmt)
    if fmt is Format.json:
        if isinstance(data, pd.DataFrame):
            data = data.astype(object).where(data.notna(), None).to_dict(orient="records")
        typer.echo(json.dumps(_jsonable(data), indent=2, ensure_ascii=False))
        return
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if fmt is Format.csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    Console().print(table)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 1 or v == 0 else f"{v:.3g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _progress_for(path: Path | None):
    """A Rich progress bar for large files on a terminal; ``None`` in pipes."""
    if path is None or not sys.stderr.isatty() or not path.is_file():
        return None, None
    if path.stat().st_size < 20 * 2**20:
        return None, None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
    )
    task = bar.add_task(f"loading {path.name}", total=1.0)

    def note(step: str, fraction: float) -> None:
        bar.update(task, completed=fraction, description=f"{step} {path.name}")

    return bar, note


# -- workspace ---------------------------------------------------------------------------------
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
        typer.echo(f"created workspace {ws.path} ({ws.settings.engine or 'cx.duckdb'})")


def _parse_pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise CxroiError(f"{flag} {item!r}: expected NAME=VALUE")
        out[src] = dst
    return out


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help="Canonical table: customers, transactions, ….")],
    file: Annotated[Path, typer.Argument(help="CSV, TSV, Parquet, JSON Lines or Excel file.")],
    workspace: WorkspaceOpt = Path("."),
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Rename a column: SOURCE=CANONICAL (repeatable)."),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Load good rows; write bad ones to FILE.rejected.csv.")
    ] = False,
    adapter: Annotated[
        str, typer.Option(help="auto, none, qualtrics, surveymonkey or helpdesk.")
    ] = "auto",
    question: Annotated[
        list[str] | None,
        typer.Option(help="Override a detected question: nps=Q5, comment=Q7 (repeatable)."),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV/TSV files.")] = "utf-8",
) -> None:
    """Load a file into a canonical table: validated, all or nothing, upsert by key."""
    from cxroi.store import Workspace

    mapping = _parse_pairs(map_, "--map")
    questions = _parse_pairs(question, "--question")
    bar, note = _progress_for(file)
    with Workspace.open(workspace) as ws:
        if bar is not None:
            bar.start()
        try:
            r = ws.ingest(
                table, file, mapping=mapping, skip_bad=skip_bad, adapter=adapter,
                questions=questions, encoding=encoding, progress=note,
            )  # fmt: skip
        finally:
            if bar is not None:
                bar.stop()
    typer.echo(
        f"{r.table}: {r.rows:,} rows read, {r.inserted:,} new, {r.updated:,} replaced"
        + (f", {r.rejected:,} rejected" if skip_bad else "")
    )
    if r.rejected_path is not None:
        typer.echo(f"rejected rows with reasons: {r.rejected_path}")


@app.command()
def tables(workspace: WorkspaceOpt = Path("."), format: FormatOpt = Format.table) -> None:
    """List the canonical tables with their row counts and key."""
    from cxroi.schema import TABLES
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        counts = ws.counts()
    rows = [
        {"table": n, "rows": counts[n], "key": t.key, "description": t.description}
        for n, t in TABLES.items()
    ]
    emit(rows, format)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
