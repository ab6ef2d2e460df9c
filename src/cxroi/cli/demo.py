"""``cxroi demo``: the whole job on a simulated company, in one library call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, WorkspaceOpt, app
from cxroi.cli._render import emit
from cxroi.cli._safe import plain


@app.command("demo")
def demo_command(
    workspace: WorkspaceOpt = Path("demo-workspace"),
    customers: Annotated[
        int,
        typer.Option(
            min=100,
            help="Customers to simulate (at most what the machine's memory can simulate).",
        ),
    ] = 5_000,
    months: Annotated[int, typer.Option(min=3, max=120, help="Months to simulate.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    data_only: Annotated[
        bool,
        typer.Option(
            "--data-only",
            help="Generate and ingest the company, without the scorecard and the report.",
        ),
    ] = False,
    format: FormatOpt = Format.table,
) -> None:
    """Generate a synthetic company with known ground truth, ingest it, analyse it and write
    reports/report.md (with the check against the truth) and the executive report
    reports/report.html and .pdf."""
    from cxroi.demo import run_demo

    run = run_demo(workspace, customers=customers, months=months, seed=seed, analyse=not data_only)
    if format is Format.json:
        typer.echo(run.to_json())
    else:
        emit(run.ingested, format)
        if run.scorecard is not None:
            emit(run.scorecard, format)
    if run.report is not None:
        typer.echo(plain(f"report written to {run.report}"), err=True)
    for picture in run.pictures:
        typer.echo(plain(f"drawn: {picture}"), err=True)
    for path in run.executive:
        typer.echo(plain(f"executive report written to {path}"), err=True)
    for line in run.notes:
        typer.echo(plain(f"note: {line}"), err=True)
