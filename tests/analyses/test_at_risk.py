"""``at-risk``: out-of-time AUC and calibration against the NPS-and-plan peer (refitted here
with scikit-learn), observed churn recomputed from the contracts with pandas, a
contracts-only company with a planted region effect, clear errors, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from cxroi.analyses.at_risk import SCORE_COLUMNS, at_risk_report, at_risk_scores
from cxroi.cli import app
from cxroi.errors import CxroiError
from cxroi.models.profile import customer_profile
from cxroi.models.risk import TooFewChurnersError
from cxroi.store import Workspace
from tests.models._workspaces import simulated_workspace

runner = CliRunner()
H = dt.timedelta(days=90)


def contracts_only_workspace(directory, *, n: int = 3000, seed: int = 3) -> Workspace:
    """A subscription company with only customers and contracts: monthly churn 2%, three times
    that in the west, half on the pro plan; 30% pay yearly; contracts signed 2023-01-01 to
    2024-06-23, churn observed until 2025-06-30."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i:05d}" for i in range(n)]
    plan = np.where(rng.random(n) < 0.4, "pro", "basic")
    region = rng.choice(["north", "south", "west"], n, p=[0.4, 0.35, 0.25])
    signup = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540, n), unit="D")
    yearly = rng.random(n) < 0.3
    hazard = 0.02 * np.where(region == "west", 3.0, 1.0) * np.where(plan == "pro", 0.5, 1.0)
    end = signup + pd.to_timedelta(np.round(rng.geometric(hazard) * 30.4375), unit="D")
    end = end.where(end <= pd.Timestamp("2025-06-30"))
    monthly = np.where(plan == "pro", 80.0, 30.0)
    ws = Workspace.init(directory)
    ws.ingest(
        "customers",
        pd.DataFrame({"customer_id": ids, "signup_date": signup, "plan": plan, "region": region}),
    )
    ws.ingest(
        "contracts",
        pd.DataFrame(
            {
                "contract_id": [f"k{i}" for i in ids],
                "customer_id": ids,
                "start_date": signup,
                "value": np.where(yearly, monthly * 12, monthly),
                "billing_period": np.where(yearly, "year", "month"),
                "end_date": end,
            }
        ),
    )
    return ws


def _open_on(contracts: pd.DataFrame, day: dt.date) -> set:
    """Customers with a contract open on ``day``, by pandas (the independent definition)."""
    d = pd.Timestamp(day)
    c = contracts
    ok = (c["start_date"] <= d) & (c["end_date"].isna() | (c["end_date"] > d))
    return set(c.loc[ok, "customer_id"])


def _row(frame: pd.DataFrame, metric: str, model: str) -> pd.Series:
    return frame.loc[(frame["metric"] == metric) & (frame["model"] == model)].iloc[0]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    ws, _truth = simulated_workspace(
        tmp_path_factory.mktemp("sim") / "ws", customers=20_000, seed=7
    )
    result, scores = at_risk_report(ws)
    return ws, result, scores


@pytest.fixture(scope="module")
def contracts_only(tmp_path_factory):
    ws = contracts_only_workspace(tmp_path_factory.mktemp("co") / "ws")
    result, scores = at_risk_report(ws, top=5)
    return ws, result, scores


def test_result_keeps_the_contract_and_states_the_windows(simulated):
    _ws, r, _scores = simulated
    assert r.problems() == []
    assert r.names == ["customers", "summary", "validation", "calibration", "coefficients"]
    s = r.window["as_of"]
    assert s == dt.date(2025, 12, 31)  # the last day of data
    assert r.window["validation_fit_as_of"] == s - 2 * H
    assert r.window["validation_churn"] == f"({s - H}, {s}]"
    assert "out of time" in r.method and str(s - 2 * H) in r.method


def test_model_beats_the_nps_and_plan_peer_out_of_time(simulated):
    _ws, r, _scores = simulated
    v = r["validation"]
    model, peer = _row(v, "AUC", "model"), _row(v, "AUC", "peer")
    diff = _row(v, "AUC difference", "model - peer")
    assert model["estimate"] > peer["estimate"]
    assert diff["estimate"] == pytest.approx(model["estimate"] - peer["estimate"])
    assert diff["ci_low"] > 0  # paired DeLong: the gain is not noise (seed 7, 20k customers)
    assert model["ci_low"] < model["estimate"] < model["ci_high"]


