"""Funnels, paths and directly-follows counts against a pandas recount of the same events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.analyses.journey import duration_days, journey_funnel, journey_paths
from cxroi.errors import CxroiError
from cxroi.journey.flow import ARROW, churned_customers, directly_follows, funnel, paths
from cxroi.journey.sequences import Steps, cached, sequence
from cxroi.metrics._intervals import wilson
from cxroi.models.ledger import customer_ledger
from tests.models._workspaces import simulated_workspace


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    ws, _ = simulated_workspace(tmp_path_factory.mktemp("flow") / "ws", customers=2000, seed=5)
    ev = ws.table("events").to_pandas().sort_values(["customer_id", "ts", "touchpoint"])
    return ws, ev


def _pandas_funnel(ev: pd.DataFrame, steps: list[str], days: float) -> tuple[list, list]:
    """Customers reaching each step and the hours from the step before, by hand."""
    first = ev[ev["touchpoint"] == steps[0]].groupby("customer_id")["ts"].min()
    t1, prev = first, first
    counts, gaps = [len(first)], []
    for s in steps[1:]:
        e = ev[ev["touchpoint"] == s][["customer_id", "ts"]]
        e = e.join(prev.rename("prev"), on="customer_id", how="inner").join(
            t1.rename("t1"), on="customer_id"
        )
        e = e[(e["ts"] >= e["prev"]) & (e["ts"] <= e["t1"] + pd.Timedelta(days=days))]
        nxt = e.groupby("customer_id")["ts"].min()
        gaps.append(((nxt - prev.reindex(nxt.index)).dt.total_seconds() / 3600).to_numpy())
        counts.append(len(nxt))
        prev = nxt
    return counts, gaps


def test_funnel_counts_conversion_and_time_match_pandas(sim):
    ws, ev = sim
    steps = ["website", "checkout", "delivery"]
    f = funnel(ws.tables, steps, within_days=60, by="plan")
    counts, gaps = _pandas_funnel(ev, steps, 60)
    whole = f[f["segment"] == "all"].reset_index(drop=True)
    assert whole["customers"].tolist() == counts
    assert counts[2] > 0
    prev = np.r_[counts[0], counts[:-1]]
    conv, _, lo, hi = wilson(np.array(counts[1:]), prev[1:])
    np.testing.assert_allclose(whole["conversion"].iloc[1:], conv)
    np.testing.assert_allclose(whole["ci_low"].iloc[1:], lo)
    np.testing.assert_allclose(whole["overall"], np.array(counts) / counts[0])
    assert whole["drop_off"].tolist() == [0, counts[0] - counts[1], counts[1] - counts[2]]
    for j, g in enumerate(gaps, start=1):
        assert whole["hours_p50"].iloc[j] == pytest.approx(np.quantile(g, 0.5))
        assert whole["hours_p95"].iloc[j] == pytest.approx(np.quantile(g, 0.95))
    # drop-off by segment: the plans add up to the whole, and each is its own recount
    per = f[f["segment"] != "all"].groupby("step")["customers"].sum()
    assert per.tolist() == counts
    plan = ws.table("customers").to_pandas().set_index("customer_id")["plan"]
    basic = ev[ev["customer_id"].map(plan) == "basic"]
    got = f[f["segment"] == "basic"]["customers"].tolist()
    assert got == _pandas_funnel(basic, steps, 60)[0]


def test_a_wider_window_converts_at_least_as_many(sim):
    ws, ev = sim
    steps = ["website", "checkout"]
    narrow = funnel(ws.tables, steps, within_days=7)["customers"].iloc[-1]
    wide = funnel(ws.tables, steps, within_days=365)["customers"].iloc[-1]
    none = funnel(ws.tables, steps, within_days=None)["customers"].iloc[-1]
    assert narrow < wide <= none
    assert none == _pandas_funnel(ev, steps, 10**4)[0][-1]


@pytest.mark.parametrize(
    ("steps", "kw", "message"),
    [
        (["website"], {}, "a funnel needs at least two steps, got 1"),
        (["website", "website"], {}, "a funnel step is repeated"),
        (["website", "chekout"], {}, "no event has touchpoint 'chekout'; the events have ad, app"),
        (["website", "checkout"], {"within_days": 0}, "the conversion window must be positive"),
        (["website", "checkout"], {"by": "colour"}, "no customer column 'colour'"),
    ],
)
def test_funnel_errors_name_what_is_wrong(sim, steps, kw, message):
    ws, _ = sim
    with pytest.raises(CxroiError, match=message):
        funnel(ws.tables, steps, **kw)


@pytest.mark.parametrize(("text", "days"), [("30d", 30), ("12h", 0.5), ("2w", 14), ("5", 5),
                                            ("none", None)])  # fmt: skip
def test_durations(text, days):
    assert duration_days(text) == days


def test_a_bad_duration_is_one_line():
    with pytest.raises(CxroiError, match=r"--within '3 months': write a duration such as 30d"):
        duration_days("3 months")


def _pandas_paths(ev: pd.DataFrame, length: int) -> pd.Series:
    e = ev[ev["touchpoint"] != ev.groupby("customer_id")["touchpoint"].shift()]
    e = e.groupby("customer_id").head(length)
    return e.groupby("customer_id")["touchpoint"].agg(ARROW.join)


def test_paths_and_their_churn_gap_match_pandas(sim):
    ws, ev = sim
    led = customer_ledger(ws.tables)
    churned = led.select("customer_id", churned=led.churned.cast("boolean"))
    got = paths(ws.tables, length=3, top=5, churned=churned)
    by_customer = _pandas_paths(ev, 3)
    counts = by_customer.value_counts()
    want = counts.reset_index().sort_values(["count", "touchpoint"], ascending=[False, True])
    assert got["path"].tolist() == want["touchpoint"].head(5).tolist()
    assert got["customers"].tolist() == want["count"].head(5).tolist()
    assert got["share"].tolist() == pytest.approx(
        (want["count"].head(5) / len(by_customer)).tolist()
    )
    lc = led.select("customer_id", "churned").to_pandas().set_index("customer_id")["churned"]
    is_churned = by_customer.index.map(lc).fillna(False).astype(bool)
    top = got.iloc[0]
    on_path = by_customer == top["path"]
    a = on_path[is_churned].mean()
    b = on_path[~is_churned].mean()
    assert top["share_churned"] == pytest.approx(a)
    assert top["share_retained"] == pytest.approx(b)
    assert top["estimate"] == pytest.approx(a - b)
    assert top["ci_low"] < top["estimate"] < top["ci_high"]


def test_directly_follows_matches_pandas_and_marks_leaving_the_map(sim):
    ws, ev = sim
    # a run's last event and the next run's first: the hand-over between two steps
    e = ev.copy()
    e["to"] = e.groupby("customer_id")["touchpoint"].shift(-1)
    e["gap"] = (e.groupby("customer_id")["ts"].shift(-1) - e["ts"]).dt.total_seconds() / 3600
    e = e[e["to"].notna() & (e["to"] != e["touchpoint"])]
    pairs = e.groupby(["touchpoint", "to"])
    want = pairs.size()
    got = directly_follows(ws.tables, mapped=["ad", "website", "checkout"]).set_index(
        ["from", "to"]
    )
    assert got["count"].to_dict() == want.to_dict()
    assert got["customers"].to_dict() == pairs["customer_id"].nunique().to_dict()
    p50 = pairs["gap"].quantile(0.5)
    np.testing.assert_allclose(got["hours_p50"].reindex(p50.index), p50)
    leaves = got[got["leaves_map"]].index
    assert {f for f, _ in leaves} <= {"ad", "website", "checkout"}
    assert ("website", "onboarding_call") in leaves and ("checkout", "delivery") in leaves
    assert ("ad", "website") not in leaves


def test_the_churn_of_the_paths_is_the_ledgers(sim):
    # journey paths reads the churn from the contracts alone: the ledger's column, cheaper
    ws, _ = sim
    led = customer_ledger(ws.tables).select("customer_id", "churned").to_pandas()
    mine = churned_customers(ws.tables).to_pandas().set_index("customer_id")["churned"]
    got = led["customer_id"].map(mine).fillna(False).astype(bool)
    assert 0 < got.sum() < len(led)
    assert (got.to_numpy() == led["churned"].astype(bool).to_numpy()).all()
    assert set(mine.index) <= set(led["customer_id"])


def test_directly_follows_p95_matches_pandas(sim):
    ws, ev = sim
    e = ev.copy()
    e["to"] = e.groupby("customer_id")["touchpoint"].shift(-1)
    e["gap"] = (e.groupby("customer_id")["ts"].shift(-1) - e["ts"]).dt.total_seconds() / 3600
    e = e[e["to"].notna() & (e["to"] != e["touchpoint"])]
    p95 = e.groupby(["touchpoint", "to"])["gap"].quantile(0.95)
    got = directly_follows(ws.tables).set_index(["from", "to"])
    np.testing.assert_allclose(got["hours_p95"].reindex(p95.index), p95)


def test_the_analyses_keep_the_contract(sim):
    ws, _ = sim
    f = journey_funnel(ws, ["website", "checkout"], within="60d", by="plan")
    assert f.problems() == [] and "went from website to checkout within 60d" in f.readings[0]
    p = journey_paths(ws, length=3, top=5)
    assert p.problems() == [] and p.names == ["paths", "follows"]


def _edge_tables():
    """Events that test the packed order: ties in time (broken by touchpoint), times before
    1970 and with microseconds, rows without a customer, time or touchpoint, a customer with
    one event, and a touchpoint name that sorts before the others."""
    import ibis

    ts = pd.to_datetime([
        "2024-01-01 10:00:00", "2024-01-01 10:00:00", "2024-01-01 09:00:00.123456",
        "1969-12-31 23:59:59.5", "1969-12-31 23:59:58", "2024-01-02", None,
        "2024-01-01", "2024-01-01 00:00:00.000001", "2024-01-03", "2024-01-04", "2024-01-05",
        "2024-01-01", "2024-01-06",
    ], format="ISO8601")  # fmt: skip
    ev = pd.DataFrame({
        "event_id": [f"E{i}" for i in range(len(ts))],
        "customer_id": ["a", "a", "a", "b", "b", "b", "b", "c", "c", "c", "c", "c", None, "d"],
        "ts": ts,
        "touchpoint": ["web", "app", "web", "web", "Zoo", "app", "app", "app", "web", None,
                       "web", "app", "web", "web"],
    })  # fmt: skip
    con = ibis.duckdb.connect()
    tables = {"events": con.create_table("events", ev)}
    tables["customers"] = con.create_table("customers", pd.DataFrame({"customer_id": list("abcd")}))
    tables["contracts"] = con.create_table("contracts", pd.DataFrame({
        "contract_id": ["k1", "k2", "k3"], "customer_id": ["a", "b", "c"],
        "end_date": pd.to_datetime(["2024-02-01", None, "2024-03-01"]),
    }))  # fmt: skip
    return tables


@pytest.mark.parametrize("data", ["sim", "edge"])
def test_packed_and_window_sequences_give_the_same_answers(sim, data):
    # the DuckDB fast path (sorted lists of packed keys) against the window every engine runs
    tables = sim[0].tables if data == "sim" else _edge_tables()
    churned = churned_customers(tables)
    got = {}
    for packed in (True, False):
        s = cached(sequence(tables, packed=packed))
        assert isinstance(s, Steps) == packed
        got[packed] = (
            paths(tables, length=3, top=50, churned=churned, steps=s),
            directly_follows(tables, ["web", "app"], steps=s),
        )
    assert isinstance(sequence(tables), Steps)  # DuckDB: packed by default
    for a, b in zip(got[True], got[False], strict=True):
        assert len(a)
        pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("data", ["sim", "edge"])
def test_touchpoint_events_are_the_same_packed_and_by_window(sim, data):
    # volume, reach and time to the next step: packed lists with touchpoint bits against the
    # window every engine runs; a touchpoint measured by two event values, and one by a value
    # no event has
    from cxroi.journey.metrics import event_metrics

    tables = sim[0].tables if data == "sim" else _edge_tables()
    web = "website" if data == "sim" else "web"
    mapped = pd.DataFrame({"tp": ["w", "a", "both", "none", "both"],
                           "value": [web, "app", web, "x", "app"]}, dtype=object)  # fmt: skip
    got = {p: event_metrics(tables, mapped, packed=p).sort_values("tp", ignore_index=True)
           for p in (True, False)}  # fmt: skip
    assert list(got[True]["tp"]) == ["a", "both", "w"]
    a, w, both = (got[True].set_index("tp").loc[k] for k in ("a", "w", "both"))
    assert both["events"] == a["events"] + w["events"]
    assert (
        max(a["customers"], w["customers"]) <= both["customers"] < a["customers"] + w["customers"]
    )
    pd.testing.assert_frame_equal(got[True], got[False], check_exact=True, check_dtype=False)
