"""The initiative register: what the company does (A), for whom, from when, at what cost.

``cxroi initiative add|list|show|close``. Each initiative records its maturity level, its
target group (a filter on customer attributes, :mod:`cxroi.models.initiative`) and
touchpoint, one-off and running cost, start and end, the perception metric it aims to move
(C: NPS, CSAT, CES or a rating) and the behaviour that should follow (B: churn, spend,
purchases, cost to serve), and optionally the share of the target group held out at random.

Writes go through the workspace's ingest, so an initiative is validated against the schema
and lands whole, column by column (closing one sets its end and keeps the rest).

Overlaps are warned about, not refused: when two initiatives run at the same time for some of
the same customers, an effect measured on those customers belongs to both; ROI measurement
then leaves the shared customers out of both and estimates each initiative on the customers it
reaches alone, reporting the overlap beside it, so the sum of the parts is not read as the
whole.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError, param
from cxroi.models.initiative import target_filter
from cxroi.results import Result, Table, format_cell
from cxroi.schema import BEHAVIOURS, MATURITY_LEVELS
from cxroi.window import to_date

__all__ = [
    "initiative_add",
    "initiative_close",
    "initiative_list",
    "initiative_record",
    "initiative_show",
]

SCORES = ("nps", "csat", "ces")
COLUMNS = (
    "initiative_id", "name", "level", "start_date", "end_date", "cost", "running_cost",
    "target", "touchpoint", "metric", "expected_effect", "behaviour", "holdout_share", "owner",
)  # fmt: skip


def _stored(ws: WorkspaceLike) -> pd.DataFrame:
    t = ws.table("initiatives")
    frame = t.to_pandas()
    for c in COLUMNS:
        if c not in frame.columns:
            frame[c] = None
    return frame


def _target_size(ws: WorkspaceLike, target: str | None) -> int:
    cust = ws.table("customers")
    pred = target_filter(cust, target)
    return int((cust if pred is None else cust.filter(pred)).count().execute())


def _overlap(ws: WorkspaceLike, a: str | None, b: str | None) -> int:
    cust = ws.table("customers")
    preds = [p for p in (target_filter(cust, a), target_filter(cust, b)) if p is not None]
    for p in preds:
        cust = cust.filter(p)
    return int(cust.count().execute())


def _runs_together(s1: dt.date, e1: dt.date | None, s2: Any, e2: Any) -> bool:
    s2 = to_date(s2, "start")
    e2 = None if e2 is None or pd.isna(e2) else to_date(e2, "end")
    return s1 <= (e2 or dt.date.max) and s2 <= (e1 or dt.date.max)


def _overlaps(ws: WorkspaceLike, row: dict[str, Any], others: pd.DataFrame) -> list[str]:
    notes = []
    for o in others.itertuples():
        if o.initiative_id == row["initiative_id"]:
            continue
        if not _runs_together(row["start_date"], row["end_date"], o.start_date, o.end_date):
            continue
        n = _overlap(ws, row["target"], None if pd.isna(o.target) else o.target)
        if n:
            notes.append(
                f"{row['initiative_id']} overlaps {o.initiative_id} ({o.name}) on {n:,} "
                "customers at the same time: an effect measured on them belongs to both, so "
                "roi measure leaves them out of both and measures each initiative on the "
                "customers it reaches alone, reporting the overlap beside it"
            )
    return notes


def _check_metric(ws: WorkspaceLike, metric: str) -> None:
    ratings = [c for c in ws.table("responses").columns if c.startswith("rating_")]
    if metric not in (*SCORES, *ratings):
        raise CxroiError(
            f"{param('metric')} {metric!r} is not a perception score; choose "
            f"{', '.join((*SCORES, *ratings))}"
        )


def initiative_add(
    ws: WorkspaceLike,
    *,
    initiative_id: str,
    name: str,
    level: str,
    start: object,
    cost: float,
    running_cost: float = 0.0,
    end: object | None = None,
    target: str | None = None,
    touchpoint: str | None = None,
    metric: str = "nps",
    expected_effect: float | None = None,
    behaviour: str = "churn",
    holdout_share: float | None = None,
    owner: str | None = None,
) -> Result:
    """Register a new initiative.

    Parameters
    ----------
    initiative_id, name
        Key and a name a reader knows it by.
    level
        Maturity level: efficiency, excellence, product_innovation or experience_innovation.
    start, end
        First and last day (``end`` open while it runs).
    cost, running_cost
        One-off cost, and running cost per month, in the workspace currency.
    target
        Filter on customer attributes (``plan == 'premium' and region == 'north'``); default
        every customer. It must match at least one customer.
    touchpoint
        The touchpoint it changes.
    metric, expected_effect
        The perception score it aims to move (``nps``, ``csat``, ``ces`` or a ``rating_*``) and
        by how much (NPS points, or score units).
    behaviour
        What should follow: churn, spend, purchases or cost_to_serve.
    holdout_share
        Share of the target group held out at random at launch (0 to 0.9).

    Returns
    -------
    Result
        Table ``initiative`` (the stored row) and ``target_customers`` in ``params``; overlaps
        with other initiatives as warnings.
    """
    if level not in MATURITY_LEVELS:
        raise CxroiError(
            f"{param('level')} {level!r} is not a maturity level; choose "
            f"{', '.join(MATURITY_LEVELS)}"
        )
    if behaviour not in BEHAVIOURS:
        raise CxroiError(
            f"{param('behaviour')} {behaviour!r} is not one of {', '.join(BEHAVIOURS)}"
        )
    _check_metric(ws, metric)
    stored = _stored(ws)
    if initiative_id in set(stored["initiative_id"]):
        raise CxroiError(
            f"initiative {initiative_id!r} exists already; register the new one under a new id"
        )
    for key, v in (("cost", cost), ("running_cost", running_cost)):
        if not float(v) >= 0:
            raise CxroiError(f"{param(key)} must be 0 or more, got {v}")
    if holdout_share is not None and not 0 < holdout_share <= 0.9:
        raise CxroiError(f"{param('holdout_share')} must be in (0, 0.9], got {holdout_share}")
    start_d = to_date(start, "start")
    end_d = None if end is None else to_date(end, "end")
    if end_d is not None and end_d < start_d:
        raise CxroiError(f"{param('end')} {end_d} is before {param('start')} {start_d}")
    n = _target_size(ws, target)
    if n == 0:
        raise CxroiError(
            f"{param('target')} {target!r} matches no customer; check the attribute values"
        )
    row = {
        "initiative_id": initiative_id, "name": name, "level": level, "start_date": start_d,
        "end_date": end_d, "cost": float(cost), "running_cost": float(running_cost),
        "target": target, "touchpoint": touchpoint, "metric": metric,
        "expected_effect": None if expected_effect is None else float(expected_effect),
        "behaviour": behaviour, "holdout_share": holdout_share, "owner": owner,
    }  # fmt: skip
    warnings = _overlaps(ws, row, stored)
    frame = pd.DataFrame([row])
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame["end_date"] = pd.to_datetime(frame["end_date"])
    for c in ("expected_effect", "holdout_share", "running_cost", "cost"):
        frame[c] = frame[c].astype("float64")
    ws.ingest("initiatives", frame.dropna(axis=1, how="all"))
    return _one(ws, initiative_id, warnings=warnings, title=f"Initiative {initiative_id} added")


def _shown(v: Any) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp | dt.date):
        return to_date(v, "date").isoformat()
    return format_cell(v)


def register_frame(ws: WorkspaceLike) -> pd.DataFrame:
    """The initiatives table as stored, one row per initiative."""
    return _stored(ws)


def initiative_record(ws: WorkspaceLike, initiative_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The register and the one-row frame of ``initiative_id`` (a clear error if unknown)."""
    stored = _stored(ws)
    row = stored[stored["initiative_id"] == initiative_id]
    if row.empty:
        known = ", ".join(sorted(stored["initiative_id"])) or "none yet"
        raise CxroiError(f"no initiative {initiative_id!r}; the register has {known}")
    return stored, row


