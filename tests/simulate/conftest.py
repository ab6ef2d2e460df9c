"""Shared simulated companies for the simulator tests (built once per session)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.simulate import Company, generate

N_CUSTOMERS = 20_000
MONTHS = 24


@pytest.fixture(scope="session")
def company() -> Company:
    return generate(customers=N_CUSTOMERS, months=MONTHS, seed=7, start="2024-01-01")


@pytest.fixture(scope="session")
def frames(company: Company) -> dict[str, pd.DataFrame]:
    """The raw tables as pandas frames, plus the latent archetype of each customer."""
    out = {name: t.to_pandas() for name, t in company.tables.items()}
    out["archetypes"] = company.archetypes.to_pandas()
    out["comment_themes"] = company.comment_themes.to_pandas()
    return out


def month_index(ts: pd.Series, start: str) -> np.ndarray:
    """Calendar-month index of each timestamp/date relative to the month of ``start``."""
    t = pd.to_datetime(ts)
    s = pd.Timestamp(start)
    return ((t.dt.year - s.year) * 12 + (t.dt.month - s.month)).to_numpy()


@pytest.fixture(scope="session")
def panel(company: Company, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per customer-month at risk of churn, built from raw rows only.

    Columns: customer_id, month, churn (0/1), slow_prev (a ticket with a first response over
    the threshold opened in the previous month), archetype, treated (some initiative targeting
    the customer had launched), and the customer's segment columns.
    """
    truth = company.truth
    start, months = truth["generator"]["start"], truth["generator"]["months"]
    cust = frames["customers"].merge(frames["archetypes"], on="customer_id")
    con = frames["contracts"]
    ended = con.groupby("customer_id")["end_date"].agg(lambda s: s.notna().all())
    last_end = con.groupby("customer_id")["end_date"].max()
    churn_month = pd.Series(months, index=ended.index, dtype=np.int64)
    churned = ended[ended].index
    churn_month[churned] = month_index(last_end[churned].astype("datetime64[ns]"), start)
    cust["churn_month"] = cust["customer_id"].map(churn_month).to_numpy()
    signup_m = month_index(cust["signup_date"].astype("datetime64[ns]"), start)
    cust["first_risk"] = np.maximum(signup_m + 1, 0)

    m = np.arange(months)
    rows = cust.loc[cust.index.repeat(months)].reset_index(drop=True)
    rows["month"] = np.tile(m, len(cust))
    rows = rows[(rows["month"] >= rows["first_risk"]) & (rows["month"] <= rows["churn_month"])]
    rows = rows.assign(churn=(rows["month"] == rows["churn_month"]).astype(int))

    t = frames["tickets"]
    hours = (t["first_response_at"] - t["opened_at"]).dt.total_seconds() / 3600
    slow = t[hours > truth["slow_response_threshold_hours"]]
    slow_cells = pd.DataFrame(
        {"customer_id": slow["customer_id"], "month": month_index(slow["opened_at"], start) + 1}
    ).drop_duplicates()
    slow_cells["slow_prev"] = 1
    rows = rows.merge(slow_cells, on=["customer_id", "month"], how="left")
    rows["slow_prev"] = rows["slow_prev"].fillna(0).astype(int)

    inits = frames["initiatives"]
    rows["treated"] = False
    for _, ini in inits.iterrows():
        target = set(cust.query(ini["target"])["customer_id"])
        launch = month_index(pd.Series([ini["start_date"]]).astype("datetime64[ns]"), start)[0]
        rows["treated"] |= rows["customer_id"].isin(target) & (rows["month"] >= launch)
    return rows.reset_index(drop=True)
