"""``cxroi segments`` and ``cxroi opportunities`` on the simulated company.

The segment profiles are recomputed with pandas from the raw tables; the planted niche
(``planted_opportunity`` in the ground truth) must rank first.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxroi.analyses import opportunities, segments
from cxroi.cache import CACHE_DIR
from cxroi.cli import app
from tests.models._workspaces import simulated_workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return simulated_workspace(tmp_path_factory.mktemp("seg") / "ws", customers=10_000, seed=31)


def test_profiles_match_pandas_on_the_raw_tables(company):
    ws, _ = company
    res = segments(ws, by=["plan", "city"], themes=False, n_boot=20)
    assert not res.problems()
    prof = res["profile"].set_index(["dimension", "segment", "metric"])["value"]
    cust = ws.table("customers").to_pandas()
    tx = ws.table("transactions").to_pandas()
    ct = ws.table("contracts").to_pandas()
    rs = ws.table("responses").to_pandas()
    # revenue: purchases plus the monthly contract value over the months observed (the
    # ledger's exposure), per plan; the share of customers is a plain count
    spend = tx[tx["amount"] >= 0].groupby("customer_id")["amount"].sum()
    per = {"month": 1, "quarter": 3, "year": 12}
    ct["monthly"] = (
        ct["value"] / ct["billing_period"].map(per).fillna(1)
        if ("billing_period" in ct)
        else ct["value"]
    )
    open_ = ct[ct["end_date"].isna()].groupby("customer_id")["monthly"].sum()
    last_end = ct.groupby("customer_id")["end_date"].transform("max")
    last = ct[ct["end_date"] == last_end].groupby("customer_id")["monthly"].sum()
    monthly = open_.reindex(cust["customer_id"]).fillna(last.reindex(cust["customer_id"]))
    from cxroi.models.ledger import ledger_frame

    led = ledger_frame(ws.tables).set_index("customer_id").reindex(cust["customer_id"])
    revenue = (
        spend.reindex(cust["customer_id"]).fillna(0).to_numpy()
        + np.nan_to_num(monthly.to_numpy()) * led["exposure_years"].to_numpy() * 12
    )
    cust = cust.assign(revenue=revenue, churned=led["churned"].to_numpy(),
                       exposure=led["exposure_years"].to_numpy())  # fmt: skip
    for plan, g in cust.groupby("plan"):
        assert prof[("plan", plan, "customers")] == len(g)
        assert prof[("plan", plan, "revenue_share")] == pytest.approx(
            g["revenue"].sum() / cust["revenue"].sum(), rel=1e-9
        )
        assert prof[("plan", plan, "churn_rate")] == pytest.approx(
            1 - np.exp(-g["churned"].sum() / g["exposure"].sum())
        )
    # NPS of the customers' latest answers, per city
    nps = rs.dropna(subset=["nps", "customer_id"]).sort_values("ts")
    latest = nps.groupby("customer_id")["nps"].last()
    by_city = cust.set_index("customer_id")["city"].reindex(latest.index)
    for city, s in latest.groupby(by_city):
        expected = 100 * ((s >= 9).mean() - (s <= 6).mean())
        assert prof[("city", city, "nps")] == pytest.approx(expected)


def test_themes_per_segment_carry_their_nps_gap(company):
    ws, _ = company
    res = segments(ws, by=["plan"], n_boot=0)
    th = res["themes"]
    assert set(th["segment"]) == {"basic", "standard", "premium"}
    assert (th.groupby("segment").size() == 3).all()
    r = th.iloc[0]
    assert r["estimate"] == pytest.approx(r["nps_with"] - r["nps_without"])
    assert r["ci_low"] < r["estimate"] < r["ci_high"]


def test_planted_niche_ranks_first(company):
    ws, truth = company
    niche = truth["planted_opportunity"]
    res = opportunities(ws, n_boot=100)
    assert not res.problems()
    top = res["opportunities"].iloc[0]
    assert (top["dimension"], top["segment"]) == (niche["column"], niche["value"])
    assert top["customers"] == niche["customers"]
    assert top["ci_low"] > 0
    assert res.readings[0].startswith(f"#1 {niche['column']} {niche['value']}:")
    assert len(res.readings) == 5


def test_opportunity_intervals_are_the_same_on_every_run(company):
    # the bootstrap draws a weight per customer row: the rows reach it in customer order, not
    # in whatever order the engine returned them (issue 15)
    ws, _ = company
    from cxroi.models.ledger import ledger_frame

    ids = ledger_frame(ws.tables)["customer_id"]
    assert ids.is_monotonic_increasing and ids.is_unique
    runs = [opportunities(ws, n_boot=50)["opportunities"] for _ in range(2)]
    assert runs[0]["ci_low"].notna().any()
    pd.testing.assert_frame_equal(runs[0], runs[1], check_exact=True)
    # the archetypes found on their own thread (the default) are those found one step after
    # the other (a workspace without a sibling connection, as on a server engine); computed
    # anew, the engine's parallel sums may differ in the last digits
    assert (runs[0]["dimension"] == "archetype").sum() >= 2
    shutil.rmtree(ws.path / CACHE_DIR, ignore_errors=True)
    serial = opportunities(_Serial(ws), n_boot=50)["opportunities"]
    pd.testing.assert_frame_equal(runs[0], serial, check_exact=False, rtol=1e-9)


class _Serial:
    """The workspace, without :meth:`~cxroi.store.Workspace.sibling`."""

    def __init__(self, ws):
        self._ws = ws

    def __getattr__(self, name):
        return getattr(self._ws, name)

    def sibling(self):
        return None


def test_cli_segments_and_opportunities_formats(company):
    ws, _ = company
    w = str(ws.path)
    out = runner.invoke(app, ["segments", "-w", w, "--by", "plan", "--no-themes",
                              "--format", "json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert {t["name"] for t in d["tables"]} == {"summary", "profile"}
    csv = runner.invoke(app, ["segments", "-w", w, "--by", "age", "--edges", "age=30,50",
                              "--no-themes", "--format", "csv", "--table", "summary"])  # fmt: skip
    assert csv.exit_code == 0, csv.output
    lines = csv.output.strip().splitlines()
    assert lines[0].startswith("dimension,segment,customers")
    assert [ln.split(",")[1] for ln in lines[1:]] == ["< 30", "30–50", "≥ 50"]
    bad = runner.invoke(app, ["segments", "-w", w, "--by", "age", "--edges", "age=5,50"])
    assert bad.exit_code == 2
    assert "band edge 5 for age lies outside the data (18 to" in bad.output
    empty = runner.invoke(app, ["segments", "-w", w, "--rule", "gold=plan == 'gold'"])
    assert empty.exit_code == 2 and "matches no customer" in empty.output
    assert len(empty.output.strip().splitlines()) == 1


def test_segments_config_section(company):
    ws, _ = company
    conf = ws.path / "cxroi.toml"
    before = conf.read_text()
    try:
        conf.write_text(
            before + '\n[segments]\ndimensions = ["age"]\n[segments.edges]\nage = [40]\n'
        )
        out = runner.invoke(app, ["segments", "-w", str(ws.path), "--no-themes",
                                  "--format", "csv", "--table", "summary"])  # fmt: skip
        assert out.exit_code == 0, out.output
        rows = [ln.split(",")[:2] for ln in out.output.strip().splitlines()[1:]]
        assert rows == [["age", "< 40"], ["age", "≥ 40"]]
        conf.write_text(before + "\n[segments]\ndimension = 3\n")
        bad = runner.invoke(app, ["segments", "-w", str(ws.path)])
        assert bad.exit_code == 2 and "unknown key(s) in [segments]: dimension" in bad.output
    finally:
        conf.write_text(before)


def test_rating_gaps_are_those_of_the_segment_means():
    """The driver to move: per segment, the weighted rating most below the other customers',
    against pandas' means of the customers inside and outside, missing ratings skipped."""
    from cxroi.analyses.opportunities import _rating_gaps
    from cxroi.models.segments import Segmentation

    rng = np.random.default_rng(3)
    n = 2_000
    ids = [f"c{i:05d}" for i in range(n)]
    means = pd.DataFrame({"customer_id": ids[::-1]})  # not in the frame's order
    for j, name in enumerate(["rating_speed", "rating_staff", "rating_price"]):
        x = rng.normal(3.5 + 0.1 * j, 0.8, n)
        x[rng.random(n) < 0.2] = np.nan
        means[name] = x
    means = means.iloc[: n - 50]  # 50 customers never rated
    weight = pd.Series([0.6, 0.3, 0.0], index=["rating_speed", "rating_staff", "rating_price"])
    frame = pd.DataFrame({"customer_id": ids})
    plan = rng.integers(0, 3, n)
    seg = Segmentation(
        codes={"plan": plan, "everyone": np.zeros(n, dtype=np.int64)},
        labels={"plan": ["basic", "plus", "pro"], "everyone": ["all"]},
        edges={},
    )
    got = _rating_gaps((weight, means), frame, seg)

    m = frame.merge(means, on="customer_id", how="left")
    want = {}
    for s, name in enumerate(seg.labels["plan"]):
        inside = plan == s
        gap = m.loc[inside, weight.index].mean() - m.loc[~inside, weight.index].mean()
        score = gap * weight
        j = score.idxmin()
        if gap[j] < 0:
            rated = f"rated {gap[j]:+.2f} vs other customers"
            want[("plan", name)] = f"{j.removeprefix('rating_')} ({rated})"
    assert got == want and len(want) >= 1  # "everyone" has no other customers: no driver


def test_the_profile_read_once_gives_the_segments_and_archetypes_of_reading_it_each(company):
    """opportunities reads the profile once for the segment frame and the archetypes."""
    from cxroi.analyses.archetypes import archetype_run
    from cxroi.analyses.opportunities import _profile
    from cxroi.analyses.segments import segment_frame

    ws, _ = company
    prof = _profile(ws, True)
    pd.testing.assert_frame_equal(segment_frame(ws, profile=prof), segment_frame(ws))
    runs = []
    for given in (prof, None):
        shutil.rmtree(ws.path / CACHE_DIR, ignore_errors=True)
        runs.append(archetype_run(ws, k=3, n_boot=0, themes=False, profile=given))
    shared, own = runs
    pd.testing.assert_frame_equal(shared.assignments, own.assignments)
    assert [t.name for t in shared.result.tables] == [t.name for t in own.result.tables]
    for a, b in zip(shared.result.tables, own.result.tables, strict=True):
        pd.testing.assert_frame_equal(a.frame, b.frame)
    assert shared.assignments["archetype"].nunique() == 3
