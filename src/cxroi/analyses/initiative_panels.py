"""Who an initiative reached and who it is compared with, and their panels for the DiD.

:func:`groups` splits the customers into treated (the target group less its randomised
holdout, less anyone another initiative also reaches) and comparison (the holdout, or every
customer no initiative targets). The panels are one row per customer and month: relationship
NPS answers (:func:`nps_panel`) and every month a customer was active, with spend, support
cost and churn (:func:`months_frame`). Months count from the first response or purchase.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.analyses.initiatives import initiative_record
from cxroi.errors import CxroiError
from cxroi.holdout import held_out
from cxroi.metrics.nps import nps_points_expr
from cxroi.models.initiative import target_filter
from cxroi.models.ledger import ledger_frame
from cxroi.window import data_bounds, to_date

__all__ = ["attributes", "groups", "id_frame", "missing_to_none", "month_index", "months_frame",
           "nps_panel", "trends"]  # fmt: skip


def month_index(d: Any, first: dt.date) -> int:
    d = pd.Timestamp(d)
    return (d.year - first.year) * 12 + d.month - first.month + 1


def _ids(ws: WorkspaceLike, target: str | None) -> set[str]:
    cust = ws.table("customers")
    pred = target_filter(cust, target)
    sel = cust if pred is None else cust.filter(pred)
    return set(sel.select("customer_id").to_pandas()["customer_id"])


def missing_to_none(x: Any) -> Any:
    return None if x is None or (not isinstance(x, str) and pd.isna(x)) else x


def groups(ws: WorkspaceLike, initiative_id: str) -> dict[str, Any]:
    """Treated and comparison customers of an initiative, and what was left out and why."""
    register, row = initiative_record(ws, initiative_id)
    rec = row.iloc[0]
    first, last = data_bounds(ws.tables)
    if first is None or last is None:
        raise CxroiError("the workspace holds no transactions or responses to measure yet")
    # months are counted from the first response or purchase (the outcomes measured)
    starts = [ws.table(t)["ts"].min().to_pandas() for t in ("responses", "transactions")]
    starts = [pd.Timestamp(x).date() for x in starts if x is not None and not pd.isna(x)]
    first = max(first, min(starts)) if starts else first
    target = _ids(ws, missing_to_none(rec["target"]))
    others: set[str] = set()
    overlapping: list[str] = []
    for o in register.itertuples():
        if o.initiative_id == initiative_id:
            continue
        if to_date(o.start_date, "start") > last:
            continue
        if missing_to_none(o.end_date) is not None and to_date(o.end_date, "end") < first:
            continue
        ids = _ids(ws, missing_to_none(o.target))
        if ids & target:
            overlapping.append(f"{o.initiative_id} ({len(ids & target):,})")
        others |= ids
    share = missing_to_none(rec.get("holdout_share"))
    ordered = sorted(target)
    held = held_out(initiative_id, ordered, share)
    treated = {c for c, h in zip(ordered, held, strict=True) if not h} - others
    if share:
        control = {c for c, h in zip(ordered, held, strict=True) if h} - others
        design = f"randomised holdout of {share:.0%} recorded at launch"
    else:
        control = _ids(ws, None) - target - others
        design = "customers no initiative targets while the data runs"
    return {
        "rec": rec,
        "first": first,
        "last": last,
        "treated": treated,
        "control": control,
        "design": design,
        "randomised": bool(share),
        "overlap_left_out": len(target & others),
        "overlapping": overlapping,
    }


def id_frame(ws: WorkspaceLike, g: dict[str, Any], launch: int, end: int) -> pd.DataFrame:
    import ibis

    ids = pd.DataFrame(
        {
            "customer_id": sorted(g["treated"]) + sorted(g["control"]),
            "first_treat": [launch] * len(g["treated"]) + [0] * len(g["control"]),
        }
    )
    return ids.assign(_end=end).rename(columns={"_end": "last_period"}).pipe(ibis.memtable)


def _period(ts: Any, first: dt.date) -> Any:
    return (ts.year() - first.year) * 12 + ts.month() - first.month + 1


def nps_panel(ws: WorkspaceLike, ids: Any, g: dict[str, Any], survey: str | None) -> pd.DataFrame:
    rs = ws.table("responses")
    rs = rs.filter(rs.nps.notnull() & rs.customer_id.notnull())
    if survey is not None:
        rs = rs.filter(rs.survey == survey)
    j = rs.inner_join(ids, "customer_id")
    j = j.mutate(period=_period(j.ts, g["first"]))
    j = j.filter(j.period <= j.last_period)
    out = (
        j.mutate(points=nps_points_expr(j.nps))
        .group_by(["customer_id", "period", "first_treat"])
        .aggregate(nps_points=lambda t: t.points.mean(), nps_score=lambda t: t.nps.mean())
    )
    return out.to_pandas()


def months_frame(ws: WorkspaceLike, ids: Any, g: dict[str, Any]) -> pd.DataFrame:
    """One row per customer and month active: spend, support cost and whether they churned."""
    led = ledger_frame(ws.tables)[["customer_id", "entry", "exit", "churned"]]
    led = led[led["customer_id"].isin(g["treated"] | g["control"])].copy()
    led["p_in"] = [max(1, month_index(d, g["first"])) for d in led["entry"]]
    led["p_out"] = [month_index(d, g["first"]) for d in led["exit"]]
    ids_df = ids.to_pandas()
    led = led.merge(ids_df, on="customer_id")
    led = led[led["p_out"] >= led["p_in"]]
    reps = (led["p_out"] - led["p_in"] + 1).to_numpy()
    months = led.loc[led.index.repeat(reps)].copy()
    offset = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    months["period"] = months["p_in"].to_numpy() + offset
    months["churn"] = ((months["period"] == months["p_out"]) & (months["churned"] == 1)).astype(int)
    months = months[months["period"] <= months["last_period"]]
    for table, ts, amount, name in (("transactions", "ts", "amount", "spend"),
                                    ("tickets", "opened_at", "cost", "support_cost")):  # fmt: skip
        rows = ws.table(table).inner_join(ids, "customer_id")
        sums = (
            rows.mutate(period=_period(rows[ts], g["first"]))
            .group_by(["customer_id", "period"])
            .aggregate(**{name: rows[amount].sum()})
            .to_pandas()
        )
        months = months.merge(sums, on=["customer_id", "period"], how="left")
    months[["spend", "support_cost"]] = months[["spend", "support_cost"]].fillna(0.0)
    return months[
        ["customer_id", "period", "first_treat", "churn", "spend", "support_cost", "entry"]
    ]


def attributes(ws: WorkspaceLike, ids: set[str]) -> pd.DataFrame:
    """The customers' categorical attributes (text columns of 2 to 20 values) by id."""
    cust = ws.table("customers")
    cols = [c for c, t in cust.schema().items() if t.is_string() and c != "customer_id"]
    frame = cust.select("customer_id", *cols).to_pandas()
    frame = frame[frame["customer_id"].isin(ids)]
    keep = [c for c in cols if 2 <= frame[c].nunique() <= 20]
    return frame[["customer_id", *keep]]


def trends(
    frame: pd.DataFrame, attrs: list[str], *, levels: bool
) -> tuple[pd.DataFrame, list[str]]:
    """Add a linear month trend per attribute level (and, for ``levels``, the level itself).

    The first level of each attribute is the base. ``frame`` has ``period`` and ``attrs``.
    """
    out = frame.copy()
    names: list[str] = []
    period = out["period"].astype(float)
    for a in attrs:
        for v in sorted(out[a].dropna().unique())[1:]:
            ind = (out[a] == v).astype(float)
            out[f"_t_{a}_{v}"] = ind * period
            names.append(f"_t_{a}_{v}")
            if levels:
                out[f"_l_{a}_{v}"] = ind
                names.append(f"_l_{a}_{v}")
    return out, names
