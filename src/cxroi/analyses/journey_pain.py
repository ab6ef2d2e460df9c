"""``cxroi journey pain-points``: the moments of truth and pain points of the journey map.

Each touchpoint measured by a survey is ranked by its importance (driver weight on overall NPS
and on churn) crossed with its performance (CSAT in the recent window, against its own past
and the rest of the journey), with the money at stake and a sentence
(:mod:`cxroi.models.pain_points`). The sentence names the backstage step that slowed most when
the map measures its backstage steps by event types.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.analyses.journey import duration_days, journey_map
from cxroi.analyses.segments import segment_frame
from cxroi.errors import CxroiError
from cxroi.journey import Journey
from cxroi.journey.periods import BACKSTAGE_PREFIX, customer_scores, period_metrics
from cxroi.models.pain_points import importance, pain_point_table, satisfied_value
from cxroi.results import Result, Table, estimate_frame
from cxroi.window import Window

__all__ = ["journey_pain_points", "pain_point_ids"]

METHOD = (
    "importance: the touchpoint's driver weight (relative weight of the customer's mean CSAT "
    "there) on overall NPS and on churn, each as a share of the touchpoints' total, averaged; "
    "weakness: how far its CSAT (top-2 share) in the recent window is below the better of its "
    "own CSAT before and the other touchpoints' mean now; ranked by importance x weakness. "
    "Pain point: importance at least the average and weakness above 0 (Wald interval). Money "
    "at stake: customers of its events in the recent window x weakness x the CLV a customer "
    "satisfied there keeps over one who is not (churn per year of exposure and annual margin "
    "of those customers; association, not adjusted), interval from draws of the hazards and "
    "the weakness"
)


def _cut(ws: WorkspaceLike, recent: str | float) -> tuple[dt.date, dt.datetime, float]:
    days = duration_days(recent, option="--recent")
    if days is None or days <= 0:
        raise CxroiError(f"--recent {recent!r}: write a positive duration such as 90d")
    window = Window.resolve(ws.tables)
    end = dt.datetime.combine(window.end + dt.timedelta(days=1), dt.time())
    cut = end - dt.timedelta(days=days)
    if cut.date() <= window.start:
        raise CxroiError(f"--recent {recent!r} covers all the data ({window.start} to "
                         f"{window.end}): nothing is left before it to compare with")  # fmt: skip
    return window.end, cut, days


def _performance(journey: Journey, pm: pd.DataFrame) -> pd.DataFrame:
    def get(tp: str, period: str, col: str) -> float:
        if col not in pm.columns:
            return np.nan
        v = pm.loc[(pm["tp"] == tp) & (pm["period"] == period), col]
        return float(v.iloc[0]) if len(v) and pd.notna(v.iloc[0]) else np.nan

    rows = []
    for t in journey.touchpoints:
        if not t.surveys:
            continue
        row: dict[str, Any] = {"stage": t.stage, "touchpoint": t.id, "name": t.name}
        for period in ("before", "recent"):
            n = get(t.id, period, "csat_n")
            sat = get(t.id, period, "csat_satisfied")
            row[f"n_{period}"] = int(n) if np.isfinite(n) else 0
            row[f"csat_{period}"] = sat / n if n > 0 else np.nan
        reach = get(t.id, "recent", "customers")
        row["reach"] = int(reach) if np.isfinite(reach) else 0
        rows.append(row)
    return pd.DataFrame(rows)


def _backstage(journey: Journey, pm: pd.DataFrame) -> dict[str, tuple[str, float, float]]:
    """Per touchpoint: the backstage event whose p50 hours to the next step grew most, with
    its p50 before and now."""
    out: dict[str, tuple[str, float, float]] = {}
    if "next_p50_hours" not in pm.columns:
        return out
    p = pm.set_index(["tp", "period"])["next_p50_hours"]
    for t in journey.touchpoints:
        best = None
        for b in t.backstage:
            key = f"{BACKSTAGE_PREFIX}{b.event}"
            if b.event and (key, "before") in p.index and (key, "recent") in p.index:
                before, now = float(p[(key, "before")]), float(p[(key, "recent")])
                grew = best is None or now - before > best[2] - best[1]
                if np.isfinite(before) and np.isfinite(now) and grew:
                    best = (b.event, before, now)
        if best is not None:
            out[t.id] = best
    return out


@progress.task("journey pain points")
def journey_pain_points(
    ws: WorkspaceLike,
    *,
    recent: str | float = "90d",
    survey: str | None = None,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int = 0,
) -> Result:
    """Rank the touchpoints of ``journey.yaml`` by importance x weakness, with the money at
    stake and a sentence each (:mod:`cxroi.models.pain_points`).

    Parameters
    ----------
    ws
        The workspace (its ``min_n``, ``discount_rate`` and ``currency`` apply).
    recent
        The recent window, ending at the last day of the data (``90d``, ``12w``).
    survey
        The survey of the overall NPS; default the answers given at no touchpoint.
    n_boot, level, random_state
        Bootstrap replicates of the driver weights, interval level and seed.
    """
    journey = journey_map(ws)
    settings = ws.settings
    end, cut, days = _cut(ws, recent)
    progress.step("reach, CSAT and backstage timings before and in the recent window")
    pm = period_metrics(ws.tables, journey, cut)
    perf = _performance(journey, pm)
    if perf.empty:
        raise CxroiError("no touchpoint of the map is measured by a survey (measured_by.surveys)"
                         ": pain points need the CSAT given at the touchpoints")  # fmt: skip
    progress.step("driver weights on overall NPS and churn")
    scores = customer_scores(ws.tables, journey, survey=survey)
    led = segment_frame(ws, survey=survey)[
        ["customer_id", "churned", "exposure_years", "revenue", "support_cost"]
    ]
    frame = scores.merge(led, on="customer_id", how="inner", validate="one_to_one")
    tps = list(perf["touchpoint"])
    weights = importance(frame, tps, min_n=settings.min_n, n_boot=n_boot, level=level,
                         random_state=random_state)  # fmt: skip
    table = pain_point_table(
        perf, weights, satisfied_value(frame, tps), discount_rate=settings.discount_rate,
        min_n=settings.min_n, level=level, random_state=random_state,
    )  # fmt: skip
    slowed = _backstage(journey, pm)
    table["n"] = table["n_recent"]
    for c in ("csat_before", "csat_recent", "reference", "change", "weakness",
              "weakness_ci_low", "weakness_ci_high"):  # fmt: skip
        table[c] = table[c] * 100.0  # percent and points, as the scorecard's CSAT
    currency = settings.currency
    table["sentence"] = [_sentence(r, slowed.get(r.touchpoint), days, currency)
                         for r in table.itertuples(index=False)]  # fmt: skip
    table["flag"] = np.where(table["rank"].isna(), "no-data", "")
    out = estimate_frame(table, level=level, min_n=settings.min_n)
    unmeasured = [t.id for t in journey.touchpoints if not t.surveys]
    warnings = [f"no survey measures {', '.join(unmeasured)}: not ranked"] if unmeasured else []
    pains = out[out["kind"] == "pain point"]
    readings = list(pains["sentence"].head(3)) or (
        ["no pain point: no important touchpoint is weaker than its past or the journey now"]
    )
    return Result(
        "journey pain-points",
        "Moments of truth and pain points",
        [
            Table(
                "pain_points",
                f"Touchpoints by importance x weakness (CSAT of the last {days:g} days)",
                out,
                method=METHOD,
                view=[
                    "rank",
                    "touchpoint",
                    "kind",
                    "csat_recent",
                    "csat_before",
                    "reference",
                    "weakness",
                    "importance",
                    "reach",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "flag",
                ],
            ),  # fmt: skip
        ],
        method=METHOD,
        window=Window.resolve(ws.tables).as_dict(),
        params={
            "recent_from": cut.date().isoformat(),
            "as_of": end.isoformat(),
            "recent_days": days,
            "survey": survey,
            "n_boot": n_boot,
            "currency": currency,
            "min_n": settings.min_n,
        },  # fmt: skip
        warnings=warnings,
        readings=readings,
    )


def _sentence(r: Any, slowed: tuple[str, float, float] | None, days: float, currency: str) -> str:
    if pd.isna(r.rank):
        return f"{r.touchpoint}: no CSAT in the last {days:g} days; not ranked"
    pts = round(abs(r.change))
    trend = (f"{'down' if r.change < 0 else 'up'} {pts:.0f} point{'' if pts == 1 else 's'} "
             f"from {r.csat_before:.0f}%")  # fmt: skip
    text = (
        f"#{int(r.rank)} {r.touchpoint} ({r.stage}), {r.kind}: CSAT {r.csat_recent:.0f}% in the "
        f"last {days:g} days, {trend} before (the other touchpoints: {r.reference:.0f}%); it "
        f"carries {r.importance:.0%} of the touchpoints' weight on overall NPS and churn"
    )
    if pd.notna(r.estimate):
        ci = f" ({r.ci_low:,.0f} to {r.ci_high:,.0f})" if pd.notna(r.ci_low) else ""
        text += (f"; {int(r.reach):,} customers passed through it, {r.estimate:,.0f} {currency} "
                 f"at stake{ci}")  # fmt: skip
    if slowed is not None and slowed[2] > slowed[1]:
        text += (f"; backstage: {slowed[0]} to the next step takes {slowed[2]:.0f} h (p50), "
                 f"{slowed[1]:.0f} h before")  # fmt: skip
    return text + "."


def pain_point_ids(ws: WorkspaceLike, **kwargs: Any) -> list[str]:
    """The touchpoints ``journey_pain_points`` calls pain points, computed once per state of
    the data (:mod:`cxroi.cache`): the blueprint marks them."""
    from cxroi.cache import cached
    from cxroi.journey import dump

    # the map is not part of the data's stamp: an edited journey.yaml is another question
    params = {**kwargs, "journey": dump(journey_map(ws))}
    got = cached(ws, "pain-points", params,
                 lambda: {"result": journey_pain_points(ws, **kwargs)})  # fmt: skip
    res = got["result"]
    assert isinstance(res, Result)
    t = res.table("pain_points")
    return list(t.loc[t["kind"] == "pain point", "touchpoint"].astype(str))
