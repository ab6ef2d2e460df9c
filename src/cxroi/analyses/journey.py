"""``cxroi journey``: the journey map of the workspace (``journey.yaml``), proposed from the
data, checked against it, and measured touchpoint by touchpoint.

Comments at a touchpoint: :mod:`cxroi.analyses.journey_comments` (sampled above
:data:`~cxroi.analyses.journey_comments.COMMENT_SAMPLE`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.analyses.journey_comments import COMMENT_SAMPLE, comment_metrics, start_comment_metrics
from cxroi.errors import CxroiError
from cxroi.files import atomic_file
from cxroi.journey import (
    JOURNEY_FILE,
    Journey,
    Stage,
    Touchpoint,
    check,
    dump,
    inventory,
    load,
    propose,
)
from cxroi.journey.flow import churned_customers, directly_follows, funnel, paths
from cxroi.journey.metrics import touchpoint_metrics
from cxroi.journey.sequences import cached, sequence
from cxroi.results import Result, Table, estimate_frame
from cxroi.window import Window

__all__ = [
    "duration_days",
    "journey_check",
    "journey_funnel",
    "journey_init",
    "journey_map",
    "journey_paths",
    "journey_picture",
    "journey_touchpoints",
]

TOUCHPOINTS_METHOD = (
    "events and distinct customers per touchpoint (exact counts of the events the map assigns "
    "to it); NPS, CSAT and CES of the responses given at the touchpoint with the scorecard's "
    "definitions and intervals; tickets the map assigns to it by category or channel, with "
    "their cost; time from each of its events to the same customer's next event, p50 and p95 "
    "(exact); sentiment (mean lexicon score, t interval) and theme shares (Wilson intervals) "
    f"of its comments, from a seeded random sample of {COMMENT_SAMPLE:,} where it has more "
    "(n: the comments analysed)"
)


def journey_map(ws: WorkspaceLike) -> Journey:
    """The workspace's journey map (``journey.yaml``)."""
    return load(Path(ws.path) / JOURNEY_FILE)


def _listing(journey: Journey) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "stage": t.stage,
                "touchpoint": t.id,
                "name": t.name,
                "channel": t.channel,
                "events": ",".join(t.events),
                "surveys": ",".join(t.surveys),
                "tickets": ";".join(f"{k}={','.join(v)}" for k, v in t.tickets.items()),
                "backstage_steps": len(t.backstage),
            }  # fmt: skip
            for t in journey.touchpoints
        ]
    )


@progress.task("journey init")
def journey_init(ws: WorkspaceLike, *, force: bool = False) -> Result:
    """Propose ``journey.yaml`` from the touchpoints and stages in the data and write it.

    Raises
    ------
    CxroiError
        When the file exists (unless ``force``) or the data hold no touchpoint.
    """
    path = Path(ws.path) / JOURNEY_FILE
    if path.exists() and not force:
        raise CxroiError(f"{path} exists; edit it, or replace it with --force")
    journey = propose(inventory(ws.tables))
    text = dump(journey)
    with atomic_file(path, "w", what="journey map", encoding="utf-8") as f:
        f.write(text)
    n_tp = len(journey.touchpoints)
    return Result(
        "journey init",
        "Proposed journey map",
        [
            Table(
                "touchpoints",
                f"Touchpoints proposed in {JOURNEY_FILE}",
                _listing(journey),
                kind="data",
            )
        ],  # fmt: skip
        params={"path": str(path), "stages": len(journey.stages), "touchpoints": n_tp},
        readings=[
            f"{JOURNEY_FILE} written with {len(journey.stages)} stages and {n_tp} touchpoints; "
            "add owners and the blueprint lanes (customer action, frontstage, backstage, "
            "support), then run `cxroi journey check`"
        ],
    )


@progress.task("journey check")
def journey_check(ws: WorkspaceLike) -> Result:
    """The problems of ``journey.yaml`` against the data (table ``problems``; empty: it
    holds). A malformed file raises :class:`CxroiError` naming the place."""
    journey = journey_map(ws)
    problems = check(journey, inventory(ws.tables))
    return Result(
        "journey check",
        "Journey map against the data",
        [
            Table("problems", "Problems", pd.DataFrame({"problem": problems}, dtype=object),
                  kind="data", show=bool(problems)),  # fmt: skip
            Table("touchpoints", "Touchpoints of the map", _listing(journey), kind="data",
                  show=False),  # fmt: skip
        ],
        params={"stages": len(journey.stages), "touchpoints": len(journey.touchpoints),
                "problems": len(problems)},  # fmt: skip
        readings=[f"{JOURNEY_FILE} holds: {len(journey.stages)} stages, "
                  f"{len(journey.touchpoints)} touchpoints, every one measured in the data"]
        if not problems else [],
    )  # fmt: skip


