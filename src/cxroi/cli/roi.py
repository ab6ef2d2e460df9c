"""What an action returns: ``roi simulate``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit

roi_app = typer.Typer(help="What an initiative returns, through perception.", no_args_is_help=True)
app.add_typer(roi_app, name="roi")


@roi_app.command("simulate")
def simulate(
    initiative: Annotated[str, typer.Option(help="Initiative id (see cxroi initiative list).")],
    horizon_months: Annotated[int, typer.Option(help="Months valued after launch.")] = 36,
    draws: Annotated[int, typer.Option(help="Monte Carlo draws.")] = 1000,
    effect: Annotated[
        float | None, typer.Option(help="Expected NPS change (default: the initiative's).")
    ] = None,
    effect_sd: Annotated[float, typer.Option(help="Its standard deviation across draws.")] = 0.0,
    survey: Annotated[
        str | None, typer.Option(help="NPS from this survey only ('' for every response).")
    ] = "relationship",
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """ROI before launch: NPV, ROI, payback and their predictive Monte Carlo band."""
    from cxroi.analyses import roi_simulate

    with open_workspace(workspace, "roi simulate") as ws:
        result = roi_simulate(
            ws, initiative, horizon_months=horizon_months, draws=draws, effect=effect,
            effect_sd=effect_sd, survey=survey or None,
        )  # fmt: skip
    emit(result, format, table=table)


@roi_app.command("measure")
def measure(
    initiative: Annotated[str, typer.Option(help="Initiative id (see cxroi initiative list).")],
    horizon_months: Annotated[
        int | None, typer.Option(help="Months valued (default: the months since launch).")
    ] = None,
    survey: Annotated[
        str | None, typer.Option(help="Survey whose NPS is measured ('' for every response).")
    ] = "relationship",
    expected_sd: Annotated[
        float, typer.Option(help="SD of the expected NPS change for the simulated ROI beside.")
    ] = 0.0,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """ROI after launch: realised effects by difference-in-differences, realised ROI."""
    from cxroi.analyses import roi_measure

    with open_workspace(workspace, "roi measure") as ws:
        result = roi_measure(
            ws, initiative, horizon_months=horizon_months, survey=survey or None,
            expected_sd=expected_sd,
        )  # fmt: skip
    emit(result, format, table=table)


class By(StrEnum):
    level = "level"


@roi_app.command("compare")
def compare(
    by: Annotated[By, typer.Option(help="Group initiatives by this.")] = By.level,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """ROI by maturity level: realised effects and ROI of the initiatives, level by level."""
    from cxroi.analyses import roi_compare

    with open_workspace(workspace, "roi compare") as ws:
        result = roi_compare(ws, by=by.value)
    emit(result, format, table=table)


@roi_app.command("closed-loop")
def closed_loop(
    window_months: Annotated[int, typer.Option(help="Months after a case compared.")] = 6,
    horizon_months: Annotated[int, typer.Option(help="Months the extra survival is valued.")] = 36,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Closed-loop ROI: what following up detractors does to churn and value (holdout)."""
    from cxroi.analyses import roi_closed_loop

    with open_workspace(workspace, "roi closed-loop") as ws:
        result = roi_closed_loop(ws, window_months=window_months, horizon_months=horizon_months)
    emit(result, format, table=table)
