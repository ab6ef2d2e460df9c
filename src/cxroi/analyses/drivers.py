"""``cxroi drivers``: key driver analysis of survey responses in a workspace.

The target, the drivers and the group column may be

- columns of the responses (``nps``, ``csat``, ``rating_*``, ``touchpoint``, ...);
- columns of the customer ledger (:func:`cxroi.models.ledger.customer_ledger`): customer
  attributes (``plan``, ``region``, ...), operational measures (``first_response_hours``,
  ``resolution_hours``, ``tickets``, ``support_cost``) and behaviour (``churned`` as the target
  gives the drivers of the likelihood to churn, ``spend``), joined to each response by its
  customer;
- ``touchpoint:NAME`` (or ``touchpoint:NAME:SCORE``): the customer's mean CSAT (or
  ``nps``/``ces``) over all responses given at touchpoint NAME, whichever survey asked;
- ``theme:NAME``: 1 when the response's comment mentions the theme, else 0, from the
  workspace's theme model (:func:`cxroi.analyses.themes.theme_model`); only commented
  responses are analysed then.

A workspace without responses (a subscription company with only customers and contracts) can
still ask for ``churned``: the rows are then the contract customers, and the default drivers
are their attributes and contract fields (``tenure_years``, ``contract_value`` per month,
``contracts`` and the fields of each customer's first contract, such as ``billing_period``). A
text column becomes one 0/1 driver per level (``plan=premium``) held by at least ``min_n``
customers, the most frequent level being the reference; a level that is a combination of
the others (a region whose cities are all drivers) is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError, param
from cxroi.models.drivers import key_drivers
from cxroi.models.ledger import customer_ledger
from cxroi.models.profile import monthly_value
from cxroi.models.risk import independent_columns
from cxroi.results import Result, Table, estimate_frame

__all__ = ["THEME_PREFIX", "TOUCHPOINT_PREFIX", "drivers"]

THEME_PREFIX = "theme:"
TOUCHPOINT_PREFIX = "touchpoint:"

_METHODS = {
    "relative_weights": "relative weights (Johnson 2000)",
    "shapley": "Shapley values of R² (LMG, general dominance)",
}


@progress.task("drivers")
def drivers(
    ws: WorkspaceLike,
    *,
    target: str = "nps",
    drivers: Sequence[str] | None = None,
    by: str | None = None,
    method: str = "relative_weights",
    survey: str | None = None,
    dropna: bool = False,
    n_boot: int = 200,
    random_state: int = 0,
    level: float = 0.95,
) -> Result:
    """Key driver analysis: each driver's share of the target's explained variance.

    Parameters
    ----------
    ws
        The workspace (its ``min_n`` flags small groups).
    target
        Column to explain (default ``nps``); see the module docstring for what a column may be.
    drivers
        Driver columns; default every ``rating_*`` column of the responses.
    by
        Optional group column: one analysis per group.
    method
        ``relative_weights`` or ``shapley``.
    survey
        Only responses of this survey (it also picks the NPS of the ledger's NPS columns).
    dropna
        Drop responses missing the target or a driver (else a missing value is an error).
    n_boot, random_state
        Bootstrap replicates and seed of the intervals.
    level
        Interval level.

    Returns
    -------
    Result
        Table ``drivers``, one row per driver (and group), most important first: ``estimate``
        (the driver's raw weight: the share of the target's variance it accounts for) with
        ``ci_low``/``ci_high``, ``share`` of the model's :math:`R^2` with
        ``share_ci_low``/``share_ci_high``, ``sign``, ``rank``, ``r2``, ``n``,
        ``performance``, ``quadrant`` and ``flag``
        (:func:`cxroi.models.drivers.key_drivers`).
    """
    min_n = ws.settings.min_n
    per_customer = target == "churned" and _no_responses(ws)
    progress.step(f"reading {target} and its drivers")
    if per_customer:
        data, names = _customer_churn_data(ws, drivers, by, min_n)
    else:
        data, names = _driver_data(ws, target, drivers, by, survey)
    progress.step(f"fitting {len(names)} drivers, {n_boot} bootstrap draws")
    out = key_drivers(
        data, target, names, by=by, method=method, dropna=dropna, min_n=min_n,
        n_boot=n_boot, random_state=random_state, level=level,
    )  # fmt: skip
    frame = estimate_frame(
        out.rename(columns={"weight": "estimate"}),
        level=level,
        no_interval="point-only" if n_boot <= 0 else "not-estimable",
    )
    how = _METHODS.get(method, method)
    seg = ["group"] if by else []
    params: dict[str, Any] = {
        "target": target,
        "method": method,
        "by": by,
        "survey": survey,
        "dropna": dropna,
        "n_boot": n_boot,
        "random_state": random_state,
        "min_n": min_n,
    }
    readings = []
    if by is None and len(frame):
        top = frame.iloc[0]
        params.update(r2=float(top["r2"]), n=int(top["n"]))
        ci = (
            f" ({level:.0%} CI {top['share_ci_low']:.0%}-{top['share_ci_high']:.0%})"
            if pd.notna(top["share_ci_low"])
            else ""
        )
        readings.append(
            f"{top['driver']} accounts for {top['share']:.0%} of the variance in {target} "
            f"that the drivers explain{ci}; together they explain {top['r2']:.0%} of it."
        )
    if per_customer:
        params["unit"] = "contract customer"
    problems = frame.loc[frame["note"].fillna("") != ""]
    warnings = [
        "no survey responses: the drivers of churn are the customers' attributes and contract "
        "fields, one row per contract customer"
    ] * per_customer + [
        f"group {g!r}: {note}"
        for g, note in dict.fromkeys(zip(problems.get("group", []), problems["note"], strict=True))
    ]
    return Result(
        "drivers",
        f"Key drivers of {target} ({method})",
        [
            Table(
                "drivers",
                f"Key drivers of {target}",
                frame,
                method=f"{how}; percentile bootstrap ({n_boot} replicates)",
                view=[
                    *seg,
                    "driver",
                    "share",
                    "share_ci_low",
                    "share_ci_high",
                    "sign",
                    "quadrant",
                    "n",
                    "flag",
                ],  # fmt: skip
            )
        ],
        method=how,
        params=params,
        warnings=warnings,
        readings=readings,
    )


def _driver_data(
    ws: WorkspaceLike,
    target: str,
    drivers: Sequence[str] | None,
    by: str | None,
    survey: str | None,
) -> tuple[Any, list[str]]:
    """The responses with the target, driver and group columns (an Ibis table, or a frame
    with theme mentions or a group), and the driver names."""
    tables = ws.tables
    rs = tables["responses"]
    if survey is not None:
        rs = rs.filter(rs.survey == survey)
    if drivers is None:
        drivers = [c for c in rs.columns if c.startswith("rating_")]
        if not drivers:
            raise CxroiError("responses have no rating_* columns; name the drivers")
    names = list(drivers)
    wanted = list(dict.fromkeys(c for c in [target, *names, by] if c is not None))
    themes = [c for c in wanted if c.startswith(THEME_PREFIX)]
    for col in (c for c in wanted if c.startswith(TOUCHPOINT_PREFIX)):
        score = touchpoint_score(tables["responses"], col)
        rs = rs.left_join(score, "customer_id").drop("customer_id_right")
    outside = [c for c in wanted if c not in rs.columns and c not in themes]
    if outside:
        led = customer_ledger(tables, survey=survey)
        unknown = [c for c in outside if c not in led.columns]
        if unknown:
            raise CxroiError(
                f"column(s) not found in responses or the customer ledger: {', '.join(unknown)}"
                f"; the ledger has {', '.join(c for c in led.columns if c != 'customer_id')}"
            )
        rs = rs.left_join(led.select("customer_id", *outside), "customer_id")
    cols = [c for c in wanted if c not in themes]
    if themes:
        return _with_theme_mentions(ws, rs, cols, themes), names
    # in key order: the bootstrap resamples rows, so the answer must not depend on the order a
    # parallel scan returns them in
    data = rs.order_by("response_id").select(*cols)
    return (data.to_pandas() if by is not None else data), names


def _no_responses(ws: WorkspaceLike) -> bool:
    return int(ws.tables["responses"].count().execute()) == 0


def _customer_churn_data(
    ws: WorkspaceLike, drivers: Sequence[str] | None, by: str | None, min_n: int
) -> tuple[pd.DataFrame, list[str]]:
    """One row per contract customer: ``churned``, customer attributes and contract fields,
    text columns as 0/1 level columns (see the module docstring)."""
    tables = ws.tables
    led = customer_ledger(tables)
    led = led.filter(led.contracts.fill_null(0) > 0)
    cust = tables["customers"]
    attrs = [c for c, t in cust.schema().items() if c != "customer_id" and not t.is_temporal()]
    ct = tables["contracts"]
    skip = {"contract_id", "customer_id", "start_date", "end_date", "value"}
    fields = [c for c, t in ct.schema().items() if c not in skip and not t.is_temporal()]
    first = ct.group_by("customer_id").aggregate(
        contract_value=monthly_value(ct).argmin(ct.start_date),
        **{(f"contract_{c}" if c in attrs else c): ct[c].argmin(ct.start_date) for c in fields},
    )
    frame = (
        led.select("customer_id", "churned", "tenure_years", "contracts", *attrs)
        .left_join(first, "customer_id")
        .drop("customer_id_right")
        .order_by("customer_id")  # the bootstrap's rows in key order: reproducible
        .to_pandas()
    )
    if frame.empty:
        raise CxroiError("no contract customers: churn drivers need the contracts table")
    candidates = [c for c in frame.columns if c not in ("customer_id", "churned")]
    wanted = list(drivers) if drivers is not None else [c for c in candidates if c != by]
    out = frame[["churned"]].copy()
    if by is not None:
        if by not in frame.columns:
            raise CxroiError(
                f"{param('by')} {by!r} is not a customer or contract column; available: "
                f"{', '.join(candidates)}"
            )
        out[by] = frame[by]
    names: list[str] = []
    for col in wanted:
        base, _, level = col.partition("=")
        if base not in frame.columns:
            raise CxroiError(
                f"driver {col!r} is not a customer or contract column (there are no responses);"
                f" available: {', '.join(candidates)}"
            )
        s = frame[base]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            if drivers is None and not s.std() > 0:
                continue
            out[base] = s.astype(float)
            names.append(base)
            continue
        counts = s.astype("string").value_counts()
        levels = [level] if level else counts[counts >= min_n].index[1:11].tolist()
        for v in levels:
            out[f"{base}={v}"] = (s.astype("string") == v).fillna(False).astype(float)
            names.append(f"{base}={v}")
    if drivers is None and names:
        x = out[names].to_numpy(float)
        sd = x.std(axis=0)
        keep = sd > 0
        keep[keep] = independent_columns((x[:, keep] - x[:, keep].mean(0)) / sd[keep])
        names = [n for n, k in zip(names, keep, strict=True) if k]
    if not names:
        raise CxroiError("no customer attribute or contract field varies: nothing to drive churn")
    return out[["churned", *names, *([by] if by else [])]], names


def touchpoint_score(responses: ir.Table, col: str) -> ir.Table:
    """Per customer: the mean score at one touchpoint, as column ``col``
    (``touchpoint:NAME[:nps|csat|ces]``, CSAT by default)."""
    name, _, score = col[len(TOUCHPOINT_PREFIX) :].partition(":")
    score = score or "csat"
    if score not in ("nps", "csat", "ces"):
        raise CxroiError(f"{col!r}: the score must be nps, csat or ces, not {score!r}")
    known = responses.select("touchpoint").distinct().to_pandas()["touchpoint"].dropna()
    if name not in set(known):
        raise CxroiError(
            f"{col!r}: no touchpoint {name!r}; touchpoints: {', '.join(sorted(known))}"
        )
    at = responses.filter((responses.touchpoint == name) & responses[score].notnull())
    return at.group_by("customer_id").aggregate(**{col: at[score].cast("float64").mean()})


def _with_theme_mentions(
    ws: WorkspaceLike, rs: ir.Table, cols: list[str], themes: list[str]
) -> pd.DataFrame:
    """Commented responses' ``cols`` plus a 0/1 column per ``theme:NAME``."""
    from cxroi.analyses.themes import theme_model

    rs = rs.filter(rs.comment.notnull())
    frame = rs.order_by("response_id").select(*cols, "comment").to_pandas()
    if frame.empty:
        raise CxroiError("theme drivers need commented responses; none are in scope")
    model = theme_model(ws)
    assignment = model.transform(list(frame.pop("comment")))
    names = list(assignment.names)
    for col in themes:
        name = col[len(THEME_PREFIX) :]
        if name not in names:
            raise CxroiError(f"no theme {name!r}; themes: {', '.join(names)}")
        frame[col] = (assignment.confidence[:, names.index(name)] > 0).astype(float)
    return frame
