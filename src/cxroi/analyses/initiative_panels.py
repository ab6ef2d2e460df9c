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
from cxroi.models.ledger import customer_ledger
from cxroi.window import data_bounds, to_date

__all__ = ["attributes", "customer_spans", "groups", "hazard_cells", "id_frame",
           "missing_to_none", "month_index", "months_frame", "months_table", "nps_panel",
           "targeted_trend", "treated_after", "trends"]  # fmt: skip


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


def id_frame(
    ws: WorkspaceLike, g: dict[str, Any], launch: int, end: int, *, random_state: int = 0
) -> Any:
    """Treated and comparison ids as an engine table: ``first_treat``, ``last_period`` and
    ``draw``, each customer's place in a random order within its group (a sample of ``k``
    customers of a group is ``draw < k``)."""
    import ibis

    rng = np.random.default_rng(random_state)
    treated, control = sorted(g["treated"]), sorted(g["control"])
    ids = pd.DataFrame(
        {
            "customer_id": treated + control,
            "first_treat": np.r_[np.full(len(treated), launch), np.zeros(len(control), int)],
            "last_period": end,
            "draw": np.r_[rng.permutation(len(treated)), rng.permutation(len(control))],
        }
    )
    return ibis.memtable(ids)


def _period(ts: Any, first: dt.date) -> Any:
    return (ts.year() - first.year) * 12 + ts.month() - first.month + 1


def nps_panel(
    ws: WorkspaceLike, ids: Any, g: dict[str, Any], survey: str | None, *, sample: int | None
) -> pd.DataFrame:
    """Mean NPS points and score per customer and month (of at most ``sample`` customers of
    each group), aggregated in the engine."""
    rs = ws.table("responses")
    rs = rs.filter(rs.nps.notnull() & rs.customer_id.notnull())
    if survey is not None:
        rs = rs.filter(rs.survey == survey)
    if sample is not None:
        ids = ids.filter(ids.draw < sample)
    j = rs.inner_join(ids, "customer_id")
    j = j.mutate(period=_period(j.ts, g["first"]))
    j = j.filter(j.period <= j.last_period)
    out = (
        j.mutate(points=nps_points_expr(j.nps))
        .group_by(["customer_id", "period", "first_treat"])
        .aggregate(nps_points=lambda t: t.points.mean(), nps_score=lambda t: t.nps.mean())
    )
    return out.to_pandas()


def customer_spans(ws: WorkspaceLike, ids: Any, g: dict[str, Any]) -> Any:
    """Each treated or comparison customer's first and last month active, cached in the engine
    (one row per customer; :func:`months_table` expands it). ``release()`` it when done.

    Months run from entry (or the first month) to exit
    (:func:`cxroi.models.ledger.customer_ledger`), cut at the group's last period.
    """
    import ibis

    led = customer_ledger(ws.tables).select("customer_id", "entry", "exit", "churned")
    first = g["first"]
    led = led.inner_join(ids, "customer_id")
    led = led.mutate(
        p_in=ibis.greatest(_period(led.entry, first), 1), p_out=_period(led.exit, first)
    )
    led = led.mutate(p_last=ibis.least(led.p_out, led.last_period))
    return led.select(
        "customer_id", "first_treat", "draw", "churned", "p_in", "p_out", "p_last"
    ).cache()


def months_table(spans: Any, g: dict[str, Any]) -> Any:
    """Every month each customer of ``spans`` (:func:`customer_spans`) was active, as an
    engine table: ``customer_id``, ``first_treat``, ``draw``, ``period`` and ``churn`` (1 in
    the month of a churned customer's exit). Nothing is executed: the customer-month rows
    stay in the engine.
    """
    import ibis

    n = int(max(month_index(g["last"], g["first"]), 1))
    periods = ibis.memtable(pd.DataFrame({"period": np.arange(1, n + 1, dtype="int64")}))
    m = spans.inner_join(periods, [spans.p_in <= periods.period, spans.p_last >= periods.period])
    churn = ((m.period == m.p_out) & (m.churned == 1)).cast("int64")
    return m.select("customer_id", "first_treat", "draw", "period", churn=churn)


def with_money(ws: WorkspaceLike, months: Any, g: dict[str, Any]) -> Any:
    """``months`` with each customer-month's ``spend`` and ``support_cost`` (0 without)."""
    ids = months.select("customer_id").distinct()
    for table, ts, amount, name in (("transactions", "ts", "amount", "spend"),
                                    ("tickets", "opened_at", "cost", "support_cost")):  # fmt: skip
        rows = ws.table(table).inner_join(ids, "customer_id")
        sums = (
            rows.mutate(period=_period(rows[ts], g["first"]))
            .group_by(["customer_id", "period"])
            .aggregate(**{name: rows[amount].sum()})
        )
        months = months.left_join(sums, ["customer_id", "period"]).drop(
            "customer_id_right", "period_right"
        )
        months = months.mutate(**{name: months[name].fill_null(0.0)})
    return months


