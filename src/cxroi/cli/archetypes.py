"""``cxroi archetypes``: data-driven customer archetypes, and every customer's archetype."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, fail, open_workspace
from cxroi.cli._out import write_csv
from cxroi.cli._render import emit


@app.command("archetypes")
def archetypes_command(
    workspace: WorkspaceOpt = Path("."),
    k: Annotated[
        int | None, typer.Option("--k", help="Number of archetypes (default: chosen by BIC).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write customer_id,archetype,probability of every customer."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Day of the profile (default: the last day of data).")
    ] = None,
    survey: Annotated[str | None, typer.Option(help="NPS from this survey only.")] = None,
    themes: Annotated[bool, typer.Option(help="Use the theme mentions of comments.")] = True,
    jobs: Annotated[int, typer.Option(help="Worker processes for comments (-1: all).")] = -1,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Customer archetypes: clusters on behaviour, attitude and value, each named and
    described from its own data, with its most typical comments."""
    from cxroi.analyses.archetypes import archetype_run

    if out is not None and not out.parent.is_dir():  # before the fit, not after
        fail(f"--out {out}: folder {out.parent} does not exist")
    with open_workspace(workspace, "archetypes") as ws:
        run = archetype_run(ws, k=k, as_of=as_of, survey=survey, themes=themes, n_jobs=jobs)
    if out is not None:
        write_csv(run.assignments, out)
    emit(run.result, format, table=table)
