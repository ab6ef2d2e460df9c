"""``cxroi report``: one self-contained HTML file for the executive team, and its PDF.

The report renders the same pages as the dashboard (:mod:`cxroi.views`), as sections: an
executive summary (what the customer experience is worth, in three numbers with intervals),
the scorecard with its trends, drivers and the value of a promoter, the voice of the customer,
lifetime value and churn, segments, archetypes and opportunities, initiatives and ROI, the
journey map and blueprint, and the method notes. Each section has its charts (SVG drawn on the
machine, :mod:`cxroi.report.charts`), its tables with intervals and ``n``, and the sentences
that read them; a section whose analysis cannot run says why.

The file fetches nothing: the charts are inline SVG, the styles inline, there is no script,
and a Content-Security-Policy in the page forbids loading anything. Every string from the
data is escaped (Jinja2's autoescape). The PDF is printed from that file by headless Chromium
(Debian's ``chromium``), paginated for A4.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from cxroi import __version__
from cxroi._types import WorkspaceLike
from cxroi.cache import stamp
from cxroi.errors import CxroiError, first_line
from cxroi.files import atomic_file
from cxroi.report.figures import PICTURES, Figure, figures
from cxroi.report.pages import Page, page_key, save_page
from cxroi.results import format_cell
from cxroi.views import Headline, View, build, headline

__all__ = ["CHROMIUM", "REPORT_PAGES", "ReportSection", "pdf", "render_report", "write_report"]

TEMPLATES = Path(__file__).parent / "templates"
REPORT_PAGES = (
    "overview",
    "drivers",
    "voice",
    "lifetime",
    "opportunities",
    "initiatives",
    "journey",
)
SECTION_TITLES = {
    "overview": "The scorecard and its trends",
    "drivers": "What drives perception, and what a promoter is worth",
    "voice": "The voice of the customer",
    "lifetime": "Lifetime value and churn",
    "opportunities": "Segments, archetypes and opportunities",
    "initiatives": "Initiatives and their return, by maturity level",
    "journey": "The journey map and the service blueprint",
}
MAX_ROWS = 15
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def environment() -> Environment:
    """The Jinja2 environment of the report (and the dashboard): autoescape everywhere."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True)
    )
    env.filters["cell"] = format_cell
    env.filters["num"] = lambda v, d=0: "" if v is None else f"{v:,.{d}f}"
    return env


@dataclass(frozen=True)
class ReportSection:
    """One section as the template draws it."""

    id: str
    title: str
    view: View
    figures: list[Figure]
    tables: list[dict[str, Any]]


def tables_of(view: View) -> list[dict[str, Any]]:
    """The tables of a view as the templates draw them: title, columns, at most
    :data:`MAX_ROWS` rows (the narrow view of each table), method."""
    out = []
    for name, r in view.results.items():
        for t in r.tables:
            if not t.show or t.frame.empty:
                continue
            shown = t.shown
            if "period" in shown.columns and shown["period"].notna().any():
                shown = shown[shown["period"] == shown["period"].dropna().max()]  # the latest
            out.append(
                {
                    "result": name,
                    "title": t.title,
                    "method": t.method or r.method,
                    "columns": [str(c) for c in shown.columns],
                    "rows": shown.head(MAX_ROWS).itertuples(index=False),
                    "more": max(len(shown) - MAX_ROWS, 0),
                }
            )
    return out


def sections(ws: WorkspaceLike, **params: Any) -> tuple[list[ReportSection], list[Headline]]:
    """Every section of the report, and the executive summary."""
    views = {p: build(ws, p, **(params if p == "overview" else {})) for p in REPORT_PAGES}
    out = [
        ReportSection(p, SECTION_TITLES[p], v, figures(v, ws), tables_of(v))
        for p, v in views.items()
    ]
    return out, headline(views, ws.settings.currency)


def render_report(
    ws: WorkspaceLike, *, title: str = "Customer experience report", **params: Any
) -> str:
    """The report as one HTML document (see the module docstring)."""
    return _render(ws, *sections(ws, **params), title=title)


