"""An idiomatic pandas implementation of the scorecard: the reference and the speed baseline.

Written independently of :mod:`cxroi.metrics.scorecard` (plain pandas merges, ``groupby`` and a
loop over period starts, formulas restated from DESIGN.md), so that
``tests/metrics/test_scorecard.py`` can check every number of the engine scorecard against it
and ``bench_scorecard.py`` can time the same numbers the way an analyst would compute them in
pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

Z = stats.norm.ppf(0.975)
KEY = "group"


def _wilson(k: pd.Series, n: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    p = k / n
    d = 1 + Z**2 / n
    c = (p + Z**2 / (2 * n)) / d
    h = Z * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / d
    return p, (c - h).clip(0, 1), (c + h).clip(0, 1)


def _t_interval(x: pd.core.groupby.SeriesGroupBy) -> pd.DataFrame:
    m, s, n = x.mean(), x.std(ddof=1), x.count()
    t = pd.Series(stats.t.ppf(0.975, np.maximum(n - 1, 1)), index=n.index)
    h = (t * s / np.sqrt(n)).where(n > 1)
    return pd.DataFrame({"value": m, "n": n, "ci_low": m - h, "ci_high": m + h})


def _long(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    out = df.reset_index()
    out["metric"] = metric
    for c in ("ci_low", "ci_high"):
        if c not in out:
            out[c] = np.nan
    return out[["period", KEY, "metric", "value", "n", "ci_low", "ci_high"]]


def pandas_scorecard(
    tables: dict[str, pd.DataFrame],
    *,
    by: str | None,
    first: str,
    last: str,
    annual_discount: float = 0.10,
    distinct_buyers: bool = True,
) -> pd.DataFrame:
    """Monthly scorecard of every metric, by one customer attribute (or overall).

    Parameters
    ----------
    tables
        Canonical tables as pandas frames (customers, responses, transactions, contracts,
        tickets).
    by
        A customer attribute, or ``None`` for one overall group (labelled ``"all"``).
    first, last
        First and last month, ``YYYY-MM``.
    distinct_buyers
        Also count distinct buying customers (off in the benchmark, as in the scorecard's
        default metrics).

    Returns
    -------
    pandas.DataFrame
        ``period`` (``YYYY-MM``), ``group``, ``metric``, ``value``, ``n``, ``ci_low``,
        ``ci_high``; only rows where the metric is defined.
    """
    months = pd.period_range(first, last, freq="M")
    cust = tables["customers"][["customer_id"]].copy()
    cust[KEY] = tables["customers"][by].astype(str) if by else "all"

    def with_group(df: pd.DataFrame, ts: str) -> pd.DataFrame:
        df = df.merge(cust, on="customer_id", how="left")
        df[KEY] = df[KEY].fillna("(missing)")
        df["period"] = pd.to_datetime(df[ts]).dt.to_period("M")
        return df[df["period"].between(months[0], months[-1])]

    parts = []
    # Perception.
    r = with_group(tables["responses"], "ts")
    g = r.groupby(["period", KEY])
    n = g["nps"].count()
    prom = r.assign(x=r["nps"] >= 9).groupby(["period", KEY])["x"].sum()
    det = r.assign(x=r["nps"] <= 6).groupby(["period", KEY])["x"].sum()
    pa, da = (prom + 0.75) / (n + 3), (det + 0.75) / (n + 3)
    se = np.sqrt((pa + da - (pa - da) ** 2) / (n + 3))
    nps = pd.DataFrame(
        {
            "value": 100 * (prom - det) / n,
            "n": n,
            "ci_low": (100 * (pa - da - Z * se)).clip(-100, 100),  # clipped to the scale
            "ci_high": (100 * (pa - da + Z * se)).clip(-100, 100),
        }
    )
    parts.append(_long(nps[n > 0], "nps"))
    for col, top, metric in (("csat", 4, "csat"), ("ces", 5, "ces_5_7")):
        n = g[col].count()
        k = r.assign(x=r[col] >= top).groupby(["period", KEY])["x"].sum()
        p, lo, hi = _wilson(k, n)
        df = pd.DataFrame({"value": 100 * p, "n": n, "ci_low": 100 * lo, "ci_high": 100 * hi})
        parts.append(_long(df[n > 0], metric))
    ces = _t_interval(r.dropna(subset=["ces"]).groupby(["period", KEY])["ces"])
    ces[["ci_low", "ci_high"]] = ces[["ci_low", "ci_high"]].clip(1, 7)
    parts.append(_long(ces, "ces"))

    # Transactions.
    t = with_group(tables["transactions"], "ts")
    g = t.groupby(["period", KEY])
    rev = g["amount"].sum()
    cnt = g["amount"].size()
    parts.append(_long(pd.DataFrame({"value": rev, "n": cnt}), "revenue"))
    parts.append(_long(pd.DataFrame({"value": cnt, "n": cnt}), "transactions"))
    if distinct_buyers:
        parts.append(
            _long(pd.DataFrame({"value": g["customer_id"].nunique(), "n": cnt}), "buying_customers")
        )
    parts.append(_long(_t_interval(g["amount"]), "avg_transaction"))

    # Tickets.
    tk = with_group(tables["tickets"], "opened_at")
    g = tk.groupby(["period", KEY])
    tickets, cost = g.size(), g["cost"].sum()
    parts.append(_long(pd.DataFrame({"value": tickets, "n": tickets}), "tickets"))
    parts.append(_long(pd.DataFrame({"value": cost, "n": tickets}), "support_cost"))
    parts.append(
        _long(
            _t_interval(tk.dropna(subset=["cost"]).groupby(["period", KEY])["cost"]),
            "support_cost_per_ticket",
        )
    )

    # Contracts: merge each customer's overlapping or touching contracts into spells.
    c = tables["contracts"].copy()
    c["start"] = pd.to_datetime(c["start_date"])
    c["end"] = pd.to_datetime(c["end_date"]).fillna(pd.Timestamp("2262-01-01"))
    c = c.sort_values(["customer_id", "start", "end"])
    prev_end = c.groupby("customer_id")["end"].cummax().groupby(c["customer_id"]).shift()
    c["spell"] = (prev_end.isna() | (c["start"] > prev_end)).groupby(c["customer_id"]).cumsum()
    spells = c.groupby(["customer_id", "spell"]).agg(start=("start", "min"), end=("end", "max"))
    spells = spells.reset_index().merge(cust, on="customer_id", how="left")
    spells[KEY] = spells[KEY].fillna("(missing)")
    rows = []
    for m in months:
        t0, t1 = m.start_time, (m + 1).start_time
        on = spells[(spells["start"] <= t0) & (spells["end"] > t0)]
        gone = on[on["end"] <= t1]
        rows.append(
            pd.DataFrame(
                {"active": on.groupby(KEY).size(), "lost": gone.groupby(KEY).size()}
            ).assign(period=m)
        )
    flow = pd.concat(rows).fillna(0).reset_index(names=KEY).set_index(["period", KEY])
    act, lost = flow["active"], flow["lost"]
    parts.append(_long(pd.DataFrame({"value": act, "n": act}), "active_customers"))
    parts.append(_long(pd.DataFrame({"value": lost, "n": act}), "lost_customers"))
    p, lo, hi = _wilson(lost, act)
    churn = pd.DataFrame({"value": 100 * p, "n": act, "ci_low": 100 * lo, "ci_high": 100 * hi})
    parts.append(_long(churn[act > 0], "churn_rate"))
    cs = with_group(tables["contracts"], "start_date")
    signed = cs.groupby(["period", KEY]).agg(value=("value", "sum"), n=("value", "size"))
    parts.append(_long(signed, "contract_value_signed"))
    firsts = tables["contracts"].groupby("customer_id", as_index=False)["start_date"].min()
    new = with_group(firsts, "start_date").groupby(["period", KEY]).size()
    parts.append(_long(pd.DataFrame({"value": new, "n": new}), "new_customers"))
    acv = pd.DataFrame({"value": signed["value"] / new, "n": new}).dropna()
    parts.append(_long(acv, "avg_contract_value"))

    # Per active customer and CLV.
    both = flow.join(rev.rename("revenue"), how="left").join(cost.rename("cost"), how="left")
    both = both.fillna({"revenue": 0.0, "cost": 0.0})
    both = both[both["active"] > 0]
    arpu = both["revenue"] / both["active"]
    parts.append(_long(pd.DataFrame({"value": arpu, "n": both["active"]}), "revenue_per_customer"))
    parts.append(
        _long(
            pd.DataFrame({"value": both["cost"] / both["active"], "n": both["active"]}),
            "support_cost_per_customer",
        )
    )
    ch = churn.loc[both.index]
    i = (1 + annual_discount) ** (1 / 12) - 1

    def ret(r: pd.Series) -> pd.Series:
        return arpu * r / (1 + i - r)

    clv = pd.DataFrame(
        {
            "value": arpu / (ch["value"] / 100),
            "n": both["active"],
            "ci_low": arpu / (ch["ci_high"] / 100),
            "ci_high": arpu / (ch["ci_low"] / 100),
        }
    )
    clv = clv[ch["value"] > 0]
    parts.append(_long(clv, "clv_simple"))
    cr = pd.DataFrame(
        {
            "value": ret(1 - ch["value"] / 100),
            "n": both["active"],
            "ci_low": ret(1 - ch["ci_high"] / 100),
            "ci_high": ret(1 - ch["ci_low"] / 100),
        }
    )
    parts.append(_long(cr, "clv_retention"))

    out = pd.concat(parts, ignore_index=True)
    out["period"] = out["period"].astype(str)
    out[KEY] = out[KEY].astype(str)
    out["n"] = out["n"].astype("int64")
    return out.sort_values(["period", KEY, "metric"]).reset_index(drop=True)