def _one(ws: WorkspaceLike, initiative_id: str, *, warnings: list[str], title: str) -> Result:
    _, row = initiative_record(ws, initiative_id)
    rec = row.iloc[0]
    target = None if pd.isna(rec["target"]) else rec["target"]
    n = _target_size(ws, target)
    fields = pd.DataFrame({"field": list(COLUMNS), "value": [_shown(rec[c]) for c in COLUMNS]})
    readings = [
        f"{rec['name']} ({rec['level']}) targets {n:,} customers"
        + (f" ({target})" if target else " (every customer)")
        + f" from {to_date(rec['start_date'], 'start')}"
        + ("" if pd.isna(rec["end_date"]) else f" to {to_date(rec['end_date'], 'end')}")
        + f"; it aims to move {rec['metric'] or 'nps'}"
        + ("" if pd.isna(rec["expected_effect"]) else f" by {rec['expected_effect']:+g}")
        + f" and through it {rec['behaviour'] or 'churn'}."
    ]
    return Result(
        "initiative",
        title,
        [Table("initiative", title, fields, kind="data")],
        params={"initiative_id": initiative_id, "target_customers": n},
        warnings=warnings,
        readings=readings,
    )


def initiative_show(ws: WorkspaceLike, initiative_id: str) -> Result:
    """One initiative: every field, the size of its target group and its overlaps."""
    stored, row = initiative_record(ws, initiative_id)
    rec = row.iloc[0].to_dict()
    rec["target"] = None if pd.isna(rec["target"]) else rec["target"]
    rec["start_date"] = to_date(rec["start_date"], "start")
    rec["end_date"] = None if pd.isna(rec["end_date"]) else to_date(rec["end_date"], "end")
    warnings = _overlaps(ws, rec, stored)
    return _one(ws, initiative_id, warnings=warnings, title=f"Initiative {initiative_id}")


