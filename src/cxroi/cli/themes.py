"""Voice of the customer: ``themes``, ``sentiment``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit

JobsOpt = Annotated[int, typer.Option(help="Worker processes (-1: every core).")]


@app.command("themes")
def themes_command(
    workspace: WorkspaceOpt = Path("."),
    by: Annotated[str | None, typer.Option(help="Segment column (responses or customers).")] = None,
    period: Annotated[
        str | None,
        typer.Option(help="Only comments in a period: 2025, 2025-03, 2025-Q1, 2025-W02, A..B."),
    ] = None,
    emerging: Annotated[
        bool, typer.Option(help="Show themes whose share rose in the last month instead.")
    ] = False,
    refit: Annotated[bool, typer.Option(help="Discover themes anew (models/themes.json).")] = False,
    jobs: JobsOpt = -1,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Comment themes: volume, sentiment, NPS with/without, key-driver impact, revenue at risk."""
    from cxroi.analyses import emerging as emerging_themes
    from cxroi.analyses import themes

    with open_workspace(workspace, "themes") as ws:
        if emerging:
            result = emerging_themes(ws, refit=refit, n_jobs=jobs)
        else:
            result = themes(ws, by=by, period=period, refit=refit, n_jobs=jobs)
    emit(result, format, table=table)


@app.command("sentiment")
def sentiment_command(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV file.")],
    text_column: Annotated[str, typer.Option(help="Column with the text.")],
    score_column: Annotated[
        str | None, typer.Option(help="Score column: trains the score-aware model.")
    ] = None,
    scale: Annotated[str, typer.Option(help="nps, csat, ces, stars, binary, signed or auto.")] = (
        "auto"
    ),
    jobs: JobsOpt = -1,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Sentiment (-1..1) of every row of a CSV, in input order, with the model used."""
    from cxroi.analyses import sentiment

    result = sentiment(
        input, text_column=text_column, score_column=score_column, scale=scale, n_jobs=jobs
    )
    emit(result, format, table=table)
