"""The pages of the dashboard and the sections of the report: which analyses each shows.

A :class:`View` is one page (or report section): the results of a few analyses
(:mod:`cxroi.analyses`), each computed once per state of the data (:mod:`cxroi.cache`), so
the report, the dashboard page and its JSON twin render the same result objects, and a page
opened again before the data change is read back instead of computed. An analysis that
cannot run on the data (too few churners, no ``journey.yaml``, no initiatives) does not fail
the page: its one-line reason is kept in :attr:`View.missing` and shown in its place.

Pages: ``overview``, ``scorecard``, ``voice``, ``drivers``, ``lifetime``, ``opportunities``,
``initiatives``, ``journey`` and ``cases``. :func:`headline` is the report's executive
summary: what the customer experience is worth, in three numbers with intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import ibis
import pandas as pd

from cxroi import analyses
from cxroi._types import WorkspaceLike
from cxroi.analyses.themes import ensure_theme_model
from cxroi.cache import cached
from cxroi.errors import CxroiError
from cxroi.results import Result, Table

__all__ = ["PAGES", "Headline", "View", "build", "headline", "result"]


@dataclass
class View:
    """One page: its results by name, and why any analysis it shows could not run."""

    page: str
    title: str
    results: dict[str, Result] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Result | None:
        return self.results.get(name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON twin of the page."""
        return {
            "page": self.page,
            "title": self.title,
            "params": self.params,
            "results": {k: r.to_dict() for k, r in self.results.items()},
            "missing": self.missing,
        }


def _survey(ws: WorkspaceLike) -> str | None:
    """The relationship survey when the answers have one (the drivers and value read the
    overall relationship), else every answer."""
    rs = ws.table("responses")
    found = rs.filter(rs.survey == "relationship").limit(1).count().execute()
    return "relationship" if found else None


def _run(
    view: View,
    ws: WorkspaceLike,
    name: str,
    fn: Callable[[], Result],
    params: Mapping[str, Any],
    *,
    themes: bool = False,
    cache: bool = True,
) -> None:
    """Add analysis ``name`` to ``view`` (cached per state of the data), or its reason.

    An analysis that reads the comment themes fits the workspace's theme model first when there
    is none: fitted inside the analysis, the new model would change the state of the data under
    it and its result would not be cached."""
    if cache and themes:
        ensure_theme_model(ws)
    try:
        if cache:
            view.results[name] = cached(
                ws, f"view-{name}", dict(params), lambda: {"result": fn()}, themes=themes
            )["result"]
        else:
            view.results[name] = fn()
    except CxroiError as e:
        view.missing[name] = str(e)


def _span(p: dict, keys: tuple[str, ...] = ("period", "since", "until")) -> dict[str, Any]:
    """The page's scorecard filters, with the scorecard's default period spelled out: the
    report (which passes ``period="month"``) and the dashboard (which passes nothing) then
    share one cached result."""
    return {"period": "month"} | {k: p[k] for k in keys if p.get(k)}


def _overview(ws: WorkspaceLike, v: View, p: dict) -> None:
    span = _span(p)
    metrics = ["nps", "csat", "ces", "revenue", "churn_rate", "clv_simple"]
    _run(
        v,
        ws,
        "scorecard",
        lambda: analyses.scorecard(ws, metrics=metrics, **span),
        {"m": metrics, **span},
    )
    watched = ["nps", "csat", "churn_rate"]
    _run(
        v,
        ws,
        "alerts",
        lambda: analyses.alerts(ws, metrics=watched, recent=6, **span),
        {"recent": 6, **span},
    )
    _value(ws, v)


def _value(ws: WorkspaceLike, v: View) -> None:
    survey = _survey(ws)
    _run(v, ws, "value", lambda: analyses.value(ws, survey=survey), {"survey": survey})


def _scorecard(ws: WorkspaceLike, v: View, p: dict) -> None:
    keep = _span(p, ("period", "since", "until", "by", "metrics"))
    _run(v, ws, "scorecard", lambda: analyses.scorecard(ws, **keep), keep)