@progress.task("journey touchpoints")
def journey_touchpoints(
    ws: WorkspaceLike,
    *,
    comments: bool = True,
    level: float = 0.95,
    comment_sample: int | None = COMMENT_SAMPLE,
) -> Result:
    """Volume, reach, perception, tickets, time to the next step and (with ``comments``) the
    sentiment and top themes of the comments of every touchpoint of the map, with intervals
    and ``n``; a touchpoint's comments are sampled above ``comment_sample`` (module
    docstring; ``None``: every comment)."""
    notes: list[str] = []
    journey = journey_map(ws)
    progress.step(f"measuring {len(journey.touchpoints)} touchpoints in the engine")
    # the comments are read first, then analysed on a thread while the engine measures
    later = start_comment_metrics(ws, journey, level, comment_sample) if comments else None
    raw = touchpoint_metrics(ws.tables, journey, level=level)
    themes_table = None
    if later is not None:
        sentiment, themes_table, note = later()
        if sentiment is not None:
            raw = pd.concat([raw, sentiment], ignore_index=True)
        if note:
            notes.append(note)
    table = estimate_frame(raw, level=level, min_n=ws.settings.min_n)
    empty = table["n"] == 0  # nothing measured: no-data says it, small-n would repeat it
    table.loc[empty, "flag"] = "no-data"
    no_data = sorted(set(raw.loc[(raw["metric"] == "events") & (raw["n"] == 0), "touchpoint"]))
    warnings = [f"no events measure: {', '.join(no_data)}"] if no_data else []
    warnings += notes
    extra = []
    if themes_table is not None:
        extra.append(Table("themes", "Top themes of each touchpoint's comments", themes_table,
                           kind="data", show=False))  # fmt: skip
    return Result(
        "journey touchpoints",
        "Touchpoints: volume, perception, cost and time",
        [
            Table(
                "touchpoints", "Touchpoint metrics", table, method=TOUCHPOINTS_METHOD, show=False
            ),  # fmt: skip
            Table(
                "summary",
                "Touchpoints at a glance (every metric with its interval: --format csv or json)",
                _summary(table, themes_table),
                kind="data",
            ),
            *extra,
        ],
        method=TOUCHPOINTS_METHOD,
        window=Window.resolve(ws.tables).as_dict(),
        params={"touchpoints": len(journey.touchpoints), "min_n": ws.settings.min_n},
        warnings=warnings,
        readings=_readings(table),
    )


SUMMARY = {
    "events": "events", "customers": "customers", "nps": "nps", "csat": "csat", "ces": "ces",
    "sentiment": "sentiment", "tickets": "tickets", "ticket_cost": "ticket_cost",
    "next_step_p50_hours": "next_p50_h", "next_step_p95_hours": "next_p95_h",
}  # fmt: skip