def months_frame(
    ws: WorkspaceLike, months: Any, g: dict[str, Any], *, sample: int | None
) -> pd.DataFrame:
    """The customer-month rows of at most ``sample`` customers of each group, with spend and
    support cost, in pandas."""
    if sample is not None:
        months = months.filter(months.draw < sample)
    out = with_money(ws, months, g).drop("draw").to_pandas()
    return out.sort_values(["customer_id", "period"], ignore_index=True)


def hazard_cells(ws: WorkspaceLike, months: Any, attrs: list[str], launch: int) -> pd.DataFrame:
    """Churn events and customer-months at risk by month, group, launch and attributes,
    counted in the engine (:func:`cxroi.models.did.hazard_did`'s cells)."""
    cust = ws.table("customers").select("customer_id", *attrs)
    m = months.inner_join(cust, "customer_id")
    m = m.mutate(
        treated_group=(m.first_treat > 0).cast("int64"), post=(m.period >= launch).cast("int64")
    )
    cells = m.group_by(["period", "treated_group", "post", *attrs]).aggregate(
        events=m.churn.sum(), exposure=m.count()
    )
    out = cells.to_pandas().assign(launch=launch)
    return out.sort_values(["period", "treated_group", *attrs], ignore_index=True)


def treated_after(ws: WorkspaceLike, months: Any, g: dict[str, Any], launch: int) -> dict[str, Any]:
    """The targeted customers after launch: customers active at launch, their monthly churn,
    spend and margin (spend less support cost), over every treated month from launch."""
    t = months.filter((months.first_treat > 0) & (months.period >= launch))
    t = with_money(ws, t, g)
    r = t.aggregate(
        months=t.count(),
        churn=t.churn.mean(),
        spend=t.spend.mean(),
        margin=(t.spend - t.support_cost).mean(),
        at_launch=(t.period == launch).cast("int64").sum(),
    ).to_pandas()
    row = r.iloc[0]
    return {
        "customers_at_launch": int(row["at_launch"] or 0),
        "churn_monthly": float(row["churn"]),
        "spend_monthly": float(row["spend"]),
        "margin_monthly": float(row["margin"]),
    }


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

    The first level of each attribute is the base. A level that the others already determine
    (a city nested in its region makes the region's levels sums of cities) is left out: the
    terms then span the same space without the collinearity, which would make the fixed-effect
    system singular (and its variance solve iterative and slow). ``frame`` has ``period`` and
    ``attrs``.
    """
    out = frame.copy()
    names: list[str] = []
    period = out["period"].astype(float)
    combos = out[attrs].drop_duplicates()
    basis = np.ones((len(combos), 1))
    for a in attrs:
        for v in sorted(out[a].dropna().unique())[1:]:
            col = (combos[a] == v).to_numpy(float)[:, None]
            trial = np.hstack([basis, col])
            if np.linalg.matrix_rank(trial) == basis.shape[1]:
                continue  # determined by the levels already in
            basis = trial
            ind = (out[a] == v).astype(float)
            out[f"_t_{a}_{v}"] = ind * period
            names.append(f"_t_{a}_{v}")
            if levels:
                out[f"_l_{a}_{v}"] = ind
                names.append(f"_l_{a}_{v}")
    return out, names


def targeted_trend(
    frame: pd.DataFrame, terms: list[str], outcome: str
) -> tuple[pd.DataFrame, list[str]]:
    """Add the targeted group's own loading on the comparison customers' month curve.

    Spend per customer-month falls as customers stop buying, and in money the faster the more
    a customer buys: a targeted cell (a region's premium customers, say) falls at a speed of
    its own that trends added per attribute level cannot represent. The term is the
    comparison customers' mean ``outcome`` of each month, on the targeted customers' rows: its
    coefficient, fitted on the untreated observations (the targeted customers' months before
    launch against the comparison customers), scales the common curve for the targeted group,
    so the counterfactual carries on the group's own pre-launch fall along that curve (which
    flattens as the customers who buy most have stopped; a straight line would overshoot).
    Left out when the attribute trends already give the group a trend of its own (a target
    that is one attribute level). ``frame`` has ``first_treat``, ``period``, ``outcome`` and
    the ``terms`` columns.
    """
    period = frame["period"].astype(float)
    targeted = (frame["first_treat"] > 0).astype(float)
    cells = pd.DataFrame({t: frame[t] / period for t in terms}).assign(_g=targeted)
    cells = cells.drop_duplicates().to_numpy()
    basis = np.hstack([np.ones((len(cells), 1)), cells[:, :-1]])
    if np.linalg.matrix_rank(np.hstack([basis, cells[:, -1:]])) == np.linalg.matrix_rank(basis):
        return frame, terms
    curve = frame.loc[targeted == 0].groupby("period")[outcome].mean()
    out = frame.assign(_t_targeted=targeted * frame["period"].map(curve).fillna(0.0))
    return out, [*terms, "_t_targeted"]
