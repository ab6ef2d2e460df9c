"""The demo: generate the synthetic company, ingest it, analyse it and write the report.

``make demo`` runs ``cxroi demo``, which is one call: :func:`run_demo`. It generates the
company into ``demo-data/`` of the workspace (Parquet files and ``ground_truth.json``),
ingests every table, computes the first scorecard (saved to ``reports/scorecard.csv``) and
writes ``reports/report.md`` (:func:`cxroi.report.demo.write_demo_report`).

The demo only writes into a workspace it made: a folder that is not a workspace yet, an empty
workspace, or one that an earlier demo marked. It refuses a workspace holding other data, so
synthetic rows never mix with real ones. Re-running it on its own workspace replaces the
earlier demo company whole (tables, the fitted theme model), so a smaller or re-seeded company
leaves no stale rows behind.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cxroi.analyses import scorecard
from cxroi.config import CONFIG_FILE
from cxroi.errors import WorkspaceError
from cxroi.report.demo import write_demo_report
from cxroi.results import Result, Table
from cxroi.schema import TABLES
from cxroi.store import Workspace

__all__ = ["DEMO_DATA", "DEMO_MARKER", "HEADLINE", "DemoRun", "run_demo"]

HEADLINE = (
    "nps", "csat", "ces", "revenue", "active_customers", "churn_rate",
    "avg_transaction", "support_cost_per_ticket", "clv_simple",
)  # fmt: skip
"""The metrics of the demo's first scorecard."""

DEMO_DATA = "demo-data"
"""Folder inside the workspace where the generated Parquet files and ground truth go."""

DEMO_MARKER = ".cxroi-demo"
"""File that marks a workspace as the demo's own."""


@dataclass
class DemoRun:
    """What :func:`run_demo` did: where, what it loaded, the first scorecard, the report."""

    path: Path
    ingested: Result
    scorecard: Result
    report: Path
    truth: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {
                "workspace": str(self.path),
                "ingested": self.ingested.to_dict(),
                "scorecard": self.scorecard.to_dict(),
                "report": str(self.report),
            },
            indent=2,
            ensure_ascii=False,
        )


def _demo_workspace(path: Path) -> Workspace:
    """Open or create the demo's workspace at ``path``; refuse one holding other data."""
    if not (path / CONFIG_FILE).exists():
        ws = Workspace.init(path)
    else:
        ws = Workspace.open(path)
        if not (path / DEMO_MARKER).exists() and any(ws.counts().values()):
            ws.close()
            raise WorkspaceError(
                f"{path} holds data that the demo did not generate; the demo writes synthetic "
                "customers, so give it a new or empty folder"
            )
        for name in TABLES:  # the demo's own earlier company: replaced whole
            ws.con.raw_sql(f'DELETE FROM "{name}"')
        shutil.rmtree(path / "models", ignore_errors=True)
    (path / DEMO_MARKER).write_text("written by cxroi demo\n", encoding="utf-8")
    return ws


def run_demo(
    path: str | Path,
    *,
    customers: int = 5_000,
    months: int = 24,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> DemoRun:
    """Generate a synthetic company into workspace ``path``, ingest it, analyse it, report.

    Parameters
    ----------
    path
        Workspace folder: new, empty, or an earlier demo's.
    customers, months, seed
        Size and seed of the simulated company (see :func:`cxroi.simulate.generate_to`).
    progress
        Called with a short message before each step.

    Raises
    ------
    WorkspaceError
        If ``path`` is a workspace with data the demo did not generate.
    """
    from cxroi.simulate import generate_to

    note = progress or (lambda msg: None)
    path = Path(path)
    with _demo_workspace(path) as ws:
        data = path / DEMO_DATA
        if data.exists():
            shutil.rmtree(data)
        note(f"generating {customers:,} customers over {months} months (seed {seed})")
        truth = generate_to(data, customers=customers, months=months, seed=seed)
        rows = []
        for name in TABLES:
            note(f"ingesting {name}")
            r = ws.ingest(name, data / f"{name}.parquet")
            rows.append({"table": name, "rows": r.rows})
        ingested = Result(
            "demo",
            f"Demo company in {path}",
            [Table("ingested", f"Demo company in {path}", pd.DataFrame(rows), kind="data")],
            params={"customers": customers, "months": months, "seed": seed},
        )
        card = first_scorecard(ws)
        note("analysing: drivers, value of perception, levers, themes")
        report = write_demo_report(ws, truth, card)
    return DemoRun(path, ingested, card, report, truth)


def first_scorecard(ws: Workspace) -> Result:
    """The headline metrics of the last month with data, also saved to ``reports/``."""
    full = scorecard(ws, metrics=HEADLINE)
    t = full.get()
    frame = t.frame[t.frame["period"] == t.frame["period"].max()].reset_index(drop=True)
    view = [c for c in (t.view or frame.columns) if c != "period_start"]
    last = Table("scorecard", "First scorecard: the last month", frame, t.kind, t.method, view)
    card = Result(
        full.analysis,
        last.title,
        [last],
        method=full.method,
        window=full.window,
        params=full.params,
        warnings=full.warnings,
        readings=full.readings,
    )
    out = ws.path / "reports" / "scorecard.csv"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".csv.tmp")
    tmp.write_text(last.to_csv(), encoding="utf-8", newline="")
    tmp.replace(out)
    return card
