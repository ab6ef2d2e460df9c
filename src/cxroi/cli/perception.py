"""A → C → B: ``drivers``, ``value``, ``lever``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit

SurveyOpt = Annotated[str | None, typer.Option(help="NPS from this survey only.")]
AdjustOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--adjust",
        help="Customer column to adjust for (repeat; default plan, region, tenure_years).",
    ),
]


@app.command()
def drivers(
    workspace: WorkspaceOpt = Path("."),
    target: Annotated[
        str, typer.Option(help="Column to explain: nps, csat, ces, churned, spend, ...")
    ] = "nps",
    driver: Annotated[
        list[str] | None,
        typer.Option(
            "--drivers",
            "-d",
            help="Driver (repeat): a responses column, a customer-ledger column "
            "(first_response_hours, tickets, ...), touchpoint:NAME[:nps|csat|ces] or "
            "theme:NAME; default all rating_*.",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option(help="Group column (responses or customers).")] = None,
    method: Annotated[str, typer.Option(help="relative_weights or shapley.")] = "relative_weights",
    survey: Annotated[str | None, typer.Option(help="Only responses of this survey.")] = None,
    dropna: Annotated[bool, typer.Option(help="Drop responses with missing values.")] = False,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Key driver analysis: share of the target's explained variance per driver, with quadrant."""
    from cxroi.analyses import drivers as key_drivers

    with open_workspace(workspace, "drivers") as ws:
        result = key_drivers(
            ws, target=target, drivers=driver or None, by=by, method=method, survey=survey,
            dropna=dropna,
        )  # fmt: skip
    emit(result, format, table=table)


@app.command()
def value(
    workspace: WorkspaceOpt = Path("."),
    by: Annotated[str | None, typer.Option(help="Segment column of the customers.")] = None,
    survey: SurveyOpt = None,
    adjust: AdjustOpt = None,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Value of perception: churn, spend, CLV of promoters, passives, detractors, of a move up,
    and the adjusted churn hazard ratios and spend multiples vs promoters."""
    from cxroi.analyses import value as perception_value

    with open_workspace(workspace, "value") as ws:
        result = perception_value(ws, by=by, survey=survey, adjust=adjust)
    emit(result, format, table=table)


@app.command()
def lever(
    workspace: WorkspaceOpt = Path("."),
    measure: Annotated[
        str,
        typer.Option(
            help="first_response_hours, resolution_hours or a numeric column of tickets or "
            "events (events.COL to say which)."
        ),
    ] = "first_response_hours",
    outcome: Annotated[str, typer.Option(help="churn, spend or nps.")] = "churn",
    threshold: Annotated[float | None, typer.Option(help="Compare above vs below it.")] = None,
    adjust: AdjustOpt = None,
    survey: SurveyOpt = None,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Effect of an operational measure on churn, spend or NPS, adjusted for confounders."""
    from cxroi.analyses import lever as lever_effect

    with open_workspace(workspace, "lever") as ws:
        result = lever_effect(
            ws, measure=measure, outcome=outcome, threshold=threshold, adjust=adjust,
            survey=survey,
        )  # fmt: skip
    emit(result, format, table=table)
