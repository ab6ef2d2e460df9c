"""The C -> B and A -> C -> B links: what perception is worth, and what moves it.

- :func:`value_of_perception`: churn, spend, purchase frequency, cost to serve, referrals and
  lifetime value of promoters, passives and detractors (per segment), with bootstrap
  intervals, and the money value of moving one detractor to passive and one passive to
  promoter.
- :func:`lever`: the association of an operational measure (first-response time, resolution
  time, any numeric ticket column) with churn (time-varying Cox model, lifelines), spend and
  NPS (regression adjustment; doubly robust AIPW for a thresholded measure), adjusted for
  confounders, with a plain-language reading.

Both read the per-customer ledger of :mod:`cxroi.models.ledger`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.models.ledger import ledger_frame

__all__ = [
    "GROUPS",
    "lever",
    "perception_effects",
    "perception_value",
    "response_drivers",
    "value_of_perception",
]

GROUPS = ("promoter", "passive", "detractor")
MOVES = (("detractor", "passive"), ("passive", "promoter"))


# --------------------------------------------------------------------------- value of perception


def _group_metrics(sums: np.ndarray, has_ref: bool, discount_rate: float) -> dict[str, np.ndarray]:
    """Metrics from summed columns (events, exposure, spend, purchases, cost[, referrals]).

    .. math::

        \\text{churn} = 1 - e^{-E/T},\\quad m = (S - C)/T,\\quad r = 1 - \\text{churn},\\quad
        \\text{CLV} = \\frac{m\\,r}{1 + i - r}
    """
    e, t, s, p, c = (sums[..., k] for k in range(5))
    churn = 1 - np.exp(-e / t)
    margin = (s - c) / t
    r = 1 - churn
    out = {
        "churn_rate": churn,
        "spend_per_year": s / t,
        "purchases_per_year": p / t,
        "support_cost_per_year": c / t,
        "clv": margin * r / (1 + discount_rate - r),
    }
    if has_ref:
        out["referrals_per_year"] = sums[..., 5] / t
    return out


def value_of_perception(
    ledger: pd.DataFrame,
    *,
    by: str | None = None,
    discount_rate: float = 0.10,
    min_n: int = 30,
    n_boot: int = 200,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Behaviour and value of promoters, passives and detractors, and of moving one up.

    Rates are per year of exposure (sums over customers divided by summed exposure), so
    customers observed briefly weigh little. Lifetime value is the retention CLV of the
    group's annual margin :math:`m` (spend less cost to serve) and annual retention :math:`r`
    (see :func:`_group_metrics`). Intervals are percentile intervals of a bootstrap that
    resamples customers within each group.

    Parameters
    ----------
    ledger
        One row per customer (:func:`cxroi.models.ledger.ledger_frame`).
    by
        Optional segment column (plan, region, ...): one block of rows per segment.
    discount_rate
        Annual discount rate of the lifetime value.
    min_n
        Groups with fewer customers are flagged ``small n``.

    Returns
    -------
    pandas.DataFrame
        Long format: [``by``], ``nps_group``, ``metric``, ``value``, ``ci_low``, ``ci_high``,
        ``n``, ``flag``. Rows with ``nps_group`` ``detractor->passive`` and
        ``passive->promoter`` give the change in each metric when one customer moves up
        (``clv`` is the money value of the move).
    """
    need = ["nps_group", "churned", "exposure_years", "spend", "purchases", "support_cost"]
    missing = [c for c in need if c not in ledger.columns]
    if missing:
        raise CxroiError(f"the ledger lacks column(s): {', '.join(missing)}")
    if by is not None and by not in ledger.columns:
        raise CxroiError(f"segment column {by!r} not found; available: {', '.join(ledger.columns)}")
    has_ref = "referrals" in ledger.columns
    cols = ["churned", "exposure_years", "spend", "purchases", "support_cost"]
    cols += ["referrals"] if has_ref else []
    rated = ledger[ledger["nps_group"].notna()]
    if rated.empty:
        raise CxroiError("no customer has an NPS response; value of perception needs NPS")
    rng = np.random.default_rng(seed)
    alpha = (1 - ci) / 2
    rows: list[dict[str, Any]] = []
    segments = [(None, rated)] if by is None else list(rated.groupby(by, sort=True))
    for seg, part in segments:
        reps: dict[str, dict[str, np.ndarray]] = {}
        for g in GROUPS:
            x = part.loc[part["nps_group"] == g, cols].to_numpy(float)
            x = np.nan_to_num(x)
            n = len(x)
            flag = "" if n >= min_n else f"small n (< {min_n})"
            if n == 0:
                continue
            w = np.vstack([np.ones(n), rng.poisson(1.0, size=(n_boot, n))])
            m = _group_metrics(w @ x, has_ref, discount_rate)
            reps[g] = m
            for metric, v in m.items():
                lo, hi = np.nanquantile(v[1:], [alpha, 1 - alpha]) if n_boot else (np.nan,) * 2
                rows.append(_row(by, seg, g, metric, v[0], lo, hi, n, flag))
        for a, b in MOVES:
            if a not in reps or b not in reps:
                continue
            na = int((part["nps_group"] == a).sum())
            nb = int((part["nps_group"] == b).sum())
            flag = "" if min(na, nb) >= min_n else f"small n (< {min_n})"
            for metric in reps[a]:
                d = reps[b][metric] - reps[a][metric]
                lo, hi = np.nanquantile(d[1:], [alpha, 1 - alpha]) if n_boot else (np.nan,) * 2
                rows.append(_row(by, seg, f"{a}->{b}", metric, d[0], lo, hi, na + nb, flag))
    out = pd.DataFrame(rows)
    out.attrs.update(discount_rate=discount_rate, by=by)
    return out


