"""``cxroi journey``: the journey map of the workspace (``journey.yaml``), proposed from the
data, checked against it, and measured touchpoint by touchpoint."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError
from cxroi.journey import JOURNEY_FILE, Journey, check, dump, inventory, load, propose
from cxroi.journey.metrics import touchpoint_metrics
from cxroi.results import Result, Table, estimate_frame
from cxroi.window import Window

__all__ = ["journey_check", "journey_init", "journey_map", "journey_touchpoints"]

TOUCHPOINTS_METHOD = (
    "events and distinct customers per touchpoint (exact counts of the events the map assigns "
    "to it); NPS, CSAT and CES of the responses given at the touchpoint with the scorecard's "
    "definitions and intervals; tickets the map assigns to it by category or channel, with "
    "their cost; time from each of its events to the same customer's next event, p50 and p95"
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".journey-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)  # whole or not at all
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
def journey_touchpoints(ws: WorkspaceLike, *, level: float = 0.95) -> Result:
    """Volume, reach, perception, tickets and time to the next step of every touchpoint of
    the map, with intervals and ``n``."""
    journey = journey_map(ws)
    progress.step(f"measuring {len(journey.touchpoints)} touchpoints in the engine")
    raw = touchpoint_metrics(ws.tables, journey, level=level)
    table = estimate_frame(raw, level=level, min_n=ws.settings.min_n)
    empty = table["n"] == 0  # nothing measured: no-data says it, small-n would repeat it
    table.loc[empty, "flag"] = "no-data"
    no_data = sorted(set(raw.loc[(raw["metric"] == "events") & (raw["n"] == 0), "touchpoint"]))
    warnings = [f"no events measure: {', '.join(no_data)}"] if no_data else []
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
                _summary(table),
                kind="data",
            ),  # fmt: skip
        ],
        method=TOUCHPOINTS_METHOD,
        window=Window.resolve(ws.tables).as_dict(),
        params={"touchpoints": len(journey.touchpoints), "min_n": ws.settings.min_n},
        warnings=warnings,
        readings=_readings(table),
    )


SUMMARY = {
    "events": "events", "customers": "customers", "nps": "nps", "csat": "csat", "ces": "ces",
    "tickets": "tickets", "ticket_cost": "ticket_cost", "next_step_p50_hours": "next_p50_h",
    "next_step_p95_hours": "next_p95_h",
}  # fmt: skip


def _summary(t: pd.DataFrame) -> pd.DataFrame:
    """One row per touchpoint in map order: the values, and the responses behind its NPS."""
    keys = ["stage", "touchpoint"]
    pairs = dict.fromkeys(zip(t["stage"], t["touchpoint"], strict=True))
    order = pd.MultiIndex.from_tuples(list(pairs), names=keys)
    wide = t.set_index([*keys, "metric"])["value"].unstack("metric").reindex(order)
    wide = wide.reindex(columns=list(SUMMARY)).rename(columns=SUMMARY)
    n = t[t["metric"] == "nps"].set_index(keys)["n"].reindex(order)
    wide.insert(wide.columns.get_loc("nps") + 1, "nps_n", n.to_numpy())
    for c in ("events", "customers", "nps_n", "tickets"):
        wide[c] = wide[c].round().astype("Int64")
    return wide.reset_index()


def _readings(t: pd.DataFrame) -> list[str]:
    nps = t[(t["metric"] == "nps") & t["value"].notna()]
    if nps.empty:
        return []
    lo, hi = nps.loc[nps["value"].idxmin()], nps.loc[nps["value"].idxmax()]
    return [
        f"NPS is lowest at {lo['touchpoint']} ({lo['value']:+.0f}, n = {int(lo['n']):,}) and "
        f"highest at {hi['touchpoint']} ({hi['value']:+.0f}, n = {int(hi['n']):,})"
    ]
