"""The ``cxroi`` command line: one Typer app split by command group.

Each command parses its options, makes one :mod:`cxroi.analyses` call and renders the
:class:`~cxroi.results.Result` (:mod:`cxroi.cli._render`): ``--format table|csv|json`` and,
for CSV, ``--table NAME``. Every command takes ``--workspace DIR`` (default: the current
folder). A library error prints as one line on stderr with exit code 2, never a traceback.
On a terminal, the library's long steps (:mod:`cxroi.progress`) show transient progress bars
on stderr for every command (:mod:`cxroi.cli._app`); in a pipe nothing is drawn.

Command groups: :mod:`~cxroi.cli.workspace` (init, ingest, tables),
:mod:`~cxroi.cli.scorecard` (scorecard, alerts, cohorts), :mod:`~cxroi.cli.perception`
(drivers, value, lever), :mod:`~cxroi.cli.lifetime` (clv, churn), :mod:`~cxroi.cli.themes`
(themes, sentiment), :mod:`~cxroi.cli.collect` (serve, flush, survey, invite, remind),
:mod:`~cxroi.cli.admin` (apikey, cases) and :mod:`~cxroi.cli.demo`.
"""

from __future__ import annotations

from cxroi.cli import (  # noqa: F401  (each module registers its commands)
    admin,
    archetypes,
    at_risk,
    collect,
    demo,
    initiatives,
    journey,
    lifetime,
    perception,
    privacy,
    report,
    roi,
    scorecard,
    segments,
    themes,
    workspace,
)
from cxroi.cli._app import app
from cxroi.cli._render import emit

__all__ = ["app", "emit", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