def _render(
    ws: WorkspaceLike,
    secs: list[ReportSection],
    heads: list[Headline],
    *,
    title: str = "Customer experience report",
) -> str:
    window = next((r.window for s in secs for r in s.view.results.values() if r.window), {})
    return (
        environment()
        .get_template("report.html")
        .render(
            title=title,
            workspace=Path(ws.path).resolve().name,
            sections=secs,
            headlines=heads,
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=__version__,
            window=window,
            currency=ws.settings.currency,
        )
    )


def _leave_pages(
    ws: WorkspaceLike,
    drawn: list[tuple[str, View, list[Figure]]],
    params: dict[str, Any],
    st: str | None,
) -> None:
    """Save the pages the report drew as the dashboard asks for them: without the journey
    pictures (served as images of their own), the overview under the filters the dashboard
    sends for the report's (none for the default period)."""
    shown = {
        k: v for k, v in params.items() if v is not None and not (k == "period" and v == "month")
    }
    now = time.time()
    for name, view, figs in drawn:
        keep = [f for f in figs if f.title not in PICTURES.values()]
        page = Page(view, keep, st, now)
        save_page(Path(ws.path), page_key(name, shown if name == "overview" else {}), page)


def find_chromium() -> str | None:
    """Debian's ``chromium`` (or another Chromium on the path), if installed."""
    return next((p for p in map(shutil.which, CHROMIUM) if p), None)


def pdf(html_path: str | Path, out: str | Path, *, timeout: float = 120) -> Path:
    """Print ``html_path`` to an A4 PDF at ``out`` with headless Chromium.

    Raises
    ------
    CxroiError
        No Chromium is installed, or it failed (nothing is written then).
    """
    exe = find_chromium()
    if exe is None:
        raise CxroiError(
            "--pdf needs Chromium (Debian: apt install chromium); the HTML report was written"
        )
    out = Path(out)
    with tempfile.TemporaryDirectory() as profile, atomic_file(out, "wb", what="--pdf") as f:
        tmp = Path(profile) / "out.pdf"
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}",
            Path(html_path).resolve().as_uri(),
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=True)
        except (OSError, subprocess.SubprocessError) as e:
            raise CxroiError(f"--pdf: Chromium failed: {first_line(e)}") from None
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise CxroiError("--pdf: Chromium wrote no PDF")
        f.write(tmp.read_bytes())
    return out


def write_report(
    ws: WorkspaceLike, out: str | Path, *, pdf_out: str | Path | None = None, **params: Any
) -> list[Path]:
    """Write the HTML report to ``out`` (and its PDF to ``pdf_out``); returns the paths.

    Every dashboard page is then ready for the data as they are: the report's sections, and
    the scorecard page as it first opens, are left drawn in ``models/pages/``
    (:mod:`cxroi.report.pages`) and their analyses cached, so the dashboard's first request of
    a page neither computes nor draws."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise CxroiError(f"--out {out}: give a .html file")
    if pdf_out is not None and Path(pdf_out).suffix.lower() != ".pdf":
        raise CxroiError(f"--pdf {pdf_out}: give a .pdf file")
    for flag, path in (("--out", out), ("--pdf", pdf_out)):  # before any work
        if path is not None and not Path(path).parent.is_dir():
            raise CxroiError(f"{flag} {path}: folder {Path(path).parent} does not exist")
    st = stamp(ws)  # before any analysis: pages drawn while the data move are saved stale
    secs, heads = sections(ws, **params)
    text = _render(ws, secs, heads)
    with atomic_file(out, encoding="utf-8") as f:
        f.write(text)
    scorecard = build(ws, "scorecard")  # the dashboard's one page the report does not show
    drawn = [(s.id, s.view, s.figures) for s in secs]
    _leave_pages(ws, [*drawn, ("scorecard", scorecard, figures(scorecard, ws))], params, st)
    written = [out]
    if pdf_out is not None:
        written.append(pdf(out, pdf_out))
    return written