def _row(by, seg, group, metric, value, lo, hi, n, flag) -> dict[str, Any]:
    row: dict[str, Any] = {} if by is None else {by: seg}
    row.update(
        nps_group=group,
        metric=metric,
        value=float(value),
        ci_low=float(lo),
        ci_high=float(hi),
        n=int(n),
        flag=flag,
    )
    return row


def perception_value(ws: Any, *, by: str | None = None, survey: str | None = None, **options: Any):
    """:func:`value_of_perception` for a workspace (its discount rate and ``min_n``)."""
    options.setdefault("discount_rate", ws.settings.discount_rate)
    options.setdefault("min_n", ws.settings.min_n)
    return value_of_perception(ledger_frame(ws, survey=survey), by=by, **options)


# --------------------------------------------------------------------------- adjusted effects

_VS = ("passive", "detractor")


def perception_effects(
    ws: Any,
    *,
    confounders: Sequence[str] | None = None,
    survey: str | None = None,
    max_age: int | None = 2,
    ci: float = 0.95,
    min_n: int | None = None,
) -> pd.DataFrame:
    """Adjusted churn hazard ratio and spend multiple of passives and detractors vs promoters.

    The raw gaps of :func:`value_of_perception` mix the effect of perception with whatever
    makes some customers both unhappy and different (segment, customer type). Here both
    effects are estimated on the customer-month panel with the NPS group *so far* (the latest
    score at or before the month, while it is at most ``max_age`` months old) and the
    analyst's confounders. Months without a current score are left out of both models (kept
    as a category of their own, their mix of groups would leak into the confounders'
    coefficients); a stale score misclassifies customers whose experience has changed since,
    which pulls both effects towards 1.

    - churn: Cox proportional hazards in counting-process form (lifelines ``CoxPHFitter``
      with ``entry_col``, calendar month as the time axis),
      :math:`h_i(m) = h_0(m)\\exp(\\beta_g [g_i(m) = g] + \\gamma^\\top x_i)`, reported as
      the hazard ratio :math:`e^{\\beta_g}`;
    - spend: least squares of the log amount of each purchase on the group and the
      confounders (customer-month means of the log amounts weighted by their purchase counts,
      which gives the same coefficients; standard errors clustered by customer), reported as
      the multiple :math:`e^{\\beta_g}` of a promoter's amount per purchase.

    Intervals are Wald intervals on the log scale.

    Parameters
    ----------
    ws
        The workspace.
    confounders
        Customer or ledger columns to adjust for (e.g. a segment column); default ``plan``,
        ``region`` and ``tenure_years`` (those present); ``()`` for none.
    survey
        NPS from this survey only (e.g. the relationship survey).
    max_age
        Months a response stays current (0: only the month it was given); ``None``: for ever.
    ci
        Interval level.
    min_n
        Groups with fewer customers are flagged; default the workspace's ``min_n``.

    Returns
    -------
    pandas.DataFrame
        One row per outcome and group: ``outcome`` (``churn``/``spend``), ``nps_group``,
        ``effect``, ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, ``n`` (customers
        observed in the group), ``flag`` and ``reading``.
    """
    if max_age is not None and max_age < 0:
        raise CxroiError(f"max_age must be 0 or more months, got {max_age}")
    panel, led, origin = _month_panel(ws, survey, (), max_age)
    conf = _default_confounders(led.columns, confounders)
    panel = panel.merge(led[["customer_id", *conf]], on="customer_id", how="left")
    panel = panel[panel["nps_group"] != "unknown"].reset_index(drop=True)
    if panel.empty:
        raise CxroiError("no customer has an NPS response; perception effects need NPS")
    min_n = ws.settings.min_n if min_n is None else min_n
    adj = ", ".join(conf) or "nothing"
    rows = _churn_effects(panel, conf, ci)
    rows += _spend_effects(ws, panel, origin, conf, ci)
    for r in rows:
        r["flag"] = "" if r["n"] >= min_n else f"small n (< {min_n})"
        what = (
            f"have a churn hazard {r['estimate']:.2f} times a promoter's"
            if r["outcome"] == "churn"
            else f"spend {r['estimate']:.2f} times a promoter's amount per purchase"
        )
        r["reading"] = (
            f"{r['nps_group'].capitalize()}s {what} ({ci:.0%} CI {r['ci_low']:.2f}-"
            f"{r['ci_high']:.2f}), adjusted for {adj}."
        )
    out = pd.DataFrame(rows)
    out.attrs.update(confounders=conf, survey=survey)
    return out


