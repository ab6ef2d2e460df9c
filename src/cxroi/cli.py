"""The ``cxroi`` command line: one Typer app; each command parses, makes one library call,
formats the answer.

Conventions every command follows:

- ``--workspace DIR`` (default: the current folder);
- reporting commands take ``--format table|csv|json`` and print through :func:`emit`;
- a library error (:class:`~cxroi.errors.CxroiError`) prints as ``error: …`` on stderr and
  exits with code 2, never a traceback.
"""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cxroi.errors import CxroiError

__all__ = ["app", "emit", "main"]


class _Group(TyperGroup):
    """Turns library errors into one clean message and exit code 2."""

    def invoke(self, ctx):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except CxroiError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group,
    help="cxroi: customer-experience analytics from what you do (A), through how customers "
    "perceive it (C), to what they are worth (B).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder.", show_default=True)
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalar
        return _jsonable(v.item())
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def emit(data: Any, fmt: Format | str, *, title: str | None = None) -> None:
    """Print a DataFrame, a list of dicts or a dict as a table, CSV or JSON."""
    import pandas as pd

    fmt = Format(fmt)
    if fmt is Format.json:
        if isinstance(data, pd.DataFrame):
            data = data.astype(object).where(data.notna(), None).to_dict(orient="records")
        typer.echo(json.dumps(_jsonable(data), indent=2, ensure_ascii=False))
        return
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if fmt is Format.csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    # On a terminal, fit its width; in a pipe or file, print whole rows (never truncate cells).
    Console(width=None if sys.stdout.isatty() else 10_000).print(table)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 1 or v == 0 else f"{v:.3g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _progress_for(path: Path | None):
    """A Rich progress bar for large files on a terminal; ``None`` in pipes."""
    if path is None or not sys.stderr.isatty() or not path.is_file():
        return None, None
    if path.stat().st_size < 20 * 2**20:
        return None, None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True
    )
    task = bar.add_task(f"loading {path.name}", total=1.0)

    def note(step: str, fraction: float) -> None:
        bar.update(task, completed=fraction, description=f"{step} {path.name}")

    return bar, note


# -- workspace ---------------------------------------------------------------------------------
@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")],
    currency: Annotated[str, typer.Option(help="ISO currency of money columns.")] = "USD",
    timezone: Annotated[str, typer.Option(help="Zone of naive times in inputs.")] = "UTC",
    engine: Annotated[
        str | None, typer.Option(help="Ibis URL of another engine (default: embedded DuckDB).")
    ] = None,
) -> None:
    """Create a workspace: cxroi.toml, the embedded store and every canonical table."""
    from cxroi.config import Settings
    from cxroi.store import Workspace

    settings = Settings(engine=engine, currency=currency, timezone=timezone)
    with Workspace.init(directory, settings=settings) as ws:
        typer.echo(f"created workspace {ws.path} ({ws.settings.engine or 'cx.duckdb'})")


def _parse_pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise CxroiError(f"{flag} {item!r}: expected NAME=VALUE")
        out[src] = dst
    return out


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help="Canonical table: customers, transactions, ….")],
    file: Annotated[Path, typer.Argument(help="CSV, TSV, Parquet, JSON Lines or Excel file.")],
    workspace: WorkspaceOpt = Path("."),
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Rename a column: SOURCE=CANONICAL (repeatable)."),
    ] = None,
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Load good rows; write bad ones to FILE.rejected.csv."),
    ] = False,
    adapter: Annotated[
        str, typer.Option(help="auto, none, qualtrics, surveymonkey or helpdesk.")
    ] = "auto",
    question: Annotated[
        list[str] | None,
        typer.Option(help="Override a detected question: nps=Q5, comment=Q7 (repeatable)."),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV/TSV files.")] = "utf-8",
) -> None:
    """Load a file into a canonical table: validated, all or nothing, upsert by key."""
    from cxroi.store import Workspace

    mapping = _parse_pairs(map_, "--map")
    questions = _parse_pairs(question, "--question")
    bar, note = _progress_for(file)
    with Workspace.open(workspace) as ws:
        if bar is not None:
            bar.start()
        try:
            r = ws.ingest(
                table, file, mapping=mapping, skip_bad=skip_bad, adapter=adapter,
                questions=questions, encoding=encoding, progress=note,
            )  # fmt: skip
        finally:
            if bar is not None:
                bar.stop()
    typer.echo(
        f"{r.table}: {r.rows:,} rows read, {r.inserted:,} new, {r.updated:,} replaced"
        + (f", {r.rejected:,} rejected" if skip_bad else "")
    )
    if r.rejected_path is not None:
        typer.echo(f"rejected rows with reasons: {r.rejected_path}")


