"""The demo: generate the synthetic company, ingest it, analyse it and write the report.

``make demo`` runs ``cxroi demo``, which is one call: :func:`run_demo`. It generates the
company into ``demo-data/`` of the workspace (Parquet files and ``ground_truth.json``),
ingests every table, computes the first scorecard (saved to ``reports/scorecard.csv``),
writes ``reports/report.md`` (:func:`cxroi.report.demo.write_demo_report`) and draws the
journey map and the service blueprint (``reports/journey-map.svg``, ``reports/blueprint.svg``)
from a proposed ``journey.yaml``. With ``analyse=False`` (``cxroi demo --data-only``) it stops
after the ingest: the workspace holds the whole company, for benchmarks and for sizes whose
analysis would take long.

A company too large for the machine is refused before anything is written
(:func:`check_size`: the simulator's peak memory against the memory available). Its long
steps report progress (:mod:`cxroi.progress`).

The demo only writes into a workspace it made: a folder that is not a workspace yet, an empty
workspace, or one that an earlier demo marked. It refuses a workspace holding other data, so
synthetic rows never mix with real ones. Re-running it on its own workspace replaces the
earlier demo company whole (tables, the fitted theme model), so a smaller or re-seeded company
leaves no stale rows behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from cxroi import progress as _progress
from cxroi.analyses import scorecard
from cxroi.config import CONFIG_FILE
from cxroi.errors import CxroiError, WorkspaceError, param
from cxroi.journey import JOURNEY_FILE
from cxroi.report.demo import write_demo_report
from cxroi.results import Result, Table
from cxroi.schema import TABLES
from cxroi.store import Workspace

__all__ = ["DEMO_DATA", "DEMO_MARKER", "HEADLINE", "DemoRun", "run_demo"]

HEADLINE = (
    "nps",
    "csat",
    "ces",
    "revenue",
    "active_customers",
    "churn_rate",
    "avg_transaction",
    "support_cost_per_ticket",
    "clv_simple",
)
"""The metrics of the demo's first scorecard."""

DEMO_DATA = "demo-data"
"""Folder inside the workspace where the generated Parquet files and ground truth go."""

DEMO_MARKER = ".cxroi-demo"
"""File that marks a workspace as the demo's own."""

PICTURES = ("journey-map.svg", "blueprint.svg")
"""The journey map and the service blueprint the demo draws into ``reports/``."""
EXECUTIVE = ("report.html", "report.pdf")
REPORTS = ("report.md", "scorecard.csv", *PICTURES, *EXECUTIVE)
"""What the demo writes into ``reports/``."""


@dataclass
class DemoRun:
    """What :func:`run_demo` did: where, what it loaded, the first scorecard, the report
    (``scorecard`` and ``report`` are ``None`` when it did not analyse)."""

    path: Path
    ingested: Result
    scorecard: Result | None
    report: Path | None
    truth: dict[str, Any]
    pictures: tuple[Path, ...] = ()
    executive: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "workspace": str(self.path),
                "ingested": self.ingested.to_dict(),
                "scorecard": None if self.scorecard is None else self.scorecard.to_dict(),
                "report": None if self.report is None else str(self.report),
                "pictures": [str(p) for p in self.pictures],
                "executive_report": [str(p) for p in self.executive],
                "notes": list(self.notes),
            },
            indent=2,
            ensure_ascii=False,
        )


BYTES_PER_CUSTOMER_MONTH = 400
"""Peak memory of the simulator per simulated customer-month (measured: 375 bytes at 50,000
customers x 24 months, 620 MB peak), rounded up."""
BASE_BYTES = 300 * 2**20