def test_peer_auc_matches_a_plain_sklearn_logistic_regression(simulated):
    ws, r, _scores = simulated
    s = r.window["as_of"]

    def frame(day):
        p = customer_profile(ws.tables, as_of=day)
        return p.filter(p.active).select("customer_id", "nps_last", "plan").to_pandas()

    early, mid = frame(s - 2 * H), frame(s - H)
    later = _open_on(ws.table("contracts").to_pandas(), s)
    y_early = ~early["customer_id"].isin(set(mid["customer_id"]))
    y_mid = ~mid["customer_id"].isin(later)

    def design(f):
        return np.column_stack(
            [f["nps_last"].fillna(0), f["nps_last"].isna(), f["plan"] == "premium",
             f["plan"] == "basic"]
        ).astype(float)  # fmt: skip

    lr = LogisticRegression(C=1e6, max_iter=2000).fit(design(early), y_early)
    auc = roc_auc_score(y_mid, lr.predict_proba(design(mid))[:, 1])
    assert _row(r["validation"], "AUC", "peer")["estimate"] == pytest.approx(auc, abs=0.002)


def test_observed_churn_matches_the_contracts(simulated):
    ws, r, _scores = simulated
    s = r.window["as_of"]
    contracts = ws.table("contracts").to_pandas()
    at_start, at_end = _open_on(contracts, s - H), _open_on(contracts, s)
    churned = len(at_start - at_end)
    obs = _row(r["validation"], "observed churn", "observed")
    assert obs["n"] == len(at_start)
    assert obs["events"] == churned
    assert obs["estimate"] == pytest.approx(churned / len(at_start))
    cal = r["calibration"]
    for name in ("model", "peer"):
        part = cal[cal["model"] == name]
        assert part["n"].sum() == len(at_start) and part["churned"].sum() == churned


def test_calibration_mean_is_within_ten_percent_of_observed(simulated):
    _ws, r, _scores = simulated
    v = r["validation"]
    observed = _row(v, "observed churn", "observed")["estimate"]
    for name in ("model", "peer"):
        mean = _row(v, "mean predicted churn", name)["estimate"]
        assert abs(mean / observed - 1) <= 0.10, name
        assert _row(v, "predicted ÷ observed churn", name)["estimate"] == pytest.approx(
            mean / observed
        )
    part = r["calibration"].query("model == 'model'")
    assert part["predicted"].is_monotonic_increasing
    # the top decile churns at least twice as often as the bottom one
    assert part["estimate"].iloc[-1] > 2 * part["estimate"].iloc[0]


def test_scores_cover_every_active_customer(simulated):
    ws, r, scores = simulated
    s = r.window["as_of"]
    active = _open_on(ws.table("contracts").to_pandas(), s)
    assert list(scores.columns) == SCORE_COLUMNS
    assert set(scores["customer_id"]) == active and len(scores) == len(active)
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["reasons"] != "").mean() > 0.9
    # the summary sums the scores; the list is the top by value at risk
    summary = r["summary"].set_index("metric")
    assert summary.loc["active customers", "estimate"] == len(active)
    expected = summary.loc["expected churners within 90 days", "estimate"]
    assert expected == pytest.approx(scores["churn_probability"].sum())
    top = r["customers"]
    assert list(top["customer_id"]) == list(scores["customer_id"].head(20))
    assert top["value_at_risk"].is_monotonic_decreasing
    np.testing.assert_allclose(top["value_at_risk"], top["estimate"] * top["clv"])