@app.command()
def tables(workspace: WorkspaceOpt = Path("."), format: FormatOpt = Format.table) -> None:
    """List the canonical tables with their row counts and key."""
    from cxroi.schema import TABLES
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        counts = ws.counts()
    rows = [{"table": n, "rows": counts[n], "key": t.key} for n, t in TABLES.items()]
    emit(rows, format)


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
) -> None:
    """Key driver analysis: share of the target's explained variance per driver, with quadrant."""
    from cxroi.models.linkage import response_drivers
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        out = response_drivers(
            ws,
            target=target,
            drivers=driver or None,
            by=by,
            method=method,
            survey=survey,
            dropna=dropna,
        )
    emit(out, format, title=f"Key drivers of {target} ({method})")


@app.command()
def value(
    workspace: WorkspaceOpt = Path("."),
    by: Annotated[str | None, typer.Option(help="Segment column of the customers.")] = None,
    survey: Annotated[str | None, typer.Option(help="NPS from this survey only.")] = None,
    adjust: Annotated[
        list[str] | None,
        typer.Option(
            "--adjust",
            help="Customer column to adjust for (repeat): adds the adjusted churn hazard "
            "ratios and spend multiples vs promoters (csv/json: only that table).",
        ),
    ] = None,
    format: FormatOpt = Format.table,
) -> None:
    """Value of perception: churn, spend, CLV of promoters, passives, detractors, and of a move."""
    from cxroi.models.linkage import perception_effects, perception_value
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        out = (
            None
            if adjust and format != Format.table
            else perception_value(ws, by=by, survey=survey)
        )
        eff = perception_effects(ws, confounders=adjust, survey=survey) if adjust else None
    if out is not None:
        emit(out, format, title="Value of perception")
    if eff is not None:
        emit(
            eff, format, title=f"Perception effects vs promoters, adjusted for {', '.join(adjust)}"
        )


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
    adjust: Annotated[
        list[str] | None,
        typer.Option(
            "--adjust",
            help="Customer column to adjust for (repeat; default plan, region, tenure_years).",
        ),
    ] = None,
    survey: Annotated[str | None, typer.Option(help="NPS from this survey only.")] = None,
    format: FormatOpt = Format.table,
) -> None:
    """Effect of an operational measure on churn, spend or NPS, adjusted for confounders."""
    from cxroi.models.linkage import lever as lever_effect
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        out = lever_effect(
            ws, measure, outcome=outcome, threshold=threshold, confounders=adjust, survey=survey
        )
    emit(out, format, title=f"Lever: {measure} -> {outcome}")