def initiative_list(ws: WorkspaceLike) -> Result:
    """Every initiative, with the number of customers its target matches."""
    stored = _stored(ws).sort_values(["start_date", "initiative_id"]).reset_index(drop=True)
    stored["target_customers"] = [
        _target_size(ws, None if pd.isna(t) else t) for t in stored["target"]
    ]
    view = ["initiative_id", "name", "level", "start_date", "end_date", "cost", "running_cost",
            "target", "target_customers", "metric", "behaviour"]  # fmt: skip
    by_level = stored.groupby("level").size().reindex(list(MATURITY_LEVELS), fill_value=0)
    readings = [
        f"{len(stored)} initiative(s): "
        + ", ".join(f"{lvl.replace('_', ' ')} {k}" for lvl, k in by_level.items())
        + "."
    ]
    return Result(
        "initiatives",
        "Initiatives",
        [Table("initiatives", "Initiatives", stored, kind="data", view=view)],
        readings=readings,
    )


def initiative_close(ws: WorkspaceLike, initiative_id: str, *, end: object | None = None) -> Result:
    """Set an initiative's last day (default: the last day the data cover); keeps the rest."""
    from cxroi.window import data_bounds

    _, row = initiative_record(ws, initiative_id)
    start_d = to_date(row.iloc[0]["start_date"], "start")
    end_d = to_date(end, "end") if end is not None else data_bounds(ws.tables)[1]
    if end_d is None:
        raise CxroiError(f"the workspace holds no activity yet; give {param('end')}")
    if end_d < start_d:
        raise CxroiError(f"{param('end')} {end_d} is before the start {start_d}")
    rec = row.drop(columns=[c for c in row.columns if row[c].isna().all()]).copy()
    rec["end_date"] = pd.Timestamp(end_d)
    ws.ingest("initiatives", rec.reset_index(drop=True))
    return _one(ws, initiative_id, warnings=[], title=f"Initiative {initiative_id} closed")
