"""Privacy commands: ``privacy scan``."""

from __future__ import annotations

from pathlib import Path

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit

privacy_app = typer.Typer(help="Personal data in the workspace.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("scan")
def scan(
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Count the stored text values that still hold personal data, by table, column and kind."""
    from cxroi.analyses import privacy_scan

    with open_workspace(workspace, "privacy scan") as ws:
        emit(privacy_scan(ws), format, table=table)