@app.command()
def demo(
    workspace: WorkspaceOpt = Path("demo-workspace"),
    customers: Annotated[int, typer.Option(min=100, help="Customers to simulate.")] = 5_000,
    months: Annotated[int, typer.Option(min=3, max=120, help="Months to simulate.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    format: FormatOpt = Format.table,
) -> None:
    """Generate a synthetic company with known ground truth, ingest it, analyse it and write
    reports/report.md."""
    from cxroi.demo import build_demo, demo_report, demo_scorecard

    def note(msg: str) -> None:
        typer.echo(msg, err=True)

    ws, results, truth = build_demo(
        workspace, customers=customers, months=months, seed=seed, progress=note
    )
    with ws:
        rows = [{"table": n, "rows": r.rows} for n, r in results.items()]
        emit(rows, format, title=f"demo company in {ws.path}")
        card = demo_scorecard(ws)
        emit(card, format, title="First scorecard: the last month")
        note("analysing: drivers, value of perception, levers, themes")
        report = demo_report(ws, truth, card)
    note(f"report written to {report}")


# -- lifetime value and churn (issue 5) ----------------------------------------------------------
@app.command("clv")
def clv_command(
    workspace: WorkspaceOpt = Path("."),
    calibration_end: Annotated[
        str, typer.Option(help="Last day (YYYY-MM-DD) of the calibration period.")
    ] = ...,
    holdout_end: Annotated[
        str | None, typer.Option(help="Last day of a holdout period to check the fit on.")
    ] = None,
    time_unit: Annotated[
        str, typer.Option(help="day, week or month: unit of recency, T and horizon.")
    ] = "week",
    horizon: Annotated[
        float | None, typer.Option(help="CLV horizon in time units (default one year).")
    ] = None,
    discount_rate: Annotated[
        float | None, typer.Option(help="Annual discount rate (default: the workspace's).")
    ] = None,
    by: Annotated[str, typer.Option(help="Customer attribute to segment CLV by.")] = "plan",
    format: FormatOpt = Format.table,
) -> None:
    """Lifetime value: BG/NBD + Gamma-Gamma fit, holdout check and discounted CLV by segment.

    CSV output is the segment table; JSON has params, spend_params, holdout and segments.
    """
    from cxroi.models.clv_report import clv_report
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        rep = clv_report(
            ws,
            calibration_end=calibration_end,
            holdout_end=holdout_end,
            time_unit=time_unit,
            horizon=horizon,
            discount_rate=discount_rate,
            by=by,
        )
    _emit_report(
        rep,
        format,
        tables={
            "params": ("BG/NBD, {n_customers:,} customers, per {time_unit}", None),
            "spend_params": ("Gamma-Gamma, {n_repeat:,} repeat buyers", None),
            "holdout": ("Holdout repeat purchases", None),
            "segments": ("CLV by " + by + " (horizon {horizon:.0f} {time_unit}s)", None),
        },
    )


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
    discount_rate: Annotated[
        float | None, typer.Option(help="Annual discount rate (default: the workspace's).")
    ] = None,
    format: FormatOpt = Format.table,
) -> None:
    """Contract churn: survival by segment, Cox hazard ratios, retention CLV by segment.

    CSV output is the retention-CLV table; JSON has survival, hazard_ratios and segments.
    """
    from cxroi.models.churn_report import churn_report
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        rep = churn_report(
            ws,
            by=by,
            as_of=as_of,
            observed_from=observed_from,
            nps_survey=survey,
            discount_rate=discount_rate,
        )
    _emit_report(
        rep,
        format,
        tables={
            "survival": (
                "Still subscribed (Kaplan-Meier) by " + by,
                ["segment", "n", "churned", "time", "survival", "lower_95", "upper_95"],
            ),
            "hazard_ratios": (
                "Cox hazard ratios, {n_cox:,} customers, {n_events:,} churned",
                None,
            ),
            "segments": (
                "Retention CLV by " + by,
                ["segment", "n", "monthly_churn", "monthly_value", "clv"]
                + ["clv_lower_95", "clv_upper_95", "small_n"],
            ),
        },
    )


def _emit_report(
    rep: dict[str, Any], fmt: Format, *, tables: dict[str, tuple[str, list[str] | None]]
) -> None:
    """Print a report dict: JSON whole, CSV its last table, a table per section otherwise
    (each section's title and, for the narrow table view, the columns to show)."""
    import pandas as pd

    def plain(v: Any) -> Any:
        if isinstance(v, pd.DataFrame):
            return v.astype(object).where(v.notna(), None).to_dict(orient="records")
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    if fmt is Format.json:
        emit(plain(rep), fmt)
        return
    last = list(tables)[-1]
    if fmt is Format.csv:
        emit(rep[last], fmt)
        return
    scalars = {k: v for k, v in rep.items() if not isinstance(v, dict | pd.DataFrame)}
    for key, (title, columns) in tables.items():
        part = rep.get(key)
        if part is None:
            continue
        if isinstance(part, dict):
            frames = {k: v for k, v in part.items() if isinstance(v, pd.DataFrame)}
            flat = {k: v for k, v in part.items() if k not in frames}
            se = rep.get(key + "_se")
            rows = [
                {"name": k, "value": v, **({"se": se[k]} if se and k in se else {})}
                for k, v in flat.items()
            ]
            emit(rows, fmt, title=title.format(**scalars))
            for name, frame in frames.items():
                emit(frame, fmt, title=f"{title.format(**scalars)} — {name.replace('_', ' ')}")
        else:
            emit(part[columns] if columns else part, fmt, title=title.format(**scalars))


# -- scorecard and alerts (issue 4) -------------------------------------------------------------
ByOpt = Annotated[
    list[str] | None,
    typer.Option("--by", help="Group by a customer attribute, touchpoint or survey (repeat)."),
]
PeriodOpt = Annotated[str, typer.Option(help="month, quarter or week.")]
SinceOpt = Annotated[
    str | None, typer.Option(help="First period (2025-01, 2025-Q1, 2025-W02 or a date).")
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
    metric: MetricOpt = None,
    format: FormatOpt = Format.table,
) -> None:
    """CX and money scorecard: every metric by period and group, with n, interval and flags."""
    from cxroi.scorecard import benchmark_note, scorecard
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        out = scorecard(
            ws, by=by or (), period=period, since=since, until=until, min_n=min_n,
            compare=compare, metrics=metric,
        )  # fmt: skip
        note = benchmark_note(ws.settings.nps_benchmarks)
    if format is Format.table:
        out = out.drop(columns=["period_start"])
    emit(out, format, title=f"Scorecard ({note})")


@app.command("alerts")
def alerts_command(
    workspace: WorkspaceOpt = Path("."),
    by: ByOpt = None,
    period: PeriodOpt = "month",
    since: SinceOpt = None,
    until: UntilOpt = None,
    metric: MetricOpt = None,
    sigma: Annotated[float, typer.Option(help="Control band width in standard errors.")] = 3.0,
    window: Annotated[int, typer.Option(min=3, help="Periods the band's centre comes from.")] = 6,
    run: Annotated[int, typer.Option(min=2, help="Points on one side that make a shift.")] = 8,
    recent: Annotated[
        int | None, typer.Option(help="Only alerts in the last N periods (default: all).")
    ] = None,
    min_n: Annotated[int | None, typer.Option(help="Ignore points below this n.")] = None,
    format: FormatOpt = Format.table,
) -> None:
    """Alerts: metric points outside their control band, sustained shifts, significant changes."""
    from cxroi.monitor import alerts
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        out = alerts(
            ws, metrics=metric, by=by or (), period=period, since=since, until=until,
            sigma=sigma, window=window, run=run, recent=recent, min_n=min_n,
        )  # fmt: skip
    emit(out, format, title=f"Alerts ({len(out)})")


@app.command("cohorts")
def cohorts_command(
    workspace: WorkspaceOpt = Path("."),
    period: PeriodOpt = "month",
    format: FormatOpt = Format.table,
) -> None:
    """Retention by signup cohort: share of each cohort with an active contract, by age."""
    from cxroi.metrics.money import retention_cohorts
    from cxroi.store import Workspace

    with Workspace.open(workspace) as ws:
        out = retention_cohorts(ws.table("contracts"), ws.table("customers"), period=period)
    emit(out, format, title=f"Retention by signup {period}")


@app.command("themes")
def themes_command(
    workspace: WorkspaceOpt = Path("."),
    by: Annotated[str | None, typer.Option(help="Segment column (responses or customers).")] = None,
    period: Annotated[
        str | None, typer.Option(help="Only comments in YYYY, YYYY-MM, YYYY-Qn or D1..D2.")
    ] = None,
    emerging: Annotated[
        bool, typer.Option(help="Show themes whose share rose in the last month instead.")
    ] = False,
    refit: Annotated[bool, typer.Option(help="Discover themes anew (models/themes.json).")] = False,
    jobs: Annotated[int, typer.Option(help="Worker processes (-1: every core).")] = -1,
    format: FormatOpt = Format.table,
) -> None:
    """Comment themes: volume, sentiment, NPS with/without, key-driver impact, revenue at risk."""
    from cxroi.store import Workspace
    from cxroi.text.impact import emerging_themes, theme_impact

    with Workspace.open(workspace) as ws:
        if emerging:
            out = emerging_themes(ws, refit=refit, n_jobs=jobs)
        else:
            out = theme_impact(ws, by=by, period=period, refit=refit, n_jobs=jobs)
    emit(out, format, title="Emerging themes" if emerging else "Theme impact")


@app.command("sentiment")
def sentiment_command(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV file.")],
    text_column: Annotated[str, typer.Option(help="Column with the text.")],
    score_column: Annotated[
        str | None, typer.Option(help="Score column: trains the score-aware model.")
    ] = None,
    scale: Annotated[str, typer.Option(help="nps, csat, ces, stars, binary, signed or auto.")] = (
        "auto"
    ),
    jobs: Annotated[int, typer.Option(help="Worker processes (-1: every core).")] = -1,
    format: FormatOpt = Format.table,
) -> None:
    """Sentiment (-1..1) of every row of a CSV, in input order, with the model used."""
    from cxroi.text.sentiment import sentiment_table

    out = sentiment_table(
        input, text_column=text_column, score_column=score_column, scale=scale, n_jobs=jobs
    )
    emit(out, format, title=f"Sentiment ({out['model'].iloc[0] if len(out) else 'none'})")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