def _group_dummies(panel: pd.DataFrame, conf: Sequence[str]) -> pd.DataFrame:
    g = panel["nps_group"]
    groups = pd.DataFrame({k: (g == k).astype(float) for k in _VS})
    x = pd.concat([groups, _design(panel, conf)], axis=1)
    return x.loc[:, x.std() > 0]


def _effect_rows(outcome, effect, method, beta, se, p, n, ci) -> list[dict[str, Any]]:
    z = _z(ci)
    rows = []
    for g in _VS:
        if g not in beta:
            continue
        b, s = float(beta[g]), float(se[g])
        rows.append(
            dict(
                outcome=outcome,
                nps_group=g,
                method=method,
                effect=effect,
                estimate=math.exp(b),
                ci_low=math.exp(b - z * s),
                ci_high=math.exp(b + z * s),
                p_value=float(p[g]),
                n=int(n[g]),
            )
        )
    return rows


def _churn_effects(panel: pd.DataFrame, conf: Sequence[str], ci: float) -> list[dict[str, Any]]:
    from lifelines import CoxPHFitter

    if panel["event"].sum() < 10:
        raise CxroiError(f"too few churn events ({int(panel['event'].sum())}) for a Cox model")
    x = _group_dummies(panel, conf)
    data = pd.concat([x, panel[["start", "stop", "event"]]], axis=1)
    cph = CoxPHFitter(penalizer=1e-4, alpha=1 - ci).fit(
        data, duration_col="stop", event_col="event", entry_col="start"
    )
    n = panel.groupby("nps_group")["customer_id"].nunique()
    return _effect_rows(
        "churn",
        "churn hazard ratio vs promoters",
        "cox (time-varying)",
        cph.params_,
        cph.standard_errors_,
        cph.summary["p"],
        n,
        ci,
    )


def _spend_effects(ws, panel, origin, conf, ci) -> list[dict[str, Any]]:
    import statsmodels.api as sm

    tx = ws.table("transactions")
    tx = tx.filter(tx.customer_id.notnull() & (tx.amount > 0))
    tx = tx.mutate(_m=tx.ts.truncate("M"), _y=tx.amount.ln())
    cells = (
        tx.group_by(["customer_id", "_m"]).aggregate(n_tx=tx.count(), sum_log=tx._y.sum())
    ).to_pandas()
    if cells.empty:
        return []
    cells["month"] = _month_index(cells["_m"], origin)
    df = panel.merge(
        cells[["customer_id", "month", "n_tx", "sum_log"]], on=["customer_id", "month"]
    )
    df = df.reset_index(drop=True)
    if len(df) < 10 or df["customer_id"].nunique() < 2:
        raise CxroiError(f"too few customer-months with purchases: {len(df)}")
    x = sm.add_constant(_group_dummies(df, conf), has_constant="add")
    y = df["sum_log"] / df["n_tx"]
    cluster = pd.factorize(df["customer_id"])[0]
    fit = sm.WLS(y, x, weights=df["n_tx"].astype(float)).fit(
        cov_type="cluster", cov_kwds={"groups": cluster}
    )
    n = df.groupby("nps_group")["customer_id"].nunique()
    return _effect_rows(
        "spend",
        "amount per purchase, multiple of promoters'",
        "log-linear regression",
        fit.params,
        fit.bse,
        fit.pvalues,
        n,
        ci,
    )


