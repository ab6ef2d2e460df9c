"""The scorecard (cxroi.metrics.scorecard): hand-checked numbers on tiny tables, edge cases, and
every number against an independent pandas computation on simulator data."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.metrics.scorecard import METRICS, benchmark_label, benchmark_note, scorecard
from cxroi.results import NO_INTERVAL

D, T = dt.date, pd.Timestamp


def _tables(nps=(10, 3, 8, None)) -> dict[str, pd.DataFrame]:
    return {
        "customers": pd.DataFrame({"customer_id": list("abcd"), "region": ["n", "n", "s", "e"]}),
        "contracts": pd.DataFrame(
            {
                "contract_id": list("12345"),
                "customer_id": ["a", "a", "a", "b", "c"],
                "start_date": [
                    D(2025, 1, 1),
                    D(2025, 2, 1),
                    D(2025, 5, 1),
                    D(2025, 1, 15),
                    D(2025, 2, 1),
                ],
                "end_date": [D(2025, 3, 1), None, None, D(2025, 2, 10), D(2025, 4, 15)],
                "value": [1.0, 2, 3, 4, 5],
            }
        ),
        "responses": pd.DataFrame(
            {
                "response_id": ["r1", "r2", "r3", "r4"],
                "customer_id": ["a", "b", "c", "a"],
                "ts": [T("2025-01-03"), T("2025-01-20"), T("2025-02-03"), T("2025-03-01")],
                "touchpoint": ["app", "store", "app", "app"],
                "nps": pd.array(list(nps), dtype="Int64"),
                "csat": [5, 2, 4, 4],
            }
        ),
        "transactions": pd.DataFrame(
            {
                "transaction_id": ["t1", "t2", "t3"],
                "customer_id": ["a", "b", "c"],
                "ts": [T("2025-01-05"), T("2025-01-25"), T("2025-02-07")],
                "amount": [10.0, 20, 30],
            }
        ),
        "tickets": pd.DataFrame(
            {
                "ticket_id": ["k1", "k2"],
                "customer_id": ["a", "c"],
                "opened_at": [T("2025-02-02"), T("2025-02-20")],
                "cost": [4.0, 8.0],
            }
        ),
    }


def _get(sc: pd.DataFrame, period: str, metric: str, **group) -> pd.Series:
    m = (sc["period"] == period) & (sc["metric"] == metric)
    for k, v in group.items():
        m &= sc[k] == v
    rows = sc[m]
    assert len(rows) == 1, (period, metric, group)
    return rows.iloc[0]


def test_hand_checked_numbers():
    sc = scorecard(_tables(), since="2025-01", until="2025-03")
    assert _get(sc, "2025-01", "nps")["value"] == 0.0  # one promoter, one detractor
    assert _get(sc, "2025-01", "nps")["n"] == 2
    assert _get(sc, "2025-01", "csat")["value"] == 50.0
    assert _get(sc, "2025-01", "revenue")["value"] == 30.0
    assert _get(sc, "2025-01", "avg_transaction")["value"] == 15.0
    # Feb 1: a, b, c active; b's contract ends Feb 10 -> 1 lost of 3.
    assert _get(sc, "2025-02", "active_customers")["value"] == 3
    assert _get(sc, "2025-02", "churn_rate")["value"] == pytest.approx(100 / 3)
    assert _get(sc, "2025-02", "contract_value_signed")["value"] == 7.0
    assert _get(sc, "2025-02", "avg_contract_value")["value"] == 7.0  # 7 signed / 1 new (c)
    assert _get(sc, "2025-02", "support_cost_per_ticket")["value"] == 6.0
    assert _get(sc, "2025-02", "support_cost_per_customer")["value"] == pytest.approx(4.0)
    assert _get(sc, "2025-02", "revenue_per_customer")["value"] == pytest.approx(10.0)
    # Simple CLV: 10 per customer per month / (1/3 churn) = 30.
    assert _get(sc, "2025-02", "clv_simple")["value"] == pytest.approx(30.0)
    i = 1.1 ** (1 / 12) - 1
    assert _get(sc, "2025-02", "clv_retention")["value"] == pytest.approx(
        10 * (2 / 3) / (1 + i - 2 / 3)
    )


def test_long_form_columns_and_period_labels():
    sc = scorecard(_tables(), until="2025-03")
    assert list(sc.columns) == [
        "period",
        "period_start",
        "metric",
        "value",
        "n",
        "ci_low",
        "ci_high",
        "level",
        "unit",
        "flag",
        "benchmark",
    ]
    assert sorted(sc["period"].unique()) == ["2025-01", "2025-02", "2025-03"]
    q = scorecard(_tables(), period="quarter")
    assert q["period"].unique().tolist() == ["2025-Q1"]
    w = scorecard(_tables(), period="week", until="2025-01-10")
    # The first activity is on Friday 2025-01-03: ISO week 2025-W01 starts Monday 2024-12-30.
    assert w["period"].iloc[0] == "2025-W01"
    assert w["period_start"].iloc[0] == D(2024, 12, 30)


def test_a_group_with_no_responses_has_a_row_saying_so():
    sc = scorecard(_tables(), by="region", since="2025-01", until="2025-01")
    row = _get(sc, "2025-01", "nps", region="e")  # customer d never answered
    assert row["n"] == 0 and np.isnan(row["value"]) and row["flag"] == "no-responses;no-data"


def test_a_period_with_no_active_customers():
    sc = scorecard(_tables(), since="2024-12", until="2024-12")
    churn = _get(sc, "2024-12", "churn_rate")
    assert np.isnan(churn["value"]) and churn["n"] == 0
    assert churn["flag"] == "no-active-customers;no-data"
    assert _get(sc, "2024-12", "revenue_per_customer")["flag"] == "no-active-customers;no-data"
    assert _get(sc, "2024-12", "active_customers")["value"] == 0
    assert _get(sc, "2024-12", "active_customers")["flag"] == "exact"


def test_scores_all_null():
    sc = scorecard(_tables(nps=(None, None, None, None)), until="2025-02")
    nps = sc[sc["metric"] == "nps"]
    assert (nps["n"] == 0).all() and nps["value"].isna().all()
    assert (nps["flag"] == "no-responses;no-data").all()
    assert _get(sc, "2025-01", "csat")["value"] == 50.0  # the other scores are unaffected


def test_small_n_flag_and_min_n():
    sc = scorecard(_tables(), until="2025-01")
    assert _get(sc, "2025-01", "nps")["flag"] == "small-n"
    sc = scorecard(_tables(), until="2025-01", min_n=1)
    assert _get(sc, "2025-01", "nps")["flag"] == ""


def test_nps_benchmark_beside_the_value():
    sc = scorecard(_tables(), until="2025-01")
    assert _get(sc, "2025-01", "nps")["benchmark"] == "below average"
    assert _get(sc, "2025-01", "csat")["benchmark"] is None


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (-20, "below average"),
        (7, "average"),
        (30, "between average and leaders"),
        (65, "leaders"),
        (90, "above leaders"),
    ],
)
def test_benchmark_label(value, label):
    assert benchmark_label(value, {"leaders": (50, 80), "average": (5, 10)}) == label


def test_by_touchpoint_reports_perception_only():
    sc = scorecard(_tables(), by="touchpoint", until="2025-03")
    assert set(sc["metric"]) == {"nps", "csat"}
    assert set(sc["touchpoint"]) == {"app", "store"}
    assert _get(sc, "2025-01", "nps", touchpoint="app")["value"] == 100.0


def test_unknown_group_column():
    with pytest.raises(CxroiError, match="no table has column"):
        scorecard(_tables(), by="shoe_size")


def test_compare_marks_significant_changes():
    rng = np.random.default_rng(7)
    n = 400
    resp = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(2 * n)],
            "ts": [T("2025-01-10")] * n + [T("2025-02-10")] * n,
            "nps": np.r_[
                rng.choice([0, 5, 8, 9, 10], n, p=[0.2, 0.2, 0.2, 0.2, 0.2]),
                rng.choice([0, 5, 8, 9, 10], n, p=[0.05, 0.05, 0.2, 0.3, 0.4]),
            ],
            "csat": np.r_[rng.choice([2, 4], n), rng.choice([2, 4], n)],
        }
    )
    sc = scorecard({"responses": resp}, compare="2025-01")
    feb = _get(sc, "2025-02", "nps")
    assert feb["change"] > 20 and feb["p_value"] < 1e-6 and "significant" in feb["flag"]
    jan = _get(sc, "2025-01", "nps")
    assert jan["change"] == 0 and not (jan["flag"] or "").count("significant")


def test_json_round_trip():
    sc = scorecard(_tables(), until="2025-01")
    rows = json.loads(sc.to_json(orient="records", date_format="iso"))
    assert rows[0]["period"] == "2025-01" and {"value", "n", "ci_low", "ci_high", "flag"} <= set(
        rows[0]
    )


def test_workspace_tables_source(ws):
    for name, df in _tables().items():
        ws.ingest(name, df)
    sc = scorecard(ws.tables, by="region", until="2025-02", currency=ws.settings.currency)
    assert _get(sc, "2025-02", "churn_rate", region="n")["value"] == pytest.approx(50.0)
    assert _get(sc, "2025-02", "churn_rate", region="n")["unit"] == "%"
    assert _get(sc, "2025-02", "revenue", region="n")["unit"] == ws.settings.currency


def test_a_workspace_is_not_a_source(ws):
    with pytest.raises(CxroiError, match="mapping of table name"):
        scorecard(ws)


# -- against an independent pandas computation on simulator data ----------------------------


def _reference():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "pandas_scorecard.py"
    spec = importlib.util.spec_from_file_location("pandas_scorecard", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.pandas_scorecard


@pytest.fixture(scope="module")
def company():
    from cxroi.simulate import generate

    return generate(customers=2_000, months=12, seed=11, start="2024-01-01")


@pytest.mark.parametrize("by", [None, "region"])
def test_every_number_matches_pandas_on_simulator_data(company, by):
    names = ("customers", "responses", "transactions", "contracts", "tickets")
    frames = {t: company.tables[t].to_pandas() for t in names}
    ref = _reference()(frames, by=by, first="2024-01", last="2024-12")
    # Intervals are clipped to their scale (NPS -100..100, CES 1-7); the reference is not.
    for metric, (lo, hi) in {"nps": (-100, 100), "ces": (1, 7)}.items():
        rows = ref["metric"] == metric
        ref.loc[rows, ["ci_low", "ci_high"]] = ref.loc[rows, ["ci_low", "ci_high"]].clip(lo, hi)
    sc = scorecard(
        {t: company.tables[t] for t in names},
        by=by or (),
        since="2024-01",
        until="2024-12",
        metrics=[m.name for m in METRICS],
    )
    sc = sc.rename(columns={"region": "group"}) if by else sc.assign(group="all")
    assert set(ref["metric"]) == set(sc["metric"])
    m = ref.merge(sc, on=["period", "group", "metric"], how="left", suffixes=("_ref", ""))
    assert len(m) >= 12 * 21  # every metric in every month (and group)
    for col in ("value", "n", "ci_low", "ci_high"):
        np.testing.assert_allclose(
            m[col].to_numpy(float),
            m[f"{col}_ref"].to_numpy(float),
            rtol=1e-9,
            atol=1e-9,
            err_msg=col,
        )
    # Rows the reference leaves out are empty cells: zero totals or null values, flagged.
    extra = sc.merge(ref, on=["period", "group", "metric"], how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"]
    assert (extra["value_x"].fillna(0) == 0).all()


def test_since_after_until():
    with pytest.raises(CxroiError, match="since .* is after until"):
        scorecard(_tables(), since="2025-03", until="2025-01")


@pytest.mark.parametrize(
    ("since", "until", "periods"),
    [
        # The one period grammar: since's span starts the report, until's span ends it.
        ("2025-Q1", "2025-Q1", ["2025-01", "2025-02", "2025-03"]),
        ("2025", "2025-02-14", ["2025-01", "2025-02"]),
        ("2025-02..2025-03", "2025-01..2025-03-10", ["2025-02", "2025-03"]),
        (dt.date(2025, 2, 20), "2025-W10", ["2025-02", "2025-03"]),  # W10: 3-9 March
    ],
)
def test_since_and_until_read_the_one_period_grammar(since, until, periods):
    sc = scorecard(_tables(), since=since, until=until, metrics=["revenue"])
    assert sc["period"].tolist() == periods


def test_a_bad_period_names_the_parameter():
    with pytest.raises(CxroiError, match="until '2025-13' is not a period"):
        scorecard(_tables(), until="2025-13")


def test_compare_must_be_one_period():
    with pytest.raises(CxroiError, match="compare '2025-Q1' spans 3 months"):
        scorecard(_tables(), compare="2025-Q1")


def test_default_span_is_the_data_bounds():
    # cxroi.window.data_bounds: first and last day of activity (responses, transactions,
    # tickets): 2025-01-03 .. 2025-03-01, so January to March.
    sc = scorecard(_tables(), metrics=["revenue"])
    assert sc["period"].tolist() == ["2025-01", "2025-02", "2025-03"]


def test_every_row_keeps_the_result_contract():
    sc = scorecard(_tables(), by="region", until="2025-03", metrics=[m.name for m in METRICS])
    flags = sc["flag"].str.split(";")
    no_ci = sc["ci_low"].isna() | sc["ci_high"].isna()
    assert flags[no_ci].map(lambda f: any(x in NO_INTERVAL for x in f)).all()
    assert (sc.loc[~no_ci, "level"] == 0.95).all() and sc.loc[no_ci, "level"].isna().all()
    totals = sc[sc["metric"].isin(["revenue", "transactions", "active_customers"])]
    assert (totals["flag"].str.split(";").map(lambda f: "exact" in f)).all()
    assert (sc["n"] >= 0).all()


def test_nps_interval_stays_on_the_scale():
    # Four promoters in January: the adjusted Wald bound would be 107.3.
    r = pd.DataFrame(
        {
            "response_id": ["p1", "p2", "p3", "p4"],
            "ts": [T("2025-01-03")] * 4,
            "nps": [10, 10, 9, 9],
        }
    )
    sc = scorecard({"responses": r}, metrics=["nps"])
    row = _get(sc, "2025-01", "nps")
    assert row["value"] == 100.0 and row["ci_high"] == 100.0 and row["ci_low"] < 100


def test_benchmark_note():
    assert benchmark_note({"leaders": (50, 80)}) == "NPS benchmarks: leaders 50 to 80"


def test_empty_tables_give_an_empty_frame():
    sc = scorecard({"responses": _tables()["responses"].iloc[:0]})
    assert sc.empty and "value" in sc.columns
