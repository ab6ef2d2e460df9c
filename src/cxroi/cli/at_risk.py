"""``at-risk``: churn probability, value at risk and reasons per active customer.

``--out FILE`` writes every active customer (``customer_id,churn_probability,value_at_risk,
reasons``) with the one ``--out`` writer (:func:`cxroi.cli._out.write_csv`: formula-safe CSV,
a temporary file renamed over FILE once complete).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._out import write_csv
from cxroi.cli._render import emit


@app.command("at-risk")
def at_risk(
    workspace: WorkspaceOpt = Path("."),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day to score (default: the last day of data).")
    ] = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", help="Churn within this many days.")
    ] = 90,
    top: Annotated[int, typer.Option(help="Customers listed, by value at risk.")] = 20,
    out: Annotated[
        Path | None,
        typer.Option(help="Write every active customer's score to this CSV file."),
    ] = None,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Churn risk per active customer: probability within the horizon, value at risk, reasons;
    validated out of time against last NPS and plan."""
    from cxroi.analyses.at_risk import at_risk as score
    from cxroi.analyses.at_risk import at_risk_report

    with open_workspace(workspace, "at-risk") as ws:
        if out is None:
            result = score(ws, as_of=as_of, horizon_days=horizon_days, top=top)
        else:
            result, scores = at_risk_report(ws, as_of=as_of, horizon_days=horizon_days, top=top)
    if out is not None:
        write_csv(scores, out)
        typer.echo(f"wrote {len(scores):,} customers to {out}", err=True)
    emit(result, format, table=table)
