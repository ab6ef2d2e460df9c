"""``cxroi.analyses.archetypes``: recovery of the simulator's archetypes against the Bayes-
optimal reference, the result contract, description figures recomputed with pandas, typical
comments, names from the data, bad input, and the per-customer counts laid out in the
profile's rows against merging them on the ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from cxroi.analyses.archetypes import (
    archetype_assignments,
    archetype_features,
    archetype_run,
    name_archetypes,
)
from cxroi.errors import CxroiError
from cxroi.models.profile import customer_profile
from cxroi.results import Result
from cxroi.simulate import generate
from cxroi.simulate.archetype_posterior import archetype_posterior
from cxroi.store import Workspace
from cxroi.window import Window
from tests.models._workspaces import simulated_workspace, tiny_workspace

N, SEED = 10_000, 7


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    ws, truth = simulated_workspace(tmp_path_factory.mktemp("arch") / "ws", customers=N, seed=SEED)
    return ws, archetype_run(ws)


def test_archetypes_recover_the_latent_ones_near_the_bayes_optimum(sim):
    _ws, run = sim
    company = generate(customers=N, months=24, seed=SEED)
    truth = company.archetypes.to_pandas().set_index("customer_id")["archetype"]
    a = run.assignments
    assert len(a) == N and a["customer_id"].is_unique
    ari = adjusted_rand_score(a["customer_id"].map(truth), a["archetype"])
    post = archetype_posterior(company)
    bayes = adjusted_rand_score(post.truth, post.map)
    assert post.probability.sum(axis=1) == pytest.approx(np.ones(N))
    shuffled = np.random.default_rng(1).permutation(post.map)
    assert bayes > adjusted_rand_score(post.truth, shuffled) + 0.5
    assert ari >= 0.6 or ari >= bayes - 0.05  # measured 0.74 against a Bayes optimum of 0.75
    assert ari >= bayes - 0.05
    k = run.result.params["k"]
    assert 4 <= k <= 7 and a["archetype"].nunique() == k
    assert a["probability"].between(1 / k, 1).all()


def test_result_keeps_the_contract_and_says_how_k_was_chosen(sim):
    _ws, run = sim
    r = run.result
    assert r.names == ["archetypes", "metrics", "comments", "selection"]
    assert r.problems() == []
    back = Result.from_json(r.to_json())
    assert back.table("archetypes")["name"].tolist() == r.table("archetypes")["name"].tolist()
    p = r.params
    assert p["n_customers"] == N and p["n_fit"] == N and p["stable"]
    assert "BIC" in r.method and "bootstrap" in r.method
    sel = r.table("selection")
    bic = sel[sel["metric"] == "bic"].set_index("k")["value"]
    stab = sel[sel["metric"] != "bic"].set_index("k")
    assert list(bic.index) == list(range(2, 9))
    chosen = p["k"]
    # the chosen K is the BIC-best among the K checked whose refits agree (median ARI >= .8)
    assert stab.loc[chosen, "value"] >= p["min_stability"]
    failed = stab.index[stab["value"] < p["min_stability"]]
    assert all(bic[f] < bic[chosen] for f in failed)
    assert bic[chosen] == min(bic[stab.index])
    main = r.table("archetypes")
    assert main["value"].sum() == pytest.approx(1.0)
    assert (main["ci_low"] <= main["value"]).all() and (main["value"] <= main["ci_high"]).all()
    assert main["name"].is_unique
    assert len(r.readings) == chosen


def test_description_figures_match_a_pandas_recomputation(sim):
    ws, run = sim
    win = Window.resolve(ws.tables)
    prof = customer_profile(ws.tables, as_of=win.end).to_pandas()
    df = prof.merge(run.assignments, on="customer_id")
    start = pd.to_datetime(df["start"]).clip(lower=pd.Timestamp(win.start))
    churn = pd.to_datetime(df["churn_date"])
    end = churn.where(churn.notna() & (churn < pd.Timestamp(win.end)), pd.Timestamp(win.end))
    df["months"] = np.maximum((end - start).dt.days, 1) / (365.25 / 12)
    df["revenue"] = df["spend"] + df["monthly_value"] * df["months"]
    df["churned"] = churn.notna() & (churn >= pd.Timestamp(win.start))
    main = run.result.table("archetypes").set_index("name")
    for name, g in df.groupby("archetype"):
        row = main.loc[name]
        share = len(g) / len(df)
        rev = g["revenue"].sum() / df["revenue"].sum()
        grp = g["nps_group"].value_counts()
        answered = grp.sum()
        nps = 100 * (grp.get("promoter", 0) - grp.get("detractor", 0)) / answered
        churn_yr = 1 - np.exp(-g["churned"].sum() / (g["months"].sum() / 12))
        assert row["customers"] == len(g)
        assert row["revenue_share"] == pytest.approx(rev)
        assert row["nps"] == pytest.approx(nps)
        assert row["churn_per_year"] == pytest.approx(churn_yr)
        assert row["nps_ci_low"] < nps < row["nps_ci_high"]
        text = row["description"]
        assert text.startswith(f"{name}: ")
        assert f"{100 * share:.0f}% of customers" in text or f"{100 * share:.1f}%" in text
        assert f"NPS {nps:+.0f}" in text
    metrics = run.result.table("metrics")
    everyone = metrics[metrics["name"] == "All customers"].set_index("metric")["value"]
    assert everyone["share of revenue"] == pytest.approx(1.0)
    assert everyone["share of customers"] == pytest.approx(1.0)


def test_typical_comments_are_the_most_probable_members_latest(sim):
    ws, run = sim
    com = run.result.table("comments")
    a = run.assignments
    rs = ws.table("responses")
    said = rs.filter(rs.comment.notnull()).select("customer_id", "ts", "comment").to_pandas()
    latest = said.sort_values(["ts", "comment"]).groupby("customer_id").tail(1)
    for name, g in com.groupby("name"):
        assert list(g["rank"]) == [1, 2, 3]
        members = a[(a["archetype"] == name) & a["customer_id"].isin(latest["customer_id"])]
        members = members.sort_values(["probability", "customer_id"], ascending=[False, True])
        assert list(g["customer_id"]) == list(members["customer_id"].head(3))
        text = latest.set_index("customer_id").loc[list(g["customer_id"]), "comment"]
        assert list(g["comment"]) == list(text)
    assert set(com["name"]) == set(a["archetype"])


def test_names_come_from_each_archetypes_own_figures():
    allc = {"churn": 0.2, "revenue_pm": 50.0, "nps": 10.0, "tickets_pm": 0.05,
            "purchases_pm": 1.0, "avg_transaction": 40.0, "age": 40.0, "tenure": 20.0,
            "channel": {"app": 0.2, "web": 0.8},
            "plan": {"basic": 0.5, "premium": 0.5}}  # fmt: skip
    loyal = {**allc, "churn": 0.05, "revenue_pm": 150.0, "nps": 30.0}  # 3x value, 1/4 churn
    support = {**allc, "tickets_pm": 0.2, "nps": -40.0, "channel": {"app": 0.7, "web": 0.3}}
    same = {**allc}
    stats = pd.DataFrame([loyal, support, same, allc]).assign(archetype=[1, 2, 3, None])
    assert name_archetypes(stats) == ["Loyal high-value", "Critical support-heavy", "Mainstream"]
    twin = pd.DataFrame([loyal, loyal, allc]).assign(archetype=[1, 2, None])
    assert name_archetypes(twin) == ["Loyal high-value", "Loyal high-value enthusiastic"]


def test_the_biggest_spenders_are_named_high_value(sim):
    _ws, run = sim
    main = run.result.table("archetypes")
    top = main.loc[main["revenue_share"].idxmax()]
    assert "high-value" in top["name"].lower()
    assert top["revenue_share"] > 2 * top["value"]


def test_k_overrides_the_criterion(sim):
    ws, _run = sim
    a = archetype_assignments(ws, k=3, themes=False, n_boot=0)
    assert a["archetype"].nunique() == 3


@pytest.mark.parametrize("k", [0, N + 1])
def test_k_out_of_range_is_one_clear_error(sim, k):
    ws, _run = sim
    with pytest.raises(CxroiError, match="k must be from 1 to"):
        archetype_run(ws, k=k)


def test_one_archetype_and_no_comments(tmp_path):
    ws = tiny_workspace(tmp_path / "tiny")
    run = archetype_run(ws, k=1)
    assert run.assignments["probability"].tolist() == [1.0, 1.0]
    assert any("no theme mentions" in w or "no comments" in w for w in run.result.warnings)
    assert run.result.problems() == []


def test_no_customers_is_one_clear_error(tmp_path):
    ws = Workspace.init(tmp_path / "empty")
    later = pd.to_datetime(["2027-06-01"])  # signs up after the only data
    ws.ingest("customers", pd.DataFrame({"customer_id": ["a"], "signup_date": later}))
    answer = {"response_id": ["r"], "customer_id": ["a"], "nps": [9]}
    ws.ingest("responses", pd.DataFrame({**answer, "ts": pd.to_datetime(["2024-01-01"])}))
    with pytest.raises(CxroiError, match="no customers"):
        archetype_run(ws)


def test_a_second_run_on_the_same_data_is_read_from_the_cache(sim, monkeypatch):
    import importlib

    mod = importlib.import_module("cxroi.analyses.archetypes")  # the package exports a function
    ws, run = sim
    archetype_run(ws)  # the fixture's run fitted the theme model first, so it was not cached

    def refit(*a, **k):
        raise AssertionError("fitted again on unchanged data")

    monkeypatch.setattr(mod, "_archetype_run", refit)
    again = archetype_run(ws)
    pd.testing.assert_frame_equal(again.assignments, run.assignments)
    assert again.result.to_dict() == run.result.to_dict()
    with pytest.raises(AssertionError, match="fitted again"):
        archetype_run(ws, k=3)  # other parameters are computed


def _merged(ids, per_customer):
    """What the per-customer counts were before they were laid out in the profile's rows: a
    left merge on customer_id, missing counts 0."""
    left = pd.DataFrame({"customer_id": ids})
    out = left.merge(per_customer, on="customer_id", how="left")
    return out.fillna({c: 0.0 for c in per_customer.columns.drop("customer_id")})


def test_counts_in_the_profiles_rows_are_what_merging_on_the_ids_gave(sim):
    import importlib

    mod = importlib.import_module("cxroi.analyses.archetypes")
    ws, _run = sim
    win = Window.resolve(ws.tables)
    end_ts = pd.Timestamp(win.end) + pd.Timedelta(days=1)
    # ids out of order, some customers unknown to the data, some customers of the data absent
    known = ws.tables["customers"].customer_id.to_pandas()
    rng = np.random.default_rng(3)
    ids = pd.Index(
        [*rng.permutation(known)[: len(known) - 500], "nobody-1", "nobody-2"], name="customer_id"
    )
    th = mod._theme_counts(ws, end_ts.to_pydatetime(), 1, ids)
    from cxroi.analyses.themes import comment_themes

    ct = comment_themes(ws)
    rows = ct.comments[ct.comments["ts"] < end_ts]
    neg = rows["sentiment"].fillna(0) < 0
    by = pd.DataFrame({"customer_id": rows["customer_id"], "comments": 1})
    for n, c in zip(ct.names, ct.mention_columns, strict=True):
        by[f"mention_{n}"] = rows[c].astype(int)
    for n, c in zip(ct.names, ct.mention_columns, strict=True):
        by[f"negative_{n}"] = (rows[c] & neg).astype(int)
    want = _merged(ids, by.groupby("customer_id").sum().reset_index())
    assert 0 < want["comments"].sum() < len(rows)  # some comments fall outside ids
    got = th.counts.reset_index()
    assert list(got.columns) == list(want.columns)
    np.testing.assert_array_equal(got.to_numpy(object), want.to_numpy(object))
    mix = mod._mix_counts(ws.tables, end_ts.to_pydatetime(), ids).reset_index()
    tx = ws.tables["transactions"].to_pandas()
    tx = tx[(tx["ts"] < end_ts) & (tx["amount"] >= 0)]
    products = [c.removeprefix("product_") for c in mix.columns if c.startswith("product_")]
    assert len(products) >= 2
    per = pd.crosstab(tx["customer_id"], tx["product"])[products].add_prefix("product_")
    got = mix[["customer_id", *per.columns]]
    want = _merged(ids, per.reset_index())
    np.testing.assert_array_equal(got.to_numpy(object), want.to_numpy(object))
    assert mix["customer_id"].tolist() == ids.tolist() and mix["use_events"].sum() > 0


def test_features_take_unordered_and_partial_extras_as_a_left_merge():
    prof = pd.DataFrame({
        "customer_id": ["c", "a", "d", "b"], "plan": ["x", "y", None, "x"],
        "age": [30.0, None, 50.0, 41.0], "start": pd.to_datetime(["2023-01-01"] * 4),
        "churn_date": pd.to_datetime([None, "2023-06-01", None, None]),
        "purchases": [1, 0, 3, 2], "tickets": [0, 1, 0, 2],
        "avg_transaction": [10.0, None, 5.0, 0.0], "nps_group": ["promoter", None, None, "passive"],
    })  # fmt: skip
    extra = pd.DataFrame({
        "customer_id": ["z", "b", "c"], "comments": [4, 2, 1], "mention_price": [1, 0, 1],
        "negative_price": [1, 0, 0], "product_a": [3, 1, 0], "use_events": [9, 0, 5],
    })  # fmt: skip
    got = archetype_features(prof, observed_from="2023-01-01", as_of="2024-01-01", extra=extra)
    base = archetype_features(prof, observed_from="2023-01-01", as_of="2024-01-01")
    keep = ["comments", "mention_price", "product_a", "use_events"]
    want = base.merge(extra[["customer_id", *keep]], on="customer_id", how="left")
    want[keep] = want[keep].fillna(0.0)
    pd.testing.assert_frame_equal(got, want)
    assert got["comments"].tolist() == [1.0, 0.0, 0.0, 2.0]
    by_index = extra.set_index("customer_id")
    again = archetype_features(prof, observed_from="2023-01-01", as_of="2024-01-01", extra=by_index)
    pd.testing.assert_frame_equal(again, want)
    in_rows = by_index.reindex(prof["customer_id"]).fillna(0).astype(int)  # as archetype_run's
    aligned = archetype_features(
        prof, observed_from="2023-01-01", as_of="2024-01-01", extra=in_rows
    )
    pd.testing.assert_frame_equal(aligned, want, check_dtype=False)


@pytest.mark.parametrize("n", [1, 7, 50, 2000])
def test_the_most_typical_members_are_those_of_sorting_them_all(n):
    from cxroi.analyses.archetype_description import _first

    rng = np.random.default_rng(n)
    # many ties: probabilities on a coarse grid, ids as text in shuffled order
    proba = rng.integers(0, 20, 1000) / 20
    ids = rng.permutation([f"c{i:05d}" for i in range(1000)]).astype(object)
    want = np.lexsort((ids, -proba))[:n]
    np.testing.assert_array_equal(_first(-proba, ids, n), want)
