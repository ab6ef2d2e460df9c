"""Who to act for: ``segments`` and ``opportunities``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit
from cxroi.errors import CxroiError

ByOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        help="Dimension (repeat): plan, avg_transaction, contract_value, visits_per_month, "
        "occupation, age, region, city or any customer column; default those of them the "
        "data have.",
    ),
]
BandsOpt = Annotated[
    int | None, typer.Option(help="Quantile bands of a numeric dimension (default 4).")
]
EdgesOpt = Annotated[
    list[str] | None,
    typer.Option("--edges", help="Band cut points of a numeric dimension: age=30,50 (repeat)."),
]
RuleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rule",
        help="A named segment by a filter: \"west premium=region == 'west' and plan == "
        "'premium'\" (repeat).",
    ),
]
SurveyOpt = Annotated[str | None, typer.Option(help="NPS from this survey only.")]


def _edges(items: list[str] | None) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for item in items or []:
        dim, sep, values = item.partition("=")
        try:
            if not sep or not dim.strip():
                raise ValueError
            out[dim.strip()] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise CxroiError(f"--edges {item!r}: write DIMENSION=EDGE,EDGE (age=30,50)") from None
    return out


def _rules(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, expr = item.partition("=")
        if not sep or not name.strip() or not expr.strip():
            raise CxroiError(f'--rule {item!r}: write NAME=FILTER ("young=age < 30")')
        out[name.strip()] = expr.strip()
    return out


@app.command()
def segments(
    workspace: WorkspaceOpt = Path("."),
    by: ByOpt = None,
    bands: BandsOpt = None,
    edges: EdgesOpt = None,
    rule: RuleOpt = None,
    survey: SurveyOpt = None,
    themes: Annotated[bool, typer.Option(help="Comment themes per segment.")] = True,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Segments by plan, spend, contract value, visits, occupation, age and location: size,
    revenue, NPS/CSAT/CES, churn, CLV, cost to serve and themes, with intervals."""
    from cxroi.analyses import segments as profile_segments

    with open_workspace(workspace, "segments") as ws:
        result = profile_segments(
            ws, by=by or None, bands=bands, edges=_edges(edges), rules=_rules(rule),
            survey=survey, themes=themes,
        )  # fmt: skip
    emit(result, format, table=table)


@app.command()
def opportunities(
    workspace: WorkspaceOpt = Path("."),
    by: ByOpt = None,
    bands: BandsOpt = None,
    edges: EdgesOpt = None,
    rule: RuleOpt = None,
    survey: SurveyOpt = None,
    archetypes: Annotated[bool, typer.Option(help="Rank the archetypes too.")] = True,
    top: Annotated[int, typer.Option(min=0, help="Segments described in a sentence.")] = 5,
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Segments and archetypes ranked by the money at stake: churn beyond what comparable
    customers who feel the same show, plus lifting the NPS mix, with intervals."""
    from cxroi.analyses import opportunities as rank_opportunities

    with open_workspace(workspace, "opportunities") as ws:
        result = rank_opportunities(
            ws, by=by or None, bands=bands, edges=_edges(edges), rules=_rules(rule),
            survey=survey, archetypes=archetypes, top=top,
        )  # fmt: skip
    emit(result, format, table=table)
