"""The charts of each page (:mod:`cxroi.views`), drawn from its result tables; the report and
the dashboard show the same figures.

A :class:`Figure` is a title, an SVG (:mod:`cxroi.report.charts`) and the sentence that reads
it; a chart whose table is missing or empty is left out (the page says why its analysis did
not run).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError
from cxroi.report.charts import bar_ci, trend
from cxroi.views import View

__all__ = ["PICTURES", "Figure", "figures", "journey_pictures"]

PICTURES = {"map": "Journey map", "blueprint": "Service blueprint"}
"""The journey pictures by kind: their figure titles."""

TREND_PERIODS = 24


@dataclass(frozen=True)
class Figure:
    title: str
    svg: str
    reading: str = ""


def _table(view: View, result: str, table: str | None = None) -> pd.DataFrame | None:
    r = view.get(result)
    if r is None:
        return None
    try:
        t = r.table(table)
    except KeyError:
        return None
    return t if len(t) else None


def _trend(card: pd.DataFrame, metric: str, title: str, bands: Any = None) -> Figure | None:
    t = card[card["metric"] == metric].tail(TREND_PERIODS)
    if t.empty or t["value"].isna().all():
        return None
    unit = str(t["unit"].iloc[-1] or "")
    last = t.iloc[-1]
    ci = (
        ""
        if pd.isna(last["ci_low"])
        else f" (95% interval {last['ci_low']:,.2f} to {last['ci_high']:,.2f})"
    )
    reading = f"{title} in {last['period']}: {last['value']:,.2f} {unit}{ci}, n = {last['n']:,}."
    return Figure(title, trend(t, title=title, unit=unit, bands=bands), reading)


def _overview(v: View, ws: WorkspaceLike) -> list[Figure | None]:
    card = _table(v, "scorecard")
    if card is None:
        return []
    bands = {k: tuple(b) for k, b in ws.settings.nps_benchmarks.items()}
    return [
        _trend(card, "nps", "NPS", bands),
        _trend(card, "csat", "CSAT"),
        _trend(card, "churn_rate", "Churn rate"),
        _trend(card, "revenue", "Revenue"),
    ]


def _scorecard(v: View, ws: WorkspaceLike) -> list[Figure | None]:
    card = _table(v, "scorecard")
    if card is None:
        return []
    out: list[Figure | None] = []
    by = [
        c
        for c in card.columns
        if c
        not in {
            "period",
            "period_start",
            "metric",
            "value",
            "n",
            "ci_low",
            "ci_high",
            "level",
            "unit",
            "flag",
            "benchmark",
            "change",
            "p_value",
        }
    ]
    for metric in list(dict.fromkeys(card["metric"]))[:6]:
        t = card[card["metric"] == metric]
        if by:
            t = t.assign(group=t[by].astype(str).agg(" / ".join, axis=1))
            if t["group"].nunique() > 8:
                continue
            last = t.groupby("group").tail(TREND_PERIODS)
            out.append(
                Figure(
                    metric,
                    trend(last, title=metric, color="group", unit=str(t["unit"].iloc[-1] or "")),
                )
            )
        else:
            out.append(_trend(card, metric, metric))
    return out


def _voice(v: View, ws: WorkspaceLike) -> list[Figure | None]:
    t = _table(v, "themes", "themes")
    if t is None:
        return []
    t = t.assign(theme_label=t["label"].astype(str))
    cur = ws.settings.currency
    return [
        Figure(
            "NPS gap where a theme is mentioned",
            bar_ci(
                t,
                category="theme_label",
                value="nps_gap",
                lo="nps_gap_ci_low",
                hi="nps_gap_ci_high",
                unit="NPS points",
                zero_line=True,
                title="NPS where the theme is mentioned, minus where it is not",
            ),
        ),
        Figure(
            "Revenue at risk by theme",
            bar_ci(
                t,
                category="theme_label",
                value="revenue_at_risk",
                lo="revenue_at_risk_ci_low",
                hi="revenue_at_risk_ci_high",
                unit=f"{cur} a year",
                zero_line=True,
                title="Revenue at risk a year (negative: at risk)",
            ),
            " ".join(v.results["themes"].readings[:2]),
        ),
    ]


def _drivers(v: View, ws: WorkspaceLike) -> list[Figure | None]:
    out: list[Figure | None] = []
    d = _table(v, "drivers")
    if d is not None:
        out.append(
            Figure(
                "What drives NPS",
                bar_ci(
                    d,
                    category="driver",
                    value="share",
                    lo="share_ci_low",
                    hi="share_ci_high",
                    title="Share of NPS variance explained (relative weights)",
                ),
                " ".join(v.results["drivers"].readings[:1]),
            )
        )
    val = _table(v, "value", "value")
    if val is not None:
        g = val[val["metric"] == "clv"]
        out.append(
            Figure(
                "Lifetime value by NPS group",
                bar_ci(
                    g,
                    category="nps_group",
                    value="value",
                    unit=ws.settings.currency,
                    sort=False,
                    title="Customer lifetime value by NPS group, and of each move",
                ),
                " ".join(v.results["value"].readings[:2]),
            )
        )
    return out


def _lifetime(v: View, ws: WorkspaceLike) -> list[Figure | None]:
    out: list[Figure | None] = []
    seg = _table(v, "churn", "segments")
    if seg is not None:
        out.append(
            Figure(
                "Retention lifetime value by plan",
                bar_ci(
                    seg,
                    category="segment",
                    unit=ws.settings.currency,
                    title="Retention lifetime value by plan",
                ),
            )
        )
    hr = _table(v, "churn", "hazard_ratios")
    if hr is not None:
        out.append(
            Figure(
                "Churn hazard ratios",
                bar_ci(
                    hr, category="term", title="Churn hazard ratio (1 = no difference)", sort=False
                ),
                " ".join(v.results["churn"].readings[:2]),
            )
        )
    return out


def _opportunities(v: View, ws: WorkspaceLike) -> list[Figure | None]:
    t = _table(v, "opportunities", "opportunities")
    if t is None:
        return []
    top = t.sort_values("rank").head(10)
    top = top.assign(where=top["dimension"].astype(str) + " " + top["segment"].astype(str))
    return [
        Figure(
            "Money at stake",
            bar_ci(
                top,
                category="where",
                unit=ws.settings.currency,
                sort=False,
                title="Money at stake in the first ten opportunities",
            ),
            v.results["opportunities"].readings[0] if v.results["opportunities"].readings else "",
        )
    ]


def _initiatives(v: View, ws: WorkspaceLike) -> list[Figure | None]:
    out: list[Figure | None] = []
    lv = _table(v, "roi", "levels")
    if lv is not None:
        out.append(
            Figure(
                "ROI by maturity level",
                bar_ci(
                    lv,
                    category="level",
                    value="roi",
                    lo="roi_low",
                    hi="roi_high",
                    sort=False,
                    zero_line=True,
                    title="Realised ROI by maturity level",
                ),
                " ".join(v.results["roi"].readings[:4]),
            )
        )
    ini = _table(v, "roi", "initiatives")
    if ini is not None:
        ini = ini.assign(what=ini["initiative_id"].astype(str) + " " + ini["name"].astype(str))
        out.append(
            Figure(
                "NPS effect by initiative",
                bar_ci(
                    ini,
                    category="what",
                    value="nps_effect",
                    lo="nps_low",
                    hi="nps_high",
                    zero_line=True,
                    unit="NPS points",
                    title="Measured NPS effect of each initiative",
                ),
            )
        )
    return out


def _journey(v: View, ws: WorkspaceLike, pictures: bool = True) -> list[Figure | None]:
    out: list[Figure | None] = list(journey_pictures(ws)) if pictures else []
    pain = _table(v, "pain_points", "pain_points")
    if pain is not None:
        p = pain.dropna(subset=["estimate"])
        if len(p):
            out.append(
                Figure(
                    "Money at stake by touchpoint",
                    bar_ci(
                        p,
                        category="touchpoint",
                        unit=ws.settings.currency,
                        title="Money at stake where the journey hurts",
                    ),
                    " ".join(v.results["pain_points"].readings[:2]),
                )
            )
    return out


def _cases(v: View, ws: WorkspaceLike) -> list[Figure | None]:
    r = v.get("cases")
    if r is None or not r.params.get("by_status"):
        return []
    counts = pd.DataFrame(
        {"status": list(r.params["by_status"]), "estimate": list(r.params["by_status"].values())}
    )
    return [
        Figure(
            "Cases by status",
            bar_ci(counts, category="status", lo=None, hi=None, title="Cases by status"),
        )
    ]


def journey_pictures(ws: WorkspaceLike) -> list[Figure]:
    """The journey map and the service blueprint as SVG, when ``journey.yaml`` exists."""
    from cxroi import analyses

    out = []
    with tempfile.TemporaryDirectory() as d:
        for kind, title in PICTURES.items():
            path = Path(d) / f"{kind}.svg"
            try:
                r = analyses.journey_picture(ws, kind, path)
            except CxroiError:
                continue
            svg = path.read_text(encoding="utf-8")
            svg = svg[svg.index("<svg") :]  # no XML prolog inside HTML
            svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)  # matplotlib's RDF
            out.append(Figure(title, svg, " ".join(r.readings[:1])))
    return out


_FIGURES: dict[str, Callable[[View, WorkspaceLike], list[Figure | None]]] = {
    "overview": _overview,
    "scorecard": _scorecard,
    "voice": _voice,
    "drivers": _drivers,
    "lifetime": _lifetime,
    "opportunities": _opportunities,
    "initiatives": _initiatives,
    "journey": _journey,
    "cases": _cases,
}


def figures(view: View, ws: WorkspaceLike, *, pictures: bool = True) -> list[Figure]:
    """The charts of ``view``'s page; ``pictures=False`` leaves out the journey map and the
    blueprint (the dashboard serves them as images of their own)."""
    if view.page == "journey":
        return [f for f in _journey(view, ws, pictures) if f is not None]
    return [f for f in _FIGURES[view.page](view, ws) if f is not None]
