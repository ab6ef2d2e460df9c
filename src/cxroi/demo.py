"""The demo: generate the synthetic company, ingest it, analyse it and write the report.

``make demo`` runs :func:`build_demo`, :func:`demo_scorecard` and :func:`demo_report` through
``cxroi demo``. Re-running it with the same seed is harmless: ingest upserts by key, so the
workspace ends with the same rows.

The report is Markdown (``reports/report.md``) so that it reads on GitHub, in an editor or
pasted into a ticket; its small table formatter is written here because pandas' own
``to_markdown`` needs the ``tabulate`` package for nothing else.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from cxroi.config import CONFIG_FILE
from cxroi.ingest import IngestResult
from cxroi.schema import TABLES
from cxroi.store import Workspace

__all__ = ["DEMO_DATA", "HEADLINE", "build_demo", "demo_report", "demo_scorecard"]

HEADLINE = (
    "nps", "csat", "ces", "revenue", "active_customers", "churn_rate",
    "avg_transaction", "support_cost_per_ticket", "clv_simple",
)  # fmt: skip
"""The metrics of the demo's first scorecard."""

DEMO_DATA = "demo-data"
"""Folder inside the workspace where the generated Parquet files and ground truth go."""


def build_demo(
    path: str | Path,
    *,
    customers: int = 5_000,
    months: int = 24,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[Workspace, dict[str, IngestResult], dict[str, Any]]:
    """Generate a synthetic company into workspace ``path`` and ingest every table.

    Parameters
    ----------
    path
        Workspace folder; created if it is not a workspace yet.
    customers, months, seed
        Size and seed of the simulated company (see :func:`cxroi.simulate.generate_to`).
    progress
        Called with a short message before each step.

    Returns
    -------
    (Workspace, results, truth)
        The open workspace, the ingest result of each table and the ground truth.
    """
    from cxroi.simulate import generate_to

    note = progress or (lambda msg: None)
    path = Path(path)
    ws = Workspace.open(path) if (path / CONFIG_FILE).exists() else Workspace.init(path)
    data = path / DEMO_DATA
    if data.exists():
        shutil.rmtree(data)
    note(f"generating {customers:,} customers over {months} months (seed {seed})")
    truth = generate_to(data, customers=customers, months=months, seed=seed)
    results = {}
    for name in TABLES:
        note(f"ingesting {name}")
        results[name] = ws.ingest(name, data / f"{name}.parquet")
    return ws, results, truth


def demo_scorecard(ws: Workspace):
    """The headline metrics of the last month with data, also saved to ``reports/``.

    Returns the scorecard rows (long form) and writes them to ``reports/scorecard.csv``.
    """
    card = ws.scorecard(metrics=HEADLINE)
    last = card["period"].max()
    card = card[card["period"] == last].drop(columns=["period_start"])
    (ws.path / "reports").mkdir(exist_ok=True)
    card.to_csv(ws.path / "reports" / "scorecard.csv", index=False)
    return card.reset_index(drop=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return ""
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value).replace("|", "/")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table, numbers to three significant digits."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---:" if frame[c].dtype.kind in "if" else "---" for c in frame) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, rule, *body])


def _check(quantity: str, true: float, estimate: float, lo: float, hi: float) -> dict[str, str]:
    """One row of the report's ground-truth check."""
    return {
        "quantity": quantity,
        "estimate": f"{estimate:.3g} [{lo:.3g}, {hi:.3g}]",
        "truth": f"{true:.3g}",
        "covered": "yes" if lo <= true <= hi else "no",
    }


def demo_report(ws: Workspace, truth: dict[str, Any], card: pd.DataFrame) -> Path:
    """Analyse the demo workspace from A to C to B and write ``reports/report.md``.

    Sections: the scorecard, what drives NPS, what perception is worth, what a slow first
    response does, what customers talk about, and a check of each estimate against the
    simulator's ground truth (does its 95% interval cover the true value?).
    """
    from cxroi.models.linkage import lever, perception_effects, perception_value, response_drivers
    from cxroi.text.impact import theme_impact

    threshold = truth["slow_response_threshold_hours"]
    drv = response_drivers(ws, survey="relationship", dropna=True)
    value = perception_value(ws, survey="relationship")
    effects = perception_effects(ws, confounders=["plan"], survey="relationship")
    slow = lever(ws, "first_response_hours", threshold=threshold, survey="relationship")
    themes = theme_impact(ws)

    shares = truth["driver_shares"]["shares"]
    hr = slow.iloc[0]
    checks = [
        _check(f"share of NPS variance, {r.driver}", shares[r.driver],
               r.share, r.share_ci_low, r.share_ci_high)
        for r in drv.itertuples()
    ]  # fmt: skip
    checks.append(
        _check(f"churn hazard ratio after a first response > {threshold:g} h",
               truth["slow_response_hazard_ratio"], hr.estimate, hr.ci_low, hr.ci_high)
    )  # fmt: skip
    for r in effects.itertuples():
        key = "nps_group_hazard_ratio" if r.outcome == "churn" else "spend_multiplier"
        what = "churn hazard ratio" if r.outcome == "churn" else "spend per purchase, multiple"
        checks.append(
            _check(f"{r.nps_group} vs promoter: {what}", truth[key][r.nps_group],
                   r.estimate, r.ci_low, r.ci_high)
        )  # fmt: skip
    checks = pd.DataFrame(checks)

    moves = value[value["nps_group"].str.contains("->") & (value["metric"] == "clv")]
    groups = value[~value["nps_group"].str.contains("->")].pivot(
        index="nps_group", columns="metric", values="value"
    )
    groups = groups.reindex(["promoter", "passive", "detractor"]).reset_index()
    theme_cols = [
        "label", "n", "sentiment", "nps_without", "n_negative", "nps_gap_negative",
        "nps_gap_positive",
    ]  # fmt: skip
    gen = truth["generator"]
    lines = [
        "# cxroi demo report",
        "",
        f"A simulated company of {gen['customers']:,} customers over {gen['months']} months "
        f"(seed {gen['seed']}, {gen['start']} to {gen['end']}), analysed from what the company "
        "does (A) through what customers think (C) to what they do and are worth (B). Every "
        "interval is 95%.",
        "",
        "## Scorecard, last month",
        "",
        markdown_table(card[["period", "metric", "value", "ci_low", "ci_high", "n", "unit"]]),
        "",
        "## What drives NPS (relationship survey, relative weights)",
        "",
        markdown_table(drv[["driver", "share", "share_ci_low", "share_ci_high", "quadrant"]]),
        "",
        "## What perception is worth",
        "",
        markdown_table(groups),
        "",
        markdown_table(moves[["nps_group", "value", "ci_low", "ci_high", "n"]]),
        "",
        *[f"- {r}" for r in effects["reading"]],
        "",
        "## What a slow first response does",
        "",
        f"- {hr.reading}",
        "",
        "## What customers talk about",
        "",
        "NPS gaps are against responses whose comment does not mention the theme; a mention "
        "is negative when its sentences lean negative.",
        "",
        markdown_table(themes[[c for c in theme_cols if c in themes]]),
        "",
        "## Check against the simulator's ground truth",
        "",
        "The spend and churn gaps are adjusted for plan only: the customer type the simulator "
        "draws (its archetype) is not in the data, so it still confounds them.",
        "",
        markdown_table(checks),
        "",
    ]
    out = ws.path / "reports" / "report.md"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(out)
    return out
