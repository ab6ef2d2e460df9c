"""Workspaces the perception, effects, levers and drivers tests share (plain factories)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxroi.store import Workspace


def tiny_workspace(directory: Path) -> Workspace:
    """Two customers by hand: ``a`` (basic, active since 2023-06-01, NPS 5 then 9, tickets
    answered in 2 h and 6 h) and ``b`` (pro, 2024-03-01 to 2024-07-01, NPS 3, one ticket
    answered in 24 h); the data cover 2024-01-01 to 2024-12-31."""
    ws = Workspace.init(directory)
    ws.ingest(
        "customers",
        pd.DataFrame(
            {
                "customer_id": ["a", "b"],
                "signup_date": pd.to_datetime(["2023-06-01", "2024-03-01"]),
                "plan": ["basic", "pro"],
            }
        ),
    )
    ws.ingest(
        "contracts",
        pd.DataFrame(
            {
                "contract_id": ["k1", "k2"],
                "customer_id": ["a", "b"],
                "start_date": pd.to_datetime(["2023-06-01", "2024-03-01"]),
                "value": [100.0, 200.0],
                "end_date": pd.to_datetime([None, "2024-07-01"]),
            }
        ),
    )
    ws.ingest(
        "transactions",
        pd.DataFrame(
            {
                "transaction_id": ["t1", "t2", "t3"],
                "customer_id": ["a", "a", "b"],
                "ts": pd.to_datetime(["2024-01-01", "2024-12-31", "2024-04-01"]),
                "amount": [10.0, 30.0, 5.0],
            }
        ),
    )
    ws.ingest(
        "responses",
        pd.DataFrame(
            {
                "response_id": ["r1", "r2", "r3"],
                "customer_id": ["a", "a", "b"],
                "ts": pd.to_datetime(["2024-02-01", "2024-06-01", "2024-04-01"]),
                "nps": [5, 9, 3],
            }
        ),
    )
    ws.ingest(
        "tickets",
        pd.DataFrame(
            {
                "ticket_id": ["x1", "x2", "x3"],
                "customer_id": ["a", "a", "b"],
                "opened_at": pd.to_datetime(
                    ["2024-03-01 10:00", "2024-05-01 00:00", "2024-04-02 00:00"]
                ),
                "first_response_at": pd.to_datetime(
                    ["2024-03-01 12:00", "2024-05-01 06:00", "2024-04-03 00:00"]
                ),
                "cost": [4.0, 6.0, 3.0],
            }
        ),
    )
    return ws


def delivery_company(directory: Path, n: int, seed: int) -> Workspace:
    """A company whose late deliveries drive churn, with a known mechanism.

    Customers of a "slow route" (P = .5 on premium, .2 on basic) get every delivery 3.5-8 days
    late, others 0-3 days. Each month from 2024-01 an active customer buys on day 1 (amount
    40, +30 on premium, -10 on a slow route) and gets a delivery on day 10 with probability
    .6. The monthly churn probability is .02 (x .7 on premium) and doubles after a month with
    a late (> 3 days) delivery; a churner's contract ends on the month's last day.
    """
    rng = np.random.default_rng(seed)
    ids = [f"c{i:05d}" for i in range(n)]
    premium = rng.random(n) < 0.4
    slow = rng.random(n) < np.where(premium, 0.5, 0.2)
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    active = np.ones(n, bool)
    late_prev = np.zeros(n, bool)
    end = np.full(n, None, dtype=object)
    tx, ev = [], []
    for m, first in enumerate(months):
        idx = np.flatnonzero(active)
        amount = 40 + 30 * premium[idx] - 10 * slow[idx] + rng.normal(0, 5, idx.size)
        tx += [(ids[i], first, a) for i, a in zip(idx, amount, strict=True)]
        got = idx[rng.random(idx.size) < 0.6]
        delay = np.where(slow[got], rng.uniform(3.5, 8, got.size), rng.uniform(0, 3, got.size))
        ev += [(ids[i], first + pd.Timedelta(days=9), d) for i, d in zip(got, delay, strict=True)]
        p = 0.02 * np.where(premium[idx], 0.7, 1.0) * np.where(late_prev[idx], 2.0, 1.0)
        gone = idx[(rng.random(idx.size) < p) & (m > 0)]
        end[gone] = first + pd.offsets.MonthEnd(0)
        active[gone] = False
        late_prev[:] = False
        late_prev[got] = delay > 3
    ws = Workspace.init(directory)
    plan = np.where(premium, "premium", "basic")
    signup = pd.Timestamp("2023-01-01")
    ws.ingest("customers", pd.DataFrame({"customer_id": ids, "signup_date": signup, "plan": plan}))
    ws.ingest(
        "contracts",
        pd.DataFrame(
            {
                "contract_id": [f"k{i}" for i in ids],
                "customer_id": ids,
                "start_date": signup,
                "value": 100.0,
                "end_date": pd.to_datetime(end),
            }
        ),
    )
    tx = pd.DataFrame(tx, columns=["customer_id", "ts", "amount"])
    ws.ingest("transactions", tx.assign(transaction_id=[f"t{i}" for i in range(len(tx))]))
    ev = pd.DataFrame(ev, columns=["customer_id", "ts", "delay_days"])
    ev = ev.assign(event_id=[f"e{i}" for i in range(len(ev))], touchpoint="delivery")
    ws.ingest("events", ev)
    nps = rng.integers(0, 11, n)
    resp = pd.DataFrame({"customer_id": ids, "ts": pd.Timestamp("2024-01-01"), "nps": nps})
    resp = pd.concat(  # the data run to 2024-12-31
        [resp, pd.DataFrame({"customer_id": [ids[0]], "ts": [pd.Timestamp("2024-12-31")]})]
    )
    ws.ingest("responses", resp.assign(response_id=[f"r{i}" for i in range(len(resp))], nps=7))
    return ws


def simulated_workspace(
    directory: Path, *, customers: int, months: int = 24, seed: int, typed: bool = False
) -> tuple[Workspace, dict]:
    """A workspace of the simulated company and its ground truth; with ``typed`` the customers
    table also carries the TRUE latent archetype (a confounder the data never show)."""
    from cxroi.simulate import generate

    c = generate(customers=customers, months=months, seed=seed)
    ws = Workspace.init(directory)
    arch = c.archetypes.to_pandas()[["customer_id", "archetype"]] if typed else None
    for name, table in c.tables.items():
        if typed and name == "customers":
            table = table.to_pandas().merge(arch, on="customer_id", how="left")
        ws.ingest(name, table)
    return ws, c.truth
