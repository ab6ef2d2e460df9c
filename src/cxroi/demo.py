"""The demo: generate the synthetic company, ingest it into a workspace, ready to analyse.

``make demo`` runs :func:`build_demo` through ``cxroi demo``. Re-running it with the same seed
is harmless: ingest upserts by key, so the workspace ends with the same rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cxroi.config import CONFIG_FILE
from cxroi.ingest import IngestResult
from cxroi.schema import TABLES
from cxroi.store import Workspace

__all__ = ["DEMO_DATA", "HEADLINE", "build_demo", "demo_scorecard"]

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