# --------------------------------------------------------------------------- levers

_DERIVED = {
    "first_response_hours": ("first_response_at", "opened_at"),
    "resolution_hours": ("resolved_at", "opened_at"),
}


def _measure_rows(ws: Any, measure: str) -> tuple[Any, str, str]:
    """``customer_id, _t, _x`` rows of an operational measure, its source noun and name.

    ``first_response_hours`` and ``resolution_hours`` come from ticket timestamps; any other
    numeric column of tickets or events (``tickets.COL`` or ``events.COL`` to say which) is
    taken as it is, dated by the ticket's ``opened_at`` or the event's ``ts``.
    """
    table, _, column = measure.rpartition(".")
    sources = {"tickets": "opened_at", "events": "ts"}
    if table and table not in sources:
        raise CxroiError(f"measure {measure!r}: the table must be tickets or events")
    choices = []
    for name, when in sources.items():
        if table and name != table:
            continue
        t = ws.table(name)
        if name == "tickets" and column in _DERIVED:
            later, earlier = _DERIVED[column]
            x = (t[later].epoch_seconds() - t[earlier].epoch_seconds()) / 3600.0
        elif column in t.columns and t[column].type().is_numeric():
            x = t[column].cast("float64")
        else:
            numeric = [c for c, ty in t.schema().items() if ty.is_numeric()]
            choices += [*(_DERIVED if name == "tickets" else ()), *numeric]
            continue
        rows = t.select(customer_id=t.customer_id, _t=t[when], _x=x)
        rows = rows.filter(rows._x.notnull() & rows.customer_id.notnull())
        if rows.count().execute() == 0:
            raise CxroiError(f"measure {measure!r}: no {name} with a value of {column}")
        return rows, name[:-1], column
    raise CxroiError(
        f"unknown measure {measure!r}; choose {', '.join(dict.fromkeys(choices)) or 'nothing'}"
        " (a numeric column of tickets or events)"
    )


def _design(df: pd.DataFrame, confounders: Sequence[str]) -> pd.DataFrame:
    parts = []
    for c in confounders:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col):
            parts.append(col.astype(float).fillna(col.mean()).rename(c))
        else:
            d = pd.get_dummies(col.astype(str), prefix=c, drop_first=True, dtype=float)
            parts.append(d)
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)


def _month_index(values: pd.Series, origin: pd.Period) -> np.ndarray:
    """Calendar months since ``origin`` of each date or timestamp."""
    ts = pd.to_datetime(values)
    return ((ts.dt.year - origin.year) * 12 + (ts.dt.month - origin.month)).to_numpy(np.int64)


def _month_panel(
    ws: Any, survey: str | None, columns: Sequence[str] = (), max_age: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Period]:
    """Customer-month panel of the ledger's exposure, with the NPS group so far.

    One row per customer and calendar month from the customer's ``entry`` to ``exit``:
    ``month`` (index from the first entry month), ``event`` (churned in that month),
    ``nps`` (latest score of a response in that month or before) and ``nps_group``
    (``unknown`` before the first response, or once the latest response is more than
    ``max_age`` months old), plus the ledger ``columns``. The responses are
    reduced to one score per customer-month in the engine.
    """
    led = ledger_frame(ws, survey=survey)
    missing = [c for c in columns if c not in led.columns]
    if missing:
        raise CxroiError(
            f"column(s) not found among the customers' attributes: {', '.join(missing)}"
        )
    rs = ws.table("responses")
    rs = rs.filter(rs.customer_id.notnull() & rs.nps.notnull())
    if survey is not None:
        rs = rs.filter(rs.survey == survey)
    rs_m = (
        rs.mutate(_m=rs.ts.truncate("M"))
        .group_by(["customer_id", "_m"])
        .aggregate(nps=rs.nps.argmax(rs.ts))
        .to_pandas()
    )
    origin = pd.Timestamp(led["entry"].min()).to_period("M")
    first = _month_index(led["entry"], origin)
    last = _month_index(led["exit"], origin)
    counts = np.maximum(last - first + 1, 0)
    idx = np.repeat(np.arange(len(led)), counts)
    month = np.arange(idx.size) - np.repeat(np.cumsum(counts) - counts, counts) + first[idx]
    panel = pd.DataFrame({"customer_id": led["customer_id"].to_numpy()[idx], "month": month})
    panel["event"] = ((led["churned"].to_numpy()[idx] == 1) & (month == last[idx])).astype(int)
    rs_m["month"] = _month_index(rs_m["_m"], origin)
    panel = panel.merge(
        rs_m[["customer_id", "month", "nps"]], on=["customer_id", "month"], how="left"
    )
    panel = panel.sort_values(["customer_id", "month"], ignore_index=True)
    if max_age is not None:
        panel["_seen"] = panel["month"].where(panel["nps"].notna())
        panel[["nps", "_seen"]] = panel.groupby("customer_id")[["nps", "_seen"]].ffill()
        panel.loc[panel["month"] - panel["_seen"] > max_age, "nps"] = np.nan
        panel = panel.drop(columns="_seen")
    else:
        panel["nps"] = panel.groupby("customer_id")["nps"].ffill()
    panel["nps_group"] = np.select(
        [panel.nps >= 9, panel.nps >= 7, panel.nps >= 0],
        ["promoter", "passive", "detractor"],
        "unknown",
    )
    cols = list(dict.fromkeys(["customer_id", *columns]))
    panel = panel.merge(led[cols], on="customer_id", how="left")
    panel["start"], panel["stop"] = panel["month"].astype(float), panel["month"] + 1.0
    return panel, led, origin


