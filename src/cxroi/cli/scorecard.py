"""Where do we stand: ``scorecard``, ``alerts``, ``cohorts``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit

ByOpt = Annotated[
    list[str] | None,
    typer.Option("--by", help="Group by a customer attribute, touchpoint or survey (repeat)."),
]
PeriodOpt = Annotated[str, typer.Option(help="month, quarter or week.")]
SinceOpt = Annotated[
    str | None,
    typer.Option(help="First period: 2025, 2025-01, 2025-Q1, 2025-W02, a date, or A..B."),
]
UntilOpt = Annotated[str | None, typer.Option(help="Last period (default: the latest data).")]
MetricOpt = Annotated[
    list[str] | None, typer.Option("--metric", "-m", help="Only this metric (repeat).")
]


@app.command("scorecard")
def scorecard_command(
    workspace: WorkspaceOpt = Path("."),
    by: ByOpt = None,
    period: PeriodOpt = "month",
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_n: Annotated[
        int | None, typer.Option(help="Flag estimates below this n (default: the workspace's).")
    ] = None,
    compare: Annotated[
        str | None, typer.Option(help="Baseline period: add change, p-value, significance.")
    ] = None,
    metrics: MetricOpt = None,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """CX and money scorecard: every metric by period and group, with n, interval and flags."""
    from cxroi.analyses import scorecard

    with open_workspace(workspace, "scorecard") as ws:
        result = scorecard(
            ws, by=by or (), period=period, since=since, until=until, min_n=min_n,
            compare=compare, metrics=metrics,
        )  # fmt: skip
    emit(result, format, table=table)


@app.command("alerts")
def alerts_command(
    workspace: WorkspaceOpt = Path("."),
    by: ByOpt = None,
    period: PeriodOpt = "month",
    since: SinceOpt = None,
    until: UntilOpt = None,
    metrics: MetricOpt = None,
    sigma: Annotated[float, typer.Option(help="Control band width in standard errors.")] = 3.0,
    window: Annotated[int, typer.Option(min=3, help="Periods the band's centre comes from.")] = 6,
    run: Annotated[int, typer.Option(min=2, help="Points on one side that make a shift.")] = 8,
    recent: Annotated[
        int | None, typer.Option(help="Only alerts in the last N periods (default: all).")
    ] = None,
    min_n: Annotated[int | None, typer.Option(help="Ignore points below this n.")] = None,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Alerts: metric points outside their control band, sustained shifts, significant changes."""
    from cxroi.analyses import alerts

    with open_workspace(workspace, "alerts") as ws:
        result = alerts(
            ws, metrics=metrics, by=by or (), period=period, since=since, until=until,
            sigma=sigma, window=window, run=run, recent=recent, min_n=min_n,
        )  # fmt: skip
    emit(result, format, table=table)


@app.command("cohorts")
def cohorts_command(
    workspace: WorkspaceOpt = Path("."),
    period: PeriodOpt = "month",
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Retention by signup cohort: share of each cohort with an active contract, by age."""
    from cxroi.analyses import cohorts

    with open_workspace(workspace, "cohorts") as ws:
        emit(cohorts(ws, period=period), format, table=table)
