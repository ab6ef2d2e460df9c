"""The initiative register: ``initiative add|list|show|close``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit

initiative_app = typer.Typer(
    help="The initiative register: what you do, for whom, from when, at what cost.",
    no_args_is_help=True,
)
app.add_typer(initiative_app, name="initiative")

IdArg = Annotated[str, typer.Argument(help="Initiative id.")]


@initiative_app.command("add")
def add(
    initiative_id: IdArg,
    name: Annotated[str, typer.Option(help="A name readers know it by.")],
    level: Annotated[
        str,
        typer.Option(help="efficiency, excellence, product_innovation or experience_innovation."),
    ],
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")],
    cost: Annotated[float, typer.Option(help="One-off cost.")],
    running_cost: Annotated[float, typer.Option(help="Running cost per month.")] = 0.0,
    end: Annotated[str | None, typer.Option(help="Last day (default: still running).")] = None,
    target: Annotated[
        str | None,
        typer.Option(help="Customers it is for: \"plan == 'premium' and region == 'north'\"."),
    ] = None,
    touchpoint: Annotated[str | None, typer.Option(help="The touchpoint it changes.")] = None,
    metric: Annotated[
        str, typer.Option(help="Perception score it aims to move: nps, csat, ces, rating_*.")
    ] = "nps",
    expected_effect: Annotated[
        float | None, typer.Option(help="Expected change of that score (NPS points, units).")
    ] = None,
    behaviour: Annotated[
        str, typer.Option(help="What should follow: churn, spend, purchases, cost_to_serve.")
    ] = "churn",
    holdout_share: Annotated[
        float | None, typer.Option(help="Share of the target held out at random at launch.")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Who runs it.")] = None,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Register a new initiative (warns when it overlaps another on the same customers)."""
    from cxroi.analyses import initiative_add

    with open_workspace(workspace, "initiative add", write=True) as ws:
        result = initiative_add(
            ws, initiative_id=initiative_id, name=name, level=level, start=start, cost=cost,
            running_cost=running_cost, end=end, target=target, touchpoint=touchpoint,
            metric=metric, expected_effect=expected_effect, behaviour=behaviour,
            holdout_share=holdout_share, owner=owner,
        )  # fmt: skip
    emit(result, format, table=table)


@initiative_app.command("list")
def list_(
    workspace: WorkspaceOpt = Path("."), format: FormatOpt = Format.table, table: TableOpt = None
) -> None:
    """Every initiative with the size of its target group."""
    from cxroi.analyses import initiative_list

    with open_workspace(workspace, "initiative list") as ws:
        emit(initiative_list(ws), format, table=table)


@initiative_app.command("show")
def show(
    initiative_id: IdArg,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """One initiative: every field, its target group and its overlaps."""
    from cxroi.analyses import initiative_show

    with open_workspace(workspace, "initiative show") as ws:
        emit(initiative_show(ws, initiative_id), format, table=table)


@initiative_app.command("close")
def close(
    initiative_id: IdArg,
    end: Annotated[
        str | None, typer.Option(help="Last day (default: the last day the data cover).")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Set an initiative's last day; everything else stays."""
    from cxroi.analyses import initiative_close

    with open_workspace(workspace, "initiative close", write=True) as ws:
        emit(initiative_close(ws, initiative_id, end=end), format, table=table)
