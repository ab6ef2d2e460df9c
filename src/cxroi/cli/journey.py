"""The journey map and its measures: ``cxroi journey init|check|touchpoints|funnel|paths|
pain-points|map|blueprint``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit
from cxroi.cli._safe import plain

journey_app = typer.Typer(
    help="The customer journey map and service blueprint (journey.yaml), measured from the data.",
    no_args_is_help=True,
)
app.add_typer(journey_app, name="journey")


@journey_app.command("init")
def init(
    force: Annotated[bool, typer.Option(help="Replace an existing journey.yaml.")] = False,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Propose journey.yaml from the touchpoints and stages found in the data."""
    from cxroi.analyses.journey import journey_init

    with open_workspace(workspace, "journey init") as ws:
        emit(journey_init(ws, force=force), format, table=table)


@journey_app.command("check")
def check(
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Validate journey.yaml against the data; every problem on its own line (exit code 2)."""
    from cxroi.analyses.journey import journey_check
    from cxroi.journey import JOURNEY_FILE

    with open_workspace(workspace, "journey check") as ws:
        result = journey_check(ws)
    problems = result.table("problems")["problem"].tolist()
    if format is not Format.table or not problems:
        emit(result, format, table=table)
    for p in problems:
        typer.echo(f"error: {JOURNEY_FILE}: {plain(p)}", err=True)
    if problems:
        raise typer.Exit(2)


@journey_app.command("touchpoints")
def touchpoints(
    comments: Annotated[
        bool,
        typer.Option(help="Also the sentiment and top themes of each touchpoint's comments."),
    ] = True,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Per touchpoint: events, customers, NPS/CSAT/CES, tickets and cost, time to next step."""
    from cxroi.analyses.journey import journey_touchpoints

    with open_workspace(workspace, "journey touchpoints") as ws:
        emit(journey_touchpoints(ws, comments=comments), format, table=table)


@journey_app.command("funnel")
def funnel(
    steps: Annotated[
        str, typer.Option(help="Ordered event touchpoints, comma-separated: website,checkout.")
    ],
    within: Annotated[
        str, typer.Option(help="Conversion window from step 1: 30d, 12h, 2w, or none.")
    ] = "30d",
    by: Annotated[
        str | None,
        typer.Option(help="Also per value of this customer column (drop-off by segment)."),
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Step-to-step and overall conversion, time to convert, and drop-off by segment."""
    from cxroi.analyses.journey import journey_funnel

    with open_workspace(workspace, "journey funnel") as ws:
        emit(journey_funnel(ws, steps.split(","), within=within, by=by), format, table=table)


@journey_app.command("paths")
def paths(
    length: Annotated[int, typer.Option(min=1, help="Steps per path.")] = 4,
    top: Annotated[int, typer.Option(min=1, help="Paths shown.")] = 10,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """The most frequent paths, churned against retained customers, and where journeys leave
    the map."""
    from cxroi.analyses.journey import journey_paths

    with open_workspace(workspace, "journey paths") as ws:
        emit(journey_paths(ws, length=length, top=top), format, table=table)


@journey_app.command("pain-points")
def pain_points(
    recent: Annotated[
        str, typer.Option(help="The recent window, ending at the last day of the data: 90d, 12w.")
    ] = "90d",
    survey: Annotated[
        str | None,
        typer.Option(help="Survey of the overall NPS (default: answers given at no touchpoint)."),
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Moments of truth and pain points: touchpoints ranked by their driver weight on overall
    NPS and churn crossed with their recent CSAT, with the money at stake."""
    from cxroi.analyses.journey_pain import journey_pain_points

    with open_workspace(workspace, "journey pain-points") as ws:
        emit(journey_pain_points(ws, recent=recent, survey=survey), format, table=table)


OutOpt = Annotated[Path, typer.Option("--out", help="The picture to write: FILE.svg or FILE.png.")]


@journey_app.command("map")
def map_(
    out: OutOpt,
    metric: Annotated[
        str, typer.Option(help="Colour the cells by: nps, csat, ces, sentiment, events, ...")
    ] = "nps",
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
) -> None:
    """Draw the journey map: stages x touchpoints coloured by a metric, with the emotion
    curve."""
    from cxroi.analyses.journey import journey_picture

    with open_workspace(workspace, "journey map") as ws:
        emit(journey_picture(ws, "map", out, metric=metric), format)


@journey_app.command("blueprint")
def blueprint(
    out: OutOpt, workspace: WorkspaceOpt = Path("."), format: FormatOpt = Format.table
) -> None:
    """Draw the service blueprint: customer, frontstage, line of visibility, backstage,
    support."""
    from cxroi.analyses.journey import journey_picture

    with open_workspace(workspace, "journey blueprint") as ws:
        emit(journey_picture(ws, "blueprint", out), format)
