"""Lifetime value and churn: ``clv``, ``churn``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit

RateOpt = Annotated[
    float | None, typer.Option(help="Annual discount rate (default: the workspace's).")
]


@app.command("clv")
def clv_command(
    calibration_end: Annotated[
        str, typer.Option(help="Last day (YYYY-MM-DD) of the calibration period.")
    ],
    workspace: WorkspaceOpt = Path("."),
    holdout_end: Annotated[
        str | None, typer.Option(help="Last day of a holdout period to check the fit on.")
    ] = None,
    time_unit: Annotated[
        str, typer.Option(help="day, week or month: unit of recency, T and horizon.")
    ] = "week",
    horizon: Annotated[
        float | None, typer.Option(help="CLV horizon in time units (default one year).")
    ] = None,
    discount_rate: RateOpt = None,
    by: Annotated[str, typer.Option(help="Customer attribute to segment CLV by.")] = "plan",
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Lifetime value: BG/NBD + Gamma-Gamma fit, holdout check and discounted CLV by segment."""
    from cxroi.analyses import clv

    with open_workspace(workspace, "clv") as ws:
        result = clv(
            ws, calibration_end=calibration_end, holdout_end=holdout_end, time_unit=time_unit,
            horizon=horizon, discount_rate=discount_rate, by=by,
        )  # fmt: skip
    emit(result, format, table=table)


@app.command("churn")
def churn_command(
    workspace: WorkspaceOpt = Path("."),
    by: Annotated[str, typer.Option(help="Segment column (customer attribute).")] = "plan",
    as_of: Annotated[
        str | None, typer.Option(help="End of observation (default: the last date in the data).")
    ] = None,
    observed_from: Annotated[
        str | None,
        typer.Option(help="First day of the data (default: the earliest activity date)."),
    ] = None,
    survey: Annotated[str | None, typer.Option(help="NPS from this survey only.")] = None,
    discount_rate: RateOpt = None,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Contract churn: survival by segment, Cox hazard ratios, retention CLV by segment."""
    from cxroi.analyses import churn

    with open_workspace(workspace, "churn") as ws:
        result = churn(
            ws, by=by, as_of=as_of, observed_from=observed_from, survey=survey,
            discount_rate=discount_rate,
        )  # fmt: skip
    emit(result, format, table=table)