def _churn_panel(
    ws: Any,
    measure: str,
    threshold: float | None,
    survey: str | None,
    confounders: Sequence[str] | None = None,
):
    """Customer-month panel: at risk in month m, event, lagged measure, NPS group so far."""
    rows, noun, name = _measure_rows(ws, measure)
    rows = rows.mutate(_m=rows._t.truncate("M"))
    by_month = (
        rows.group_by(["customer_id", "_m"])
        .aggregate(x_max=rows._x.max(), n_t=rows.count())
        .to_pandas()
    )
    std = ("plan", "region", "tenure_years", "exposure_years")
    panel, led, origin = _month_panel(ws, survey, ())
    conf = _default_confounders(led.columns, confounders)
    extra = list(dict.fromkeys([c for c in std if c in led.columns] + conf))
    panel = panel.merge(led[["customer_id", *extra]], on="customer_id", how="left")
    by_month["month"] = _month_index(by_month["_m"], origin) + 1  # acts on the next month
    panel = panel.merge(
        by_month[["customer_id", "month", "x_max", "n_t"]],
        on=["customer_id", "month"],
        how="left",
    )
    panel["measured_prev"] = panel["n_t"].notna().astype(float)
    if threshold is not None:
        panel["treat"] = (panel["x_max"] > threshold).astype(float)
    else:
        panel["treat"] = panel["x_max"].fillna(0.0)
    total = by_month.groupby("customer_id")["n_t"].sum()
    rate = panel["customer_id"].map(total).fillna(0.0) / panel["exposure_years"]
    panel[f"{noun}s_per_year"] = rate.replace([np.inf, -np.inf], 0.0)
    panel.attrs.update(noun=noun, name=name)
    return panel, led, conf