def _voice(ws: WorkspaceLike, v: View, p: dict) -> None:
    _run(v, ws, "themes", lambda: analyses.themes(ws, n_jobs=1), {}, themes=True)
    _run(
        v,
        ws,
        "comments",
        lambda: comments(ws, **{k: p[k] for k in COMMENT_FILTERS if p.get(k) is not None}),
        {},
        cache=False,
    )


def _drivers(ws: WorkspaceLike, v: View, p: dict) -> None:
    survey = _survey(ws)
    _run(
        v,
        ws,
        "drivers",
        lambda: analyses.drivers(ws, survey=survey, dropna=True),
        {"survey": survey},
    )
    _value(ws, v)


def _lifetime(ws: WorkspaceLike, v: View, p: dict) -> None:
    _run(v, ws, "churn", lambda: analyses.churn(ws, by="plan"), {"by": "plan"})


def _opportunities(ws: WorkspaceLike, v: View, p: dict) -> None:
    _run(v, ws, "opportunities", lambda: analyses.opportunities(ws), {}, themes=True)
    for days in AT_RISK_HORIZONS:  # a small company may have too few churners in 90 days
        _run(
            v,
            ws,
            "at_risk",
            partial(analyses.at_risk, ws, top=20, horizon_days=days),
            {"top": 20, "horizon_days": days},
        )
        if "too few churners" not in v.missing.get("at_risk", ""):
            break
        if days != AT_RISK_HORIZONS[-1]:
            del v.missing["at_risk"]


AT_RISK_HORIZONS = (90, 180)
"""Churn-risk horizons tried in turn (days)."""


def _initiatives(ws: WorkspaceLike, v: View, p: dict) -> None:
    _run(v, ws, "initiatives", lambda: analyses.initiative_list(ws), {})
    _run(v, ws, "roi", lambda: analyses.roi_compare(ws), {})
    _run(v, ws, "closed_loop", lambda: analyses.roi_closed_loop(ws), {})


def _journey(ws: WorkspaceLike, v: View, p: dict) -> None:
    _run(v, ws, "pain_points", lambda: analyses.journey_pain_points(ws), {}, themes=True)


def _cases(ws: WorkspaceLike, v: View, p: dict) -> None:
    from cxroi.service.cases import cases_result

    keep = {k: p[k] for k in ("status", "owner") if p.get(k)}
    _run(v, ws, "cases", lambda: cases_result(ws, limit=200, **keep), {}, cache=False)  # type: ignore[arg-type]


PAGES: dict[str, tuple[str, Callable[[WorkspaceLike, View, dict], None]]] = {
    "overview": ("Overview", _overview),
    "scorecard": ("Scorecard", _scorecard),
    "voice": ("Voice of the customer", _voice),
    "drivers": ("Drivers and value", _drivers),
    "lifetime": ("Lifetime value and churn", _lifetime),
    "opportunities": ("Opportunities and customers at risk", _opportunities),
    "initiatives": ("Initiatives and ROI", _initiatives),
    "journey": ("Journey map and blueprint", _journey),
    "cases": ("Cases", _cases),
}
"""Page name -> (title, what it computes)."""


def build(ws: WorkspaceLike, page: str, **params: Any) -> View:
    """The results of ``page`` (see :data:`PAGES`) for ``params`` (a page's filters).

    Raises
    ------
    CxroiError
        An unknown page.
    """
    if page not in PAGES:
        raise CxroiError(f"unknown page {page!r}; the pages are {', '.join(PAGES)}")
    title, fill = PAGES[page]
    v = View(page, title, params={k: val for k, val in params.items() if val is not None})
    fill(ws, v, params)
    return v


def result(ws: WorkspaceLike, page: str, name: str, **params: Any) -> Result:
    """One analysis of a page, from the same cache as the page.

    Raises
    ------
    CxroiError
        The analysis could not run (its own one-line reason).
    """
    v = build(ws, page, **params)
    if name not in v.results:
        raise CxroiError(v.missing.get(name, f"page {page!r} has no analysis {name!r}"))
    return v.results[name]


# -- comments ------------------------------------------------------------------------------
COMMENT_FILTERS = ("survey", "touchpoint", "nps_min", "nps_max", "contains", "limit")