def memory_needed(customers: int, months: int) -> int:
    """Bytes the simulator needs at its peak for a company of this size."""
    return BASE_BYTES + customers * months * BYTES_PER_CUSTOMER_MONTH


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` on Linux, else the physical total)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_size(customers: int, months: int) -> None:
    """Refuse a company the machine cannot simulate, before anything is written."""
    need, have = memory_needed(customers, months), available_memory()
    if need > have:
        most = max((have - BASE_BYTES) // (months * BYTES_PER_CUSTOMER_MONTH), 0)
        raise CxroiError(
            f"{param('customers')} {customers:,} over {months} months needs about "
            f"{need / 2**30:,.1f} GiB of memory to simulate; {have / 2**30:,.1f} GiB is "
            f"available, enough for about {most:,} customers"
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
        for name in REPORTS:  # and what it wrote about that company
            (path / "reports" / name).unlink(missing_ok=True)
        (path / JOURNEY_FILE).unlink(missing_ok=True)
    (path / DEMO_MARKER).write_text("written by cxroi demo\n", encoding="utf-8")
    _relationship_survey(path)
    return ws


def _relationship_survey(path: Path) -> None:
    """The demo company's relationship survey (``cxroi survey link relationship``): NPS with
    "why?" and the six attribute ratings the simulator draws, in four languages."""
    from cxroi.service.surveys import SURVEY_DIR, Survey, add_survey
    from cxroi.simulate.params import DIMENSIONS, RATING_SCALE

    if (path / SURVEY_DIR / "relationship.yaml").exists():
        return
    labels = {
        d: {
            "en": f"our {d}",
            "de": f"unser Angebot: {d}",
            "fr": f"notre offre : {d}",
            "es": f"nuestra oferta: {d}",
        }
        for d in DIMENSIONS
    }
    add_survey(
        path,
        Survey(
            "relationship",
            company="Acme",
            questions=("nps", "comment"),
            ratings=DIMENSIONS,
            rating_scale=RATING_SCALE,
            languages=("en", "de", "fr", "es"),
            labels=labels,
        ),
    )


def run_demo(
    path: str | Path,
    *,
    customers: int = 5_000,
    months: int = 24,
    seed: int = 0,
    analyse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> DemoRun:
    """Generate a synthetic company into workspace ``path``, ingest it, analyse it, report.

    Parameters
    ----------
    path
        Workspace folder: new, empty, or an earlier demo's.
    customers, months, seed
        Size and seed of the simulated company (see :func:`cxroi.simulate.generate_to`).
    analyse
        Compute the first scorecard and write the report; ``False`` stops after the ingest
        (``scorecard`` and ``report`` of the result are then ``None``).
    progress
        Called with a short message before each step (the steps also report through
        :mod:`cxroi.progress`).

    Raises
    ------
    CxroiError
        If the machine has too little memory to simulate the company (nothing is written).
    WorkspaceError
        If ``path`` is a workspace with data the demo did not generate.
    """
    from cxroi.simulate import generate_to

    note = progress or (lambda msg: None)
    path = Path(path)
    check_size(customers, months)
    with _demo_workspace(path) as ws:
        data = path / DEMO_DATA
        if data.exists():
            shutil.rmtree(data)
        note(f"generating {customers:,} customers over {months} months (seed {seed})")
        truth = generate_to(data, customers=customers, months=months, seed=seed)
        params = {"workspace": str(path), "customers": customers, "months": months, "seed": seed}
        ingested = _ingest(ws, data, note, params)
        if not analyse:
            return DemoRun(path, ingested, None, None, truth)
        with _progress.task("analysing the demo company") as t:
            t.step("the first scorecard")
            card = first_scorecard(ws)
            note(
                "analysing: drivers, value of perception, levers, themes, ROI, opportunities, risk"
            )
            t.step("the journey map and blueprint")
            pictures = draw_journey(ws)
            t.step("the report")
            report = write_demo_report(ws, truth, card)
            t.step("the executive report (HTML and PDF)")
            executive, notes = _executive(ws)
    return DemoRun(path, ingested, card, report, truth, pictures, executive, notes)


def _executive(ws: Workspace) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """``reports/report.html`` and, where Chromium is installed, ``reports/report.pdf``."""
    from cxroi.report.html import find_chromium, write_report

    reports = ws.path / "reports"
    chromium = find_chromium() is not None
    written = write_report(
        ws, reports / EXECUTIVE[0], pdf_out=reports / EXECUTIVE[1] if chromium else None
    )
    notes = () if chromium else ("no PDF: Chromium is not installed (apt install chromium)",)
    return tuple(written), notes


def draw_journey(ws: Workspace) -> tuple[Path, ...]:
    """Propose ``journey.yaml`` if there is none, and draw the map and the blueprint into
    ``reports/``."""
    from cxroi.analyses.journey import journey_init, journey_picture

    if not (ws.path / JOURNEY_FILE).exists():
        journey_init(ws)
    out = []
    for kind, name in zip(("map", "blueprint"), PICTURES, strict=True):
        target = ws.path / "reports" / name
        target.parent.mkdir(exist_ok=True)
        journey_picture(ws, kind, target)
        out.append(target)
    return tuple(out)


def _ingest(
    ws: Workspace, data: Path, note: Callable[[str], None], params: dict[str, Any]
) -> Result:
    """Ingest every generated table: the rows loaded per table."""
    rows = []
    with _progress.task("ingesting the demo company", total=len(TABLES)) as t:
        for name in TABLES:
            note(f"ingesting {name}")
            t.step(name)

            def said(step: str, _done: float, name: str = name) -> None:
                t.step(f"{name}: {step}")

            file = data / f"{name}.parquet"
            if pq.read_metadata(file).num_rows == 0:  # nothing to load (no invitations)
                rows.append({"table": name, "rows": 0})
                t.advance()
                continue
            r = ws.ingest(name, file, progress=said)
            rows.append({"table": name, "rows": r.rows})
            t.advance()
    frame = pd.DataFrame(rows)
    return Result(
        "demo",
        "Demo company",
        [Table("ingested", "Rows loaded", frame, kind="data")],
        params=params,
    )


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