def test_contracts_only_company_is_scored_on_attributes_and_contracts(contracts_only):
    ws, r, scores = contracts_only
    assert r.problems() == []
    features = r.params["features"]
    assert "region=west" in features and not any(f.startswith("nps") for f in features)
    v = r["validation"]
    assert _row(v, "AUC", "model")["estimate"] > _row(v, "AUC", "peer")["estimate"]
    west = r["coefficients"].set_index("term").loc["region=west"]
    assert west["ci_low"] > 0  # the planted 3x hazard
    active = _open_on(ws.table("contracts").to_pandas(), r.window["as_of"])
    assert set(scores["customer_id"]) == active
    assert scores["reasons"].str.contains("region west").any()
    same = at_risk_scores(ws)  # the production model alone gives the same scores
    pd.testing.assert_frame_equal(same, scores)


def test_too_few_churners_says_how_many_and_how_many_are_needed(tmp_path):
    ws = contracts_only_workspace(tmp_path / "ws", n=400, seed=5)
    s = dt.date(2025, 6, 1)
    with pytest.raises(TooFewChurnersError) as e:
        at_risk_report(ws, as_of=s)
    contracts = ws.table("contracts").to_pandas()
    early = _open_on(contracts, s - 2 * H)
    churned = len(early - _open_on(contracts, s - H))
    msg = str(e.value)
    m = re.search(r": ([\d,]+) of the ([\d,]+) customers active on .* needs at least ([\d,]+)", msg)
    assert m, msg
    assert int(m[1]) == churned == e.value.n_events
    assert int(m[2]) == len(early)
    assert int(m[3]) == e.value.needed == max(30, 5 * e.value.n_features) > churned


@pytest.mark.parametrize(
    "options, message",
    [
        ({"horizon_days": 0}, "horizon_days must be a positive"),
        ({"horizon_days": -5}, "horizon_days must be a positive"),
        ({"as_of": "2030-01-01"}, "outside the data"),
        ({"as_of": "2022-12-01"}, "outside the data"),
        ({"as_of": "2023-06-01"}, "two horizons of history"),
        ({"top": -1}, "top must be 0 or more"),
    ],
)
def test_clear_errors(contracts_only, options, message):
    ws, _r, _scores = contracts_only
    with pytest.raises(CxroiError, match=message):
        at_risk_report(ws, **options)


def test_no_active_customers(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest("customers", pd.DataFrame({"customer_id": ["a"]}))
    ws.ingest(
        "contracts",
        pd.DataFrame(
            {"contract_id": ["k"], "customer_id": ["a"], "value": [10.0],
             "start_date": pd.to_datetime(["2024-01-01"]),
             "end_date": pd.to_datetime(["2024-03-01"])}
        ),
    )  # fmt: skip
    ws.ingest(
        "transactions",
        pd.DataFrame(
            {"transaction_id": ["t1", "t2"], "customer_id": ["a", "a"], "amount": [5.0, 5.0],
             "ts": pd.to_datetime(["2024-01-02", "2024-12-31"])}
        ),
    )  # fmt: skip
    with pytest.raises(CxroiError, match="no active customers on 2024-12-31"):
        at_risk_report(ws)


def test_cli_writes_every_active_customer_and_prints_json(contracts_only, tmp_path):
    ws, r, _scores = contracts_only
    out = tmp_path / "scores.csv"
    res = runner.invoke(
        app, ["at-risk", "-w", str(ws.path), "--top", "3", "--out", str(out), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["analysis"] == "at_risk" and data["method"]
    assert data["window"]["as_of"] == r.window["as_of"].isoformat()
    assert data["params"]["n_active"] == len(_scores)
    customers = next(t for t in data["tables"] if t["name"] == "customers")
    assert len(customers["rows"]) == 3
    assert all(row["ci_low"] < row["estimate"] < row["ci_high"] for row in customers["rows"])
    assert all(row["n"] == data["params"]["n_train"] for row in customers["rows"])
    written = pd.read_csv(out)
    assert list(written.columns) == SCORE_COLUMNS
    assert len(written) == len(_open_on(ws.table("contracts").to_pandas(), r.window["as_of"]))
    assert not list(tmp_path.glob(".scores.csv.*"))  # the temporary file is gone


def test_cli_error_is_one_line_with_exit_2(contracts_only):
    ws, _r, _scores = contracts_only
    res = runner.invoke(app, ["at-risk", "-w", str(ws.path), "--horizon-days", "0"])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: --horizon-days must be a positive number of days"
    ]