def comments(
    ws: WorkspaceLike,
    *,
    survey: str | None = None,
    touchpoint: str | None = None,
    nps_min: int | None = None,
    nps_max: int | None = None,
    contains: str | None = None,
    limit: int = 100,
) -> Result:
    """The newest comments (already redacted in the store) that match the filters."""
    if not 1 <= limit <= 1000:
        raise CxroiError(f"limit must be from 1 to 1000, got {limit}")
    rs = ws.table("responses")
    t = rs.filter(rs.comment.notnull())
    if survey:
        t = t.filter(t.survey == survey)
    if touchpoint:
        t = t.filter(t.touchpoint == touchpoint)
    if nps_min is not None:
        t = t.filter(t.nps >= nps_min)
    if nps_max is not None:
        t = t.filter(t.nps <= nps_max)
    if contains:
        t = t.filter(t.comment.lower().contains(contains.lower()))
    cols = [
        c for c in ("ts", "survey", "touchpoint", "nps", "csat", "ces", "comment") if c in t.columns
    ]
    frame = t.order_by(ibis.desc("ts")).select(*cols).limit(limit).to_pandas()
    return Result(
        "comments",
        "Comments",
        [Table("comments", "Newest comments", frame)],
        params={"limit": limit, "shown": len(frame)},
    )


# -- the executive summary ------------------------------------------------------------------
@dataclass(frozen=True)
class Headline:
    """One number of the executive summary, with its interval and what it rests on."""

    label: str
    estimate: float
    ci_low: float | None
    ci_high: float | None
    n: int | None
    unit: str
    reading: str


def headline(views: Mapping[str, View], currency: str) -> list[Headline]:
    """What the customer experience is worth, in three numbers with intervals: a promoter's
    lifetime value over a passive's, the revenue the most harmful complaint puts at risk a
    year, and the money at stake in the first opportunity. A number whose analysis could not
    run is left out."""
    out: list[Headline] = []
    value = views.get("drivers", views.get("overview"))
    if value and value.get("value") is not None:
        v = value.results["value"].table("value")
        row = v[(v["nps_group"] == "passive->promoter") & (v["metric"] == "clv")]
        if len(row):
            r = row.iloc[0]
            out.append(
                Headline(
                    "Moving one passive to promoter",
                    float(r["value"]),
                    _f(r["ci_low"]),
                    _f(r["ci_high"]),
                    int(r["n"]),
                    currency,
                    f"Moving one passive customer to promoter is worth {r['value']:,.0f} "
                    f"{currency} in lifetime value (95% CI {r['ci_low']:,.0f} to "
                    f"{r['ci_high']:,.0f}).",
                )
            )
    voice = views.get("voice")
    if voice and voice.get("themes") is not None:
        t = voice.results["themes"].table("themes").dropna(subset=["revenue_at_risk"])
        if len(t):
            r = t.sort_values("revenue_at_risk").iloc[0]
            out.append(
                Headline(
                    f"Revenue at risk from '{r['label']}'",
                    float(-r["revenue_at_risk"]),
                    _f(-r["revenue_at_risk_ci_high"]),
                    _f(-r["revenue_at_risk_ci_low"]),
                    int(r["n"]),
                    f"{currency} a year",
                    f"Complaints about '{r['label']}' put {-r['revenue_at_risk']:,.0f} {currency} "
                    f"of revenue a year at risk (95% CI {-r['revenue_at_risk_ci_high']:,.0f} to "
                    f"{-r['revenue_at_risk_ci_low']:,.0f}).",
                )
            )
    opp = views.get("opportunities")
    if opp and opp.get("opportunities") is not None:
        t = opp.results["opportunities"].table("opportunities")
        if len(t):
            r = t.sort_values("rank").iloc[0]
            out.append(
                Headline(
                    f"At stake in {r['dimension']} {r['segment']}",
                    float(r["estimate"]),
                    _f(r["ci_low"]),
                    _f(r["ci_high"]),
                    int(r["customers"]),
                    currency,
                    f"The first opportunity, {r['dimension']} {r['segment']} "
                    f"({int(r['customers']):,} customers), has {r['estimate']:,.0f} {currency} "
                    f"at stake (95% CI {r['ci_low']:,.0f} to {r['ci_high']:,.0f}).",
                )
            )
    return out


def _f(x: Any) -> float | None:
    return None if x is None or pd.isna(x) else float(x)