def _summary(t: pd.DataFrame, themes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per touchpoint in map order: the values, the responses behind its NPS and its
    most mentioned theme."""
    keys = ["stage", "touchpoint"]
    pairs = dict.fromkeys(zip(t["stage"], t["touchpoint"], strict=True))
    order = pd.MultiIndex.from_tuples(list(pairs), names=keys)
    wide = t.set_index([*keys, "metric"])["value"].unstack("metric").reindex(order)
    wide = wide.reindex(columns=list(SUMMARY)).rename(columns=SUMMARY)
    n = t[t["metric"] == "nps"].set_index(keys)["n"].reindex(order)
    wide.insert(wide.columns.get_loc("nps") + 1, "nps_n", n.to_numpy())
    for c in ("events", "customers", "nps_n", "tickets"):
        col = wide[c].round().astype("Int64")  # nullable only where a value is missing, as
        wide[c] = col if col.isna().any() else col.astype("int64")  # JSON reads it back
    wide = wide.dropna(axis=1, how="all").reset_index()
    if themes is not None and len(themes):
        top = themes[themes["rank"] == 1].set_index("touchpoint")["label"]
        wide["top_theme"] = wide["touchpoint"].map(top)
    return wide


def _readings(t: pd.DataFrame) -> list[str]:
    nps = t[(t["metric"] == "nps") & t["value"].notna()]
    if nps.empty:
        return []
    lo, hi = nps.loc[nps["value"].idxmin()], nps.loc[nps["value"].idxmax()]
    return [
        f"NPS is lowest at {lo['touchpoint']} ({lo['value']:+.0f}, n = {int(lo['n']):,}) and "
        f"highest at {hi['touchpoint']} ({hi['value']:+.0f}, n = {int(hi['n']):,})"
    ]


FUNNEL_METHOD = (
    "a customer enters at their first event at step 1 and reaches step j at their first event "
    "there no earlier than the step before and within the window of entering; conversion from "
    "the step before and overall from step 1 with Wilson intervals; hours from the step before, "
    "p50 and p95"
)
PATHS_METHOD = (
    "each customer's touchpoints in time order, consecutive repeats collapsed, cut after the "
    "path length; estimate: share of churned customers minus share of the others who took the "
    "path (two-proportion Wald interval)"
)


def duration_days(text: str | float | None, *, option: str = "--within") -> float | None:
    """``30d``, ``12h``, ``2w`` or a number of days as days; ``None`` or ``none``: no window.

    Raises
    ------
    CxroiError
        For anything else, naming the option.
    """
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "none")):
        return None
    if isinstance(text, int | float):
        return float(text)
    s = text.strip().lower()
    unit = {"h": 1 / 24, "d": 1.0, "w": 7.0}.get(s[-1:])
    try:
        value = float(s[:-1] if unit is not None else s)
    except ValueError:
        raise CxroiError(f"{option} {text!r}: write a duration such as 30d, 12h or 2w") from None
    return value * (unit if unit is not None else 1.0)


@progress.task("journey funnel")
def journey_funnel(
    ws: WorkspaceLike,
    steps: list[str],
    *,
    within: str | float | None = "30d",
    by: str | None = None,
    level: float = 0.95,
) -> Result:
    """The funnel of ``steps`` (event touchpoints) within the window, overall and per ``by``."""
    days = duration_days(within)
    raw = funnel(ws.tables, steps, within_days=days, by=by, level=level)
    raw = raw.rename(columns={"conversion": "estimate"})
    first = raw["step"] == 1
    raw.loc[first, "flag"] = "exact"  # everyone at step 1 entered there
    table = estimate_frame(raw, level=level, min_n=ws.settings.min_n)
    table.loc[first, "flag"] = "exact"
    overall = table[(table["segment"] == "all")]
    last = overall.iloc[-1]
    worst = overall.iloc[1:].loc[overall["estimate"].iloc[1:].idxmin()]
    window = f"within {within}" if days is not None else "with no window"
    return Result(
        "journey funnel",
        f"Funnel {' → '.join(steps)}",
        [
            Table(
                "funnel",
                "Funnel",
                table,
                method=FUNNEL_METHOD,
                view=[
                    "segment",
                    "step",
                    "touchpoint",
                    "customers",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "overall",
                    "drop_off",
                    "hours_p50",
                    "hours_p95",
                    "flag",
                ],
            )
        ],  # fmt: skip
        method=FUNNEL_METHOD,
        window=Window.resolve(ws.tables).as_dict(),
        params={"steps": list(steps), "within_days": days, "by": by},
        readings=[
            f"{int(last['customers']):,} of {int(overall.iloc[0]['customers']):,} customers "
            f"({last['overall']:.0%}) went from {steps[0]} to {steps[-1]} {window}; the "
            f"biggest drop is into {worst['touchpoint']} ({worst['estimate']:.0%} convert)"
        ],
    )


@progress.task("journey paths")
def journey_paths(
    ws: WorkspaceLike, *, length: int = 4, top: int = 10, level: float = 0.95
) -> Result:
    """The most frequent paths, churned against retained customers, and the directly-follows
    counts (pairs that leave the map marked when ``journey.yaml`` exists)."""
    churned = churned_customers(ws.tables)  # the ledger's churn, from the contracts alone
    steps = cached(sequence(ws.tables))  # read by both the paths and the pairs
    raw = paths(ws.tables, length=length, top=top, churned=churned, level=level, steps=steps)
    table = estimate_frame(raw, level=level, min_n=ws.settings.min_n)
    path = Path(ws.path) / JOURNEY_FILE
    mapped = None
    if path.exists():
        journey = load(path)
        mapped = [e for t in journey.touchpoints for e in t.events]
        mapped += [b.event for t in journey.touchpoints for b in t.backstage if b.event]
    follows = directly_follows(ws.tables, mapped, steps=steps)
    warnings = []
    if mapped is not None and follows["leaves_map"].any():
        off = follows[follows["leaves_map"]]
        warnings.append(f"{int(off['count'].sum()):,} steps lead to touchpoints the map lacks: "
                        f"{', '.join(sorted(set(off['to'])))}")  # fmt: skip
    readings = []
    if len(table):
        p = table.iloc[0]
        readings.append(f"the most frequent path, {p['path']}, is {p['share']:.0%} of customers")
        for sig, pick, word in ((table[table["ci_low"] > 0], "idxmax", "more"),
                                (table[table["ci_high"] < 0], "idxmin", "less")):  # fmt: skip
            if len(sig):
                q = sig.loc[getattr(sig["estimate"], pick)()]
                readings.append(
                    f"{q['path']} is {word} common among churned customers "
                    f"({q['share_churned']:.1%} vs {q['share_retained']:.1%} of the others)"
                )
    return Result(
        "journey paths",
        "Paths through the journey",
        [
            Table(
                "paths",
                f"Most frequent paths (up to {length} steps)",
                table,
                method=PATHS_METHOD,
                view=[
                    "rank",
                    "path",
                    "customers",
                    "share",
                    "share_churned",
                    "share_retained",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "flag",
                ],
            ),
            Table(
                "follows",
                "Directly follows: each step and the next",
                follows,
                kind="data",
                show=False,
            ),
        ],  # fmt: skip
        method=PATHS_METHOD,
        window=Window.resolve(ws.tables).as_dict(),
        params={"length": length, "top": top},
        warnings=warnings,
        readings=readings,
    )


BACKSTAGE = "backstage"
"""The stage of the backstage event types measured for the blueprint."""


@progress.task("journey picture")
def journey_picture(
    ws: WorkspaceLike, kind: str, out: str | Path, *, metric: str = "nps"
) -> Result:
    """Draw the journey ``map`` (cells coloured by ``metric``, the emotion curve below) or the
    service ``blueprint`` (lanes, line of visibility, measured backstage steps) to ``out``
    (``.svg`` or ``.png``)."""
    from cxroi.journey.pictures import blueprint_figure, map_figure, save_figure

    journey = journey_map(ws)
    warnings: list[str] = []
    if kind == "map":
        raw = touchpoint_metrics(ws.tables, journey)
        sentiment, _, _ = comment_metrics(ws, journey, 0.95)
        if sentiment is not None:
            raw = pd.concat([raw, sentiment], ignore_index=True)
        fig = map_figure(journey, raw, metric=metric)
    else:
        # the backstage event types measured with the touchpoints, in the same engine pass,
        # as touchpoints of their own (prefixed: an event type may share a touchpoint's id)
        events = sorted({b.event for t in journey.touchpoints for b in t.backstage if b.event})
        steps = Stage(
            BACKSTAGE,
            BACKSTAGE,
            tuple(Touchpoint(f"{BACKSTAGE}:{e}", e, BACKSTAGE, events=(e,)) for e in events),
        )
        both = Journey((*journey.stages, steps)) if events else journey  # fmt: skip
        raw = touchpoint_metrics(ws.tables, both)
        b = raw.set_index(["touchpoint", "metric"])
        measured = {
            e: (int(b.loc[(f"{BACKSTAGE}:{e}", "events"), "n"]),
                float(b.loc[(f"{BACKSTAGE}:{e}", "next_step_p50_hours"), "value"]))
            for e in events if b.loc[(f"{BACKSTAGE}:{e}", "events"), "n"]
        }  # fmt: skip
        mine = raw["touchpoint"].isin([t.id for t in journey.touchpoints])
        pains, note = _pain_points(ws, journey)
        if note:
            warnings.append(note)
        fig = blueprint_figure(journey, raw[mine], backstage=measured, pain_points=pains)
    path = save_figure(fig, out)
    return Result(
        f"journey {kind}",
        f"Journey {kind} drawn",
        [
            Table(
                "file",
                "Written",
                pd.DataFrame({"path": [str(path)], "bytes": [path.stat().st_size]}),
                kind="data",
            )
        ],  # fmt: skip
        params={"path": str(path), "touchpoints": len(journey.touchpoints)},
        warnings=warnings,
        readings=[f"{kind} of {len(journey.touchpoints)} touchpoints written to {path}"],
    )


def _pain_points(ws: WorkspaceLike, journey: Journey) -> tuple[list[str], str | None]:
    """The pain points the blueprint marks (``cxroi journey pain-points`` with its defaults),
    or none and why."""
    from cxroi.analyses.journey_pain import pain_point_ids

    if not any(t.surveys for t in journey.touchpoints):
        return [], None
    try:
        return pain_point_ids(ws), None
    except CxroiError as e:
        return [], f"pain points not marked: {e}"