def lever(
    ws: Any,
    measure: str = "first_response_hours",
    *,
    outcome: str = "churn",
    threshold: float | None = None,
    confounders: Sequence[str] | None = None,
    change: tuple[float, float] | None = None,
    survey: str | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Association of an operational measure with churn, spend or NPS, adjusted.

    ``churn``: Cox proportional hazards on the customer-month panel (counting-process form,
    lifelines ``CoxPHFitter`` with ``entry_col``): the hazard of churning in month :math:`m`
    against the measure's worst ticket (or event) in month :math:`m-1` (a flag
    ``> threshold``, or the value), adjusted for having had a measured ticket, the NPS group so
    far, the customer's rate of measured tickets and the confounders.
    ``spend`` / ``nps``: per-customer regression (OLS, HC1 errors) of spend per year / latest
    NPS on the customer's median measure and the confounders; with a ``threshold``, also the
    doubly robust (AIPW) difference between customers above and below it.

    Parameters
    ----------
    ws
        The workspace.
    measure
        ``first_response_hours``, ``resolution_hours`` or any numeric column of tickets or
        events (say ``events.delay_days``, or just ``delay_days``: tickets are searched first).
    outcome
        ``churn``, ``spend`` or ``nps``.
    threshold
        Compare measure above ``threshold`` with below; default a linear effect.
    confounders
        Ledger columns to adjust for; default ``plan``, ``region``, ``tenure_years`` (those
        present).
    change
        ``(from, to)`` values of the measure for the reading; default its 75th and 25th
        percentiles.

    Returns
    -------
    pandas.DataFrame
        One row per estimate: ``outcome``, ``method``, ``effect`` (what is estimated),
        ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, ``n``, ``reading``.
    """
    if outcome not in ("churn", "spend", "nps"):
        raise CxroiError(f"unknown outcome {outcome!r}; choose churn, spend or nps")
    if outcome == "churn":
        return _lever_churn(ws, measure, threshold, confounders, change, survey, ci)
    return _lever_customer(ws, measure, outcome, threshold, confounders, change, survey, ci)


def _default_confounders(cols: Sequence[str], confounders: Sequence[str] | None) -> list[str]:
    if confounders is None:
        return [c for c in ("plan", "region", "tenure_years") if c in cols]
    missing = [c for c in confounders if c not in cols]
    if missing:
        raise CxroiError(f"confounder column(s) not found: {', '.join(missing)}")
    return list(confounders)


def _change(values: pd.Series, change: tuple[float, float] | None) -> tuple[float, float]:
    if change is not None:
        return float(change[0]), float(change[1])
    v = values.dropna()
    return float(v.quantile(0.75)), float(v.quantile(0.25))


def _lever_churn(ws, measure, threshold, confounders, change, survey, ci) -> pd.DataFrame:
    from lifelines import CoxPHFitter

    panel, led, conf = _churn_panel(ws, measure, threshold, survey, confounders)
    if panel["event"].sum() < 10:
        raise CxroiError(f"too few churn events ({int(panel['event'].sum())}) for a Cox model")
    noun, name = panel.attrs["noun"], panel.attrs["name"]
    x = pd.concat(
        [
            panel[["treat", "measured_prev", f"{noun}s_per_year"]],
            _design(panel, ["nps_group", *conf]),
        ],
        axis=1,
    )
    x = x.loc[:, x.std() > 0]
    if "treat" not in x:
        raise CxroiError(
            f"{name} is the same in every month after a measured {noun}"
            + (f" (all on one side of {threshold:g})" if threshold is not None else "")
            + "; there is nothing to compare"
        )
    data = pd.concat([x, panel[["start", "stop", "event"]]], axis=1)
    cph = CoxPHFitter(penalizer=1e-4, alpha=1 - ci).fit(
        data, duration_col="stop", event_col="event", entry_col="start"
    )
    beta = float(cph.params_["treat"])
    se = float(cph.standard_errors_["treat"])
    z = _z(ci)
    p = float(cph.summary.loc["treat", "p"])
    article = "an" if noun[0] in "aeiou" else "a"
    adj = ", ".join([f"having {article} {noun}", "NPS group so far", f"{noun} rate", *conf])
    what = name.replace("_", " ")
    if threshold is not None:
        hr, lo, hi = math.exp(beta), math.exp(beta - z * se), math.exp(beta + z * se)
        effect = f"hazard ratio, {name} > {threshold:g} in the previous month"
        reading = (
            f"{article.capitalize()} {noun} with {what} over {threshold:g} is associated with a "
            f"churn hazard {hr:.2f} times as high the next month ({ci:.0%} CI {lo:.2f}-{hi:.2f}),"
            f" adjusted for {adj}."
        )
    else:
        a, b = _change(panel.loc[panel.measured_prev == 1, "treat"], change)
        d = b - a
        hr, lo, hi = (
            math.exp(beta * d),
            *sorted((math.exp((beta - z * se) * d), math.exp((beta + z * se) * d))),
        )
        effect = f"hazard ratio, {name} {a:.3g} -> {b:.3g}"
        reading = (
            f"Cutting {what} from {a:.3g} to {b:.3g} is associated with a "
            f"churn hazard {hr:.2f} times as high ({ci:.0%} CI {lo:.2f}-{hi:.2f}), "
            f"adjusted for {adj}."
        )
    row = dict(
        outcome="churn",
        method="cox (time-varying)",
        effect=effect,
        estimate=hr,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        n=int(led.shape[0]),
        reading=reading,
    )
    return pd.DataFrame([row])


def _z(ci: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + ci / 2))


def _lever_customer(ws, measure, outcome, threshold, confounders, change, survey, ci):
    import statsmodels.api as sm
    from scipy import stats

    led = ledger_frame(ws, survey=survey)
    measured, noun, measure = _measure_rows(ws, measure)
    per = measured.group_by("customer_id").aggregate(treat=measured._x.median()).to_pandas()
    df = led.merge(per, on="customer_id", how="inner")
    if outcome == "spend":
        df["y"] = df["spend"] / df["exposure_years"]
        label, unit = "spend per year", ""
    else:
        df["y"] = df["nps_latest"]
        label, unit = "NPS score", " points"
    df = df[df["y"].notna() & df["treat"].notna()]
    conf = _default_confounders(led.columns, confounders)
    if len(df) < 10 + len(conf):
        raise CxroiError(f"too few customers with {noun}s and an outcome: {len(df)}")
    xc = _design(df, conf)
    z = _z(ci)
    adj = ", ".join(conf) or "nothing"
    what = measure.replace("_", " ")

    def row(method: str, effect: str, est: float, se: float, lead: str) -> dict[str, Any]:
        lo, hi = est - z * se, est + z * se
        return dict(
            outcome=outcome, method=method, effect=effect, estimate=est, ci_low=lo, ci_high=hi,
            p_value=float(2 * stats.norm.sf(abs(est / se))), n=len(df),
            reading=f"{lead} a {label} {est:+.2f}{unit} different ({ci:.0%} CI {lo:+.2f} to "
            f"{hi:+.2f}), adjusted for {adj}",
        )  # fmt: skip

    if threshold is None:
        a, b = _change(df["treat"], change)
        x = sm.add_constant(pd.concat([df["treat"], xc], axis=1), has_constant="add")
        fit = sm.OLS(df["y"], x).fit(cov_type="HC1")
        d = b - a
        r = row("regression adjustment", f"difference, {measure} {a:.3g} -> {b:.3g}",
                float(fit.params["treat"]) * d, abs(float(fit.bse["treat"]) * d),
                f"Cutting {what} from {a:.3g} to {b:.3g} is associated with")  # fmt: skip
        r["reading"] += "."
        return pd.DataFrame([r])
    t = (df["treat"] > threshold).astype(float)
    x = sm.add_constant(pd.concat([t.rename("treat"), xc], axis=1), has_constant="add")
    fit = sm.OLS(df["y"], x).fit(cov_type="HC1")
    effect = f"difference, {measure} > {threshold:g} vs below"
    lead = f"Customers whose median {what} is over {threshold:g} have"
    est, se = _aipw(df["y"].to_numpy(float), t.to_numpy(), xc.to_numpy(float))
    rows = [
        row("regression adjustment", effect, float(fit.params["treat"]),
            float(fit.bse["treat"]), lead),
        row("doubly robust (AIPW)", effect, est, se, lead),
    ]  # fmt: skip
    for r in rows:
        r["reading"] += f" ({r['method']})."
    return pd.DataFrame(rows)


def _aipw(y: np.ndarray, t: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Augmented inverse-probability-weighted average treatment effect and its standard error.

    .. math::

        \\hat\\tau = \\frac1n \\sum_i \\hat\\mu_1(x_i) - \\hat\\mu_0(x_i)
        + \\frac{t_i (y_i - \\hat\\mu_1(x_i))}{\\hat e(x_i)}
        - \\frac{(1 - t_i)(y_i - \\hat\\mu_0(x_i))}{1 - \\hat e(x_i)}
    """
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if t.min() == t.max():
        raise CxroiError("every customer is on the same side of the threshold; pick another")
    xs = x if x.shape[1] else np.zeros((len(y), 1))
    e = LogisticRegression(max_iter=1000).fit(xs, t).predict_proba(xs)[:, 1]
    e = np.clip(e, 0.01, 0.99)
    mu1 = LinearRegression().fit(xs[t == 1], y[t == 1]).predict(xs)
    mu0 = LinearRegression().fit(xs[t == 0], y[t == 0]).predict(xs)
    psi = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
    return float(psi.mean()), float(psi.std(ddof=1) / math.sqrt(len(y)))


