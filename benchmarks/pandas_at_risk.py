"""What a data person would write without cxroi: churn risk in pandas and scikit-learn.

The raw tables are read from Parquet into pandas; for each of the three days (two horizons
before the last day, one before, the last day) the per-customer features are built with
boolean filters and ``groupby`` (tenure, open contract value, recent purchases and spend,
recency, recent tickets and slow first responses, support cost, visits, the latest NPS, CSAT
and CES with missing indicators, plan, region and city one-hot); a scikit-learn
``LogisticRegression`` is fitted on the first day's customers and the churn that followed,
checked on the second (AUC), refitted there and scores the customers active on the last day.
The same out-of-time design as ``cxroi at-risk``, without its reasons, intervals, CLV or
calibration.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

TABLES = ("customers", "contracts", "transactions", "tickets", "responses", "events")


def read(directory: Path) -> dict[str, pd.DataFrame]:
    cols = {
        "customers": None,
        "contracts": ["customer_id", "start_date", "end_date", "value"],
        "transactions": ["customer_id", "ts", "amount"],
        "tickets": ["customer_id", "opened_at", "first_response_at", "cost"],
        "responses": ["customer_id", "ts", "nps", "csat", "ces"],
        "events": ["customer_id", "ts"],
    }
    return {t: pd.read_parquet(directory / f"{t}.parquet", columns=cols[t]) for t in TABLES}


def features(f: dict[str, pd.DataFrame], day: dt.date, recent: int = 90) -> pd.DataFrame:
    end = pd.Timestamp(day) + pd.Timedelta(days=1)
    since = end - pd.Timedelta(days=recent)
    c = f["contracts"]
    c = c[pd.to_datetime(c["start_date"]) < end]
    is_open = c["end_date"].isna() | (pd.to_datetime(c["end_date"]) >= end)
    cg = c.assign(open=is_open, open_value=np.where(is_open, c["value"], 0.0)).groupby(
        "customer_id"
    )
    out = pd.DataFrame(
        {
            "start": cg["start_date"].min(),
            "contracts": cg.size(),
            "open": cg["open"].sum(),
            "contract_value": cg["open_value"].sum(),
        }
    )
    out = out[out["open"] > 0]
    out["tenure"] = (end - pd.to_datetime(out["start"])).dt.days
    tx = f["transactions"]
    tx = tx[tx["ts"] < end]
    g = tx.groupby("customer_id")
    out["spend"] = g["amount"].sum()
    out["recency"] = (end - g["ts"].max()).dt.days
    r = tx[tx["ts"] >= since].groupby("customer_id")["amount"]
    out["purchases_recent"], out["spend_recent"] = r.size(), r.sum()
    tk = f["tickets"]
    tk = tk[tk["opened_at"] < end]
    out["support_cost"] = tk.groupby("customer_id")["cost"].sum()
    rk = tk[tk["opened_at"] >= since]
    hours = (rk["first_response_at"] - rk["opened_at"]).dt.total_seconds() / 3600
    out["tickets_recent"] = rk.groupby("customer_id").size()
    out["slow_recent"] = rk[hours > 24].groupby("customer_id").size()
    ev = f["events"]
    out["visits_recent"] = ev[(ev["ts"] < end) & (ev["ts"] >= since)].groupby("customer_id").size()
    rs = f["responses"]
    rs = rs[rs["ts"] < end].sort_values("ts")
    for score in ("nps", "csat", "ces"):
        last = rs.dropna(subset=[score]).groupby("customer_id")[score].last()
        out[f"{score}_last"] = last
    for col in ("spend", "purchases_recent", "spend_recent", "support_cost", "tickets_recent",
                "slow_recent", "visits_recent"):  # fmt: skip
        out[col] = out[col].fillna(0)
    out["recency"] = out["recency"].fillna(out["tenure"])
    cust = f["customers"].set_index("customer_id")
    out = out.join(cust[["plan", "region", "city", "age"]], how="left")
    return out


def design(x: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    num = x.drop(columns=["start", "open", "plan", "region", "city"]).astype(float)
    for col in ("nps_last", "csat_last", "ces_last"):
        num[f"{col}_missing"] = num[col].isna().astype(float)
        num[col] = num[col].fillna(num[col].mean())
    d = pd.concat([num, pd.get_dummies(x[["plan", "region", "city"]], dtype=float)], axis=1)
    return d if columns is None else d.reindex(columns=columns, fill_value=0.0)


def pandas_at_risk(directory: Path, last: dt.date, horizon: int = 90) -> dict[str, float]:
    f = read(directory)
    h = dt.timedelta(days=horizon)
    now, mid, early = (features(f, d) for d in (last, last - h, last - 2 * h))
    y_early = (~early.index.isin(mid.index)).astype(float)
    y_mid = (~mid.index.isin(now.index)).astype(float)
    xe = design(early)
    scaler = StandardScaler().fit(xe)
    m = LogisticRegression(max_iter=1000).fit(scaler.transform(xe), y_early)
    auc = roc_auc_score(
        y_mid, m.predict_proba(scaler.transform(design(mid, list(xe.columns))))[:, 1]
    )
    xm = design(mid)
    scaler = StandardScaler().fit(xm)
    m = LogisticRegression(max_iter=1000).fit(scaler.transform(xm), y_mid)
    p = m.predict_proba(scaler.transform(design(now, list(xm.columns))))[:, 1]
    return {"auc": float(auc), "scored": float(len(p)), "mean_p": float(p.mean())}
