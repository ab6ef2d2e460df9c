"""``cxroi report``: the executive report as one HTML file (and its PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import WorkspaceOpt, app, open_workspace
from cxroi.cli._safe import plain


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="The HTML file to write.")],
    pdf: Annotated[
        Path | None, typer.Option(help="Also print it to this A4 PDF (needs Chromium).")
    ] = None,
    period: Annotated[
        str, typer.Option(help="Scorecard periods: month, quarter or week.")
    ] = "month",
    since: Annotated[str | None, typer.Option(help="First scorecard period.")] = None,
    until: Annotated[str | None, typer.Option(help="Last scorecard period.")] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Write the report: what the customer experience is worth, the scorecard, drivers,
    voice of the customer, lifetime value, opportunities, initiatives and the journey, with
    charts, intervals and method notes; one file that opens offline."""
    from cxroi.report.html import write_report

    with open_workspace(workspace, "report") as ws:
        written = write_report(ws, out, pdf_out=pdf, period=period, since=since, until=until)
    for path in written:
        typer.echo(plain(f"written: {path}"))