# --------------------------------------------------------------------------- workspace drivers


THEME_PREFIX = "theme:"
TOUCHPOINT_PREFIX = "touchpoint:"


def response_drivers(
    ws: Any,
    *,
    target: str = "nps",
    drivers: Sequence[str] | None = None,
    by: str | None = None,
    method: str = "relative_weights",
    survey: str | None = None,
    dropna: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Key driver analysis of survey responses in a workspace.

    The target, the drivers and the group column may be

    - columns of the responses (``nps``, ``csat``, ``rating_*``, ``touchpoint``, ...);
    - columns of the customer ledger (:func:`cxroi.models.ledger.customer_ledger`): customer
      attributes (``plan``, ``region``, ...), operational measures (``first_response_hours``,
      ``resolution_hours``, ``tickets``, ``support_cost``) and behaviour (``churned`` as the
      target gives the drivers of the likelihood to churn, ``spend``), joined to each response
      by its customer;
    - ``touchpoint:NAME`` (or ``touchpoint:NAME:SCORE``): the customer's mean CSAT (or
      ``nps``/``ces``) over all responses given at touchpoint NAME, whichever survey asked;
    - ``theme:NAME``: 1 when the response's comment mentions the theme, else 0, from the
      workspace's theme model (``cxroi themes``); only commented responses are analysed then.

    Parameters
    ----------
    ws
        The workspace.
    target
        Column to explain (default ``nps``).
    drivers
        Driver columns; default every ``rating_*`` column of the responses.
    by
        Optional group column.
    survey
        Only responses of this survey (it also picks the NPS of the ledger's NPS columns).
    dropna
        Drop responses missing the target or a driver (else a missing value is an error).

    Returns
    -------
    pandas.DataFrame
        :func:`cxroi.models.drivers.key_drivers`.
    """
    from cxroi.models.drivers import key_drivers
    from cxroi.models.ledger import customer_ledger

    rs = ws.table("responses")
    if survey is not None:
        rs = rs.filter(rs.survey == survey)
    if drivers is None:
        drivers = [c for c in rs.columns if c.startswith("rating_")]
        if not drivers:
            raise CxroiError("responses have no rating_* columns; name the drivers")
    drivers = list(drivers)
    wanted = list(dict.fromkeys(c for c in [target, *drivers, by] if c is not None))
    themes = [c for c in wanted if c.startswith(THEME_PREFIX)]
    for col in (c for c in wanted if c.startswith(TOUCHPOINT_PREFIX)):
        rs = rs.left_join(_touchpoint_score(ws, col), "customer_id").drop("customer_id_right")
    outside = [c for c in wanted if c not in rs.columns and c not in themes]
    if outside:
        led = customer_ledger(ws, survey=survey)
        unknown = [c for c in outside if c not in led.columns]
        if unknown:
            raise CxroiError(
                f"column(s) not found in responses or the customer ledger: {', '.join(unknown)}"
                f"; the ledger has {', '.join(c for c in led.columns if c != 'customer_id')}"
            )
        rs = rs.left_join(led.select("customer_id", *outside), "customer_id")
    cols = [c for c in wanted if c not in themes]
    data: Any = rs.select(*cols)
    if themes:
        data = _with_theme_mentions(ws, rs, cols, themes)
    elif by is not None:
        data = data.to_pandas()
    return key_drivers(
        data, target, drivers, by=by, method=method, dropna=dropna, min_n=ws.settings.min_n,
        **options,
    )  # fmt: skip


def _touchpoint_score(ws: Any, col: str) -> Any:
    """Per customer: mean score at one touchpoint, as column ``col`` (``touchpoint:NAME[:S]``)."""
    name, _, score = col[len(TOUCHPOINT_PREFIX) :].partition(":")
    score = score or "csat"
    if score not in ("nps", "csat", "ces"):
        raise CxroiError(f"{col!r}: the score must be nps, csat or ces, not {score!r}")
    all_rs = ws.table("responses")
    known = all_rs.select("touchpoint").distinct().to_pandas()["touchpoint"].dropna()
    if name not in set(known):
        raise CxroiError(
            f"{col!r}: no touchpoint {name!r}; touchpoints: {', '.join(sorted(known))}"
        )
    at = all_rs.filter((all_rs.touchpoint == name) & all_rs[score].notnull())
    return at.group_by("customer_id").aggregate(**{col: at[score].cast("float64").mean()})


def _with_theme_mentions(ws: Any, rs: Any, cols: list[str], themes: list[str]) -> pd.DataFrame:
    """Commented responses' ``cols`` plus a 0/1 column per ``theme:NAME``."""
    from cxroi.text.impact import workspace_theme_model

    model = workspace_theme_model(ws)
    rs = rs.filter(rs.comment.notnull())
    frame = rs.select(*cols, "comment").to_pandas()
    if frame.empty:
        raise CxroiError("theme drivers need commented responses; none are in scope")
    assignment = model.transform(list(frame.pop("comment")))
    names = list(assignment.names)
    for col in themes:
        name = col[len(THEME_PREFIX) :]
        if name not in names:
            raise CxroiError(f"no theme {name!r}; themes: {', '.join(names)}")
        frame[col] = (assignment.confidence[:, names.index(name)] > 0).astype(float)
    return frame
