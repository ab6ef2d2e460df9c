"""``roi measure`` and ``roi compare`` on simulated companies, against the simulator's truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from cxroi import Workspace, analyses
from cxroi.errors import CxroiError
from cxroi.holdout import held_out
from cxroi.schema import MATURITY_LEVELS
from tests.utils.cli import run_json

SEEDS = (21, 22)


def _company(tmp_path_factory, seed: int):
    from cxroi.simulate import generate

    sim = generate(customers=4000, months=24, seed=seed)
    path = tmp_path_factory.mktemp(f"measure{seed}") / "ws"
    with Workspace.init(path) as ws:
        for name, table in sim.tables.items():
            ws.ingest(name, table)
    return path, sim.truth


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Every initiative of two simulated companies, measured."""
    out = []
    for seed in SEEDS:
        path, truth = _company(tmp_path_factory, seed)
        with Workspace.open(path, read_only=True) as ws:
            for t in truth["initiatives"]:
                r = analyses.roi_measure(ws, t["initiative_id"], draws=300)
                out.append((seed, path, t, r))
    return out


def _covered(measured, metric: str, key: str) -> list[bool]:
    hits = []
    for _, _, t, r in measured:
        e = r.table("effects").set_index("metric").loc[metric]
        hits.append(bool(e["ci_low"] <= t[key] <= e["ci_high"]))
    return hits


def test_nps_effect_recovers_the_truth_over_seeds(measured):
    hits = _covered(measured, "nps_points", "true_effect_nps_points")
    assert len(hits) == 16 and sum(hits) >= 14, hits
    # and the estimates track the truth across initiatives (they range 3 to 35 points)
    est = [r.table("effects").set_index("metric").loc["nps_points", "estimate"]
           for *_, r in measured]  # fmt: skip
    true = [t["true_effect_nps_points"] for _, _, t, _ in measured]
    assert np.corrcoef(est, true)[0, 1] > 0.8


def test_score_and_churn_effects_cover_the_truth(measured):
    assert sum(_covered(measured, "nps_score", "true_effect_nps_score")) >= 14
    assert sum(_covered(measured, "churn_hazard_ratio", "true_effect_churn_hr")) >= 14


def test_the_effects_json_carries_the_contract(measured):
    _, _, _, r = measured[0]
    e = r.table("effects")
    assert list(e["metric"]) == ["nps_points", "nps_score", "churn_hazard_ratio",
                                 "spend_per_month"]  # fmt: skip
    for c in ("estimate", "ci_low", "ci_high", "n", "method", "level"):
        assert e[c].notna().all(), c
    assert (e["level"] == 0.95).all()
    for k in ("npv", "roi", "payback_months", "costs_counted"):
        assert k in r.params
    roi = r.table("roi").set_index("quantity")
    assert roi.loc["npv", "estimate"] == pytest.approx(r.params["npv"])
    assert roi.loc["npv", "ci_low"] <= r.params["npv"] <= roi.loc["npv", "ci_high"]
    assert np.isfinite(roi.loc["npv", "simulated"])
    assert r.problems() == []


def test_the_spend_effect_carries_its_pre_trend_check(measured):
    # spend's targeted curve is fitted on the months before launch: its check is then that of
    # the attribute trends alone, still shown
    for _, _, t, r in measured:
        p = float(r.table("effects").set_index("metric").loc["spend_per_month", "pretrend_p"])
        assert 0 <= p <= 1, (t["initiative_id"], p)


def test_the_simulation_beside_is_of_the_same_customers_and_months(measured):
    """The simulated value beside the realised one is ``roi simulate`` as at launch, on the
    customers measured, for the months since launch; the agreement band is that of the
    simulated expected value plus this measurement's error, so it holds the simulation's
    estimate and is wider than its band of the expected value alone."""
    for _, _, t, r in measured:
        p = r.params
        assert p["simulated_customers"] == p["customers_at_launch"]
        npv = r.table("roi").set_index("quantity").loc["npv"]
        assert npv["agreement_low"] < npv["simulated"] < npv["agreement_high"]
        assert npv["simulated_low"] < npv["simulated"] < npv["simulated_high"]
        inside = npv["agreement_low"] <= p["npv"] <= npv["agreement_high"]
        assert p["simulated_agrees"] is bool(inside), t["initiative_id"]
        covers = npv["simulated_low"] <= p["npv"] <= npv["simulated_high"]
        assert p["simulated_band_covers"] is bool(covers)
        said = "agrees with the simulation" if inside else "does not agree with the simulation"
        assert said in r.readings[-1]
    with Workspace.open(measured[0][1], read_only=True) as ws:
        launch = dt.date.fromisoformat(measured[0][3].params["launch"])
        alone = analyses.roi_simulate(ws, measured[0][2]["initiative_id"], as_of=launch,
                                      horizon_months=measured[0][3].params["horizon_months"],
                                      draws=300)  # fmt: skip
    # with no holdout and no overlap the customers reached are those measured: same value
    first = measured[0][3].table("roi").set_index("quantity").loc["npv", "simulated"]
    assert alone.table("roi").set_index("quantity").loc["npv", "estimate"] == pytest.approx(first)
    # and the spend it expected month by month is roi simulate's own
    path = measured[0][3].params["simulated_spend_path"]
    assert len(path) == measured[0][3].params["horizon_months"]
    assert path == pytest.approx(alone.params["spend_path"], rel=1e-12)


def test_the_holdout_is_the_comparison_when_recorded(measured):
    seed, path, t, r = next(m for m in measured if m[2]["initiative_id"] == "I002")
    assert t["holdout_share"] == 0.3
    assert r.params["design"].startswith("randomised holdout of 30%")
    with Workspace.open(path, read_only=True) as ws:
        cust = ws.table("customers").to_pandas()
    target = cust[(cust["region"] == "east") & (cust["plan"] == "standard")]["customer_id"]
    held = held_out("I002", list(target), 0.3)
    assert r.params["comparison_customers"] == int(held.sum())
    assert r.params["treated_customers"] == int((~held).sum())
    # the simulator reached exactly the customers the hash leaves in
    assert t["n_treated_customers"] <= r.params["treated_customers"]


def test_compare_covers_all_four_levels(measured):
    _, path, _, _ = measured[0]
    with Workspace.open(path, read_only=True) as ws:
        r = analyses.roi_compare(ws)
    lv = r.table("levels").set_index("level")
    assert list(lv.index) == list(MATURITY_LEVELS)
    assert (lv["initiatives"] == 2).all()
    per = r.table("initiatives")
    for level in MATURITY_LEVELS:
        mine = per[per["level"] == level]
        # the level's effect is the mean of its initiatives', its ROI the pooled NPV / cost
        assert lv.loc[level, "estimate"] == pytest.approx(mine["nps_effect"].mean())
        assert lv.loc[level, "roi"] == pytest.approx(mine["npv"].sum() / mine["cost"].sum())
        # a t interval on 1 degree of freedom: 12.7 standard errors each side
        half = 12.706204736 * mine["nps_effect"].std(ddof=1) / np.sqrt(2)
        assert lv.loc[level, "ci_high"] - lv.loc[level, "estimate"] == pytest.approx(half)
    assert any("wide" in x for x in r.readings)


@pytest.fixture()
def scratch(measured, tmp_path):
    """A writable copy of the first company."""
    import shutil

    _, path, _, _ = measured[0]
    dst = tmp_path / "ws"
    shutil.copytree(path, dst)
    return dst


def _add(ws, iid: str, start: str, target: str) -> None:
    analyses.initiative_add(
        ws, initiative_id=iid, name=f"test {iid}", level="efficiency", target=target,
        start=dt.date.fromisoformat(start), cost=1000.0, metric="nps",
    )  # fmt: skip


def test_clear_errors_for_what_cannot_be_measured(scratch):
    with Workspace.open(scratch) as ws:
        _add(ws, "T900", "2026-06-01", "plan == 'basic' and region == 'west'")
        _add(ws, "T901", "2025-12-01", "plan == 'basic' and region == 'west'")
        _add(ws, "T902", "2024-01-01", "plan == 'basic' and region == 'west'")
    with Workspace.open(scratch, read_only=True) as ws:
        with pytest.raises(CxroiError, match="after the data end .* nothing to measure yet"):
            analyses.roi_measure(ws, "T900")
        with pytest.raises(CxroiError, match="no whole month after launch yet"):
            analyses.roi_measure(ws, "T901")
        with pytest.raises(CxroiError, match="no before period"):
            analyses.roi_measure(ws, "T902")
        with pytest.raises(CxroiError, match="no initiative 'I999'"):
            analyses.roi_measure(ws, "I999")
        with pytest.raises(CxroiError, match="horizon_months"):
            analyses.roi_measure(ws, "I001", horizon_months=0)


def test_an_overlapping_initiative_is_left_out_and_said(scratch):
    with Workspace.open(scratch) as ws:
        _add(ws, "T910", "2024-10-01", "region == 'north' and channel == 'web'")
        cust = ws.table("customers").to_pandas()
    with Workspace.open(scratch, read_only=True) as ws:
        r = analyses.roi_measure(ws, "I001", draws=100)
    both = cust[(cust["region"] == "north") & (cust["plan"] == "basic")
                & (cust["channel"] == "web")]  # fmt: skip
    assert r.params["left_out_overlap"] == len(both)
    assert any("T910" in w and "left out of both groups" in w for w in r.warnings)


def test_a_measurement_is_read_back_until_the_register_changes(scratch, monkeypatch):
    import shutil
    import sys

    from cxroi.cache import CACHE_DIR

    shutil.rmtree(scratch / CACHE_DIR, ignore_errors=True)  # the copy's entries, if any
    module = sys.modules["cxroi.analyses.roi_measure"]
    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs["draws"])
        return measure(*args, **kwargs)

    measure = module._measure
    monkeypatch.setattr(module, "_measure", counted)
    with Workspace.open(scratch, read_only=True) as ws:
        first = analyses.roi_measure(ws, "I001", draws=50)
        again = analyses.roi_measure(ws, "I001", draws=50)
        assert calls == [50]  # read back, not measured again
        for name in ("effects", "roi", "pretrend"):
            pd.testing.assert_frame_equal(again.table(name), first.table(name))
        assert again.params["npv"] == first.params["npv"] and again.readings == first.readings
        analyses.roi_measure(ws, "I001", draws=60)  # other draws: measured
        assert calls == [50, 60]
    with Workspace.open(scratch) as ws:  # the register changes: measured anew
        _add(ws, "T920", "2024-10-01", "region == 'north' and channel == 'web'")
    with Workspace.open(scratch, read_only=True) as ws:
        analyses.roi_measure(ws, "I001", draws=50)
    assert calls == [50, 60, 50]


def test_cli_measure_json_and_bad_input(measured, capsys):
    _, path, _, _ = measured[0]
    r = run_json(["roi", "measure", "--initiative", "I003", "--workspace", str(path)])
    assert r.analysis == "roi_measure" and isinstance(r.table("effects"), pd.DataFrame)
    from cxroi.cli import app
    from tests.utils.cli import runner

    out = runner.invoke(app, ["roi", "measure", "--initiative", "I404", "--workspace", str(path)])
    assert out.exit_code == 2 and "no initiative 'I404'" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_sample_of_customers_gives_the_answer_of_every_customer(measured):
    """The fast path at scale: a group above the cap enters the spend DiD (and, five times the
    cap, the NPS DiD) as a random sample; here 400 of some 2,000 comparison customers. The
    sampled estimates differ from those of the same DiDs on every customer by no more than
    three standard errors; the churn hazard always counts every customer."""
    seed, path, _, _ = measured[0]
    mine = [(t, r) for s, _, t, r in measured if s == seed]
    with Workspace.open(path, read_only=True) as ws:
        for i, (t, full) in enumerate(mine):
            e = full.table("effects").set_index("metric")
            if i == 0:
                # at this size the default path (no group reaches the cap) is the exact one,
                # intervals included: the fixture's answers serve as every customer's
                exact = analyses.roi_measure(ws, t["initiative_id"], draws=50,
                                             max_customers=None)  # fmt: skip
                x = exact.table("effects").set_index("metric")
                for c in ("estimate", "ci_low", "ci_high", "n"):
                    assert np.allclose(x[c], e[c], rtol=1e-9, equal_nan=True), c
            fast = analyses.roi_measure(ws, t["initiative_id"], draws=50, max_customers=400)
            f = fast.table("effects").set_index("metric")
            for metric in ("nps_points", "nps_score", "spend_per_month"):
                # within 3 standard errors (the larger of the two) of the whole's estimate:
                # 48 comparisons, and the spend DiD, which scales the comparison customers'
                # curve for the targeted group, moves with the 400 comparison customers drawn
                # more than the whole's 95% interval allows
                se_e, se_f = ((x.loc[metric, "ci_high"] - x.loc[metric, "ci_low"]) / 3.919928
                              for x in (e, f))  # fmt: skip
                gap = abs(f.loc[metric, "estimate"] - e.loc[metric, "estimate"])
                bound = 3 * max(se_f, se_e)
                assert gap <= bound, (t["initiative_id"], metric, gap, bound)
                assert f.loc[metric, "n"] <= e.loc[metric, "n"]
            hr = "churn_hazard_ratio"
            assert f.loc[hr, "estimate"] == pytest.approx(e.loc[hr, "estimate"], rel=1e-9)
            if max(fast.params["treated_customers"], fast.params["comparison_customers"]) > 400:
                assert "spend on a random sample of" in fast.method and " 400 of " in fast.method
            else:  # a small holdout design: nothing to sample
                assert "random sample" not in fast.method


def test_the_engine_counts_the_hazard_cells_of_the_pandas_panel(measured):
    """The customer-months stay in the engine; counted there, the hazard cells are those of
    the customer-month panel expanded in pandas from the ledger (the path before). So are the
    treated customers' spend and margin per customer-month after launch that ``roi measure``
    reports (the purchases and ticket costs of each of their months from launch)."""
    from cxroi.analyses import initiative_panels as ip
    from cxroi.models.ledger import ledger_frame

    _, path, _, _ = measured[0]
    with Workspace.open(path, read_only=True) as ws:
        g = ip.groups(ws, "I001")
        launch = ip.month_index(g["rec"]["start_date"], g["first"])
        end = ip.month_index(g["last"], g["first"])
        ids = ip.id_frame(ws, g, launch, end)
        spans = ip.customer_spans(ws, ids, g)
        try:
            cells = ip.hazard_cells(ws, ip.months_table(spans, g), ["plan"], launch)
        finally:
            spans.release()
        led = ledger_frame(ws.tables)
        cust = ws.table("customers").select("customer_id", "plan").to_pandas()
        tx = ws.table("transactions").select("customer_id", "ts", "amount").to_pandas()
        tk = ws.table("tickets").select("customer_id", "opened_at", "cost").to_pandas()
    led = led[led["customer_id"].isin(g["treated"] | g["control"])]
    rows = []
    for c in led.itertuples():
        p_in, p_out = (
            max(1, ip.month_index(c.entry, g["first"])),
            ip.month_index(c.exit, g["first"]),
        )
        for p in range(p_in, min(p_out, end) + 1):
            rows.append((c.customer_id, p, int(p == p_out and c.churned == 1)))
    m = pd.DataFrame(rows, columns=["customer_id", "period", "churn"]).merge(cust)
    m["treated_group"] = m["customer_id"].isin(g["treated"]).astype(int)
    m["post"] = (m["period"] >= launch).astype(int)
    ref = m.groupby(["period", "treated_group", "post", "plan"], as_index=False).agg(
        events=("churn", "sum"), exposure=("churn", "size")
    )
    got = cells.merge(ref, on=["period", "treated_group", "post", "plan"], how="outer")
    assert len(got) == len(ref) == len(cells)
    assert (got["events_x"] == got["events_y"]).all()
    assert (got["exposure_x"] == got["exposure_y"]).all()
    after = m[(m["treated_group"] == 1) & (m["post"] == 1)][["customer_id", "period"]]
    for frame, ts, amount in ((tx, "ts", "amount"), (tk, "opened_at", "cost")):
        period = pd.to_datetime(frame[ts]).map(lambda d: ip.month_index(d, g["first"]))
        sums = frame.assign(period=period).groupby(["customer_id", "period"])[amount].sum()
        after = after.merge(sums.reset_index(), on=["customer_id", "period"], how="left")
    after = after.fillna({"amount": 0.0, "cost": 0.0})
    p = next(r for _, q, t, r in measured if q == path and t["initiative_id"] == "I001").params
    assert p["spend_monthly"] == pytest.approx(after["amount"].mean(), rel=1e-9)
    assert p["margin_monthly"] == pytest.approx((after["amount"] - after["cost"]).mean(), rel=1e-9)


def test_trends_leave_out_a_level_the_others_determine():
    """A city nested in its region: the region's trend is the sum of its cities' trends, so
    one city per region is left out, and the terms span the same space."""
    from cxroi.analyses.initiative_panels import trends

    frame = pd.DataFrame(
        {
            "period": np.tile(np.arange(1, 7), 6),
            "region": np.repeat(["e", "e", "e", "w", "w", "w"], 6),
            "city": np.repeat(["a", "b", "b", "c", "d", "d"], 6),
        }
    )
    out, names = trends(frame, ["region", "city"], levels=True)
    full = np.column_stack(
        [np.ones(len(frame)), frame["period"]]
        + [(frame[a] == v) * k for a, v in (("region", "w"), ("city", "b"), ("city", "c"),
                                             ("city", "d")) for k in (1, frame["period"])]
    ).astype(float)  # fmt: skip
    kept = np.column_stack([np.ones(len(frame)), frame["period"], out[names]])
    assert len(names) == 6  # region w, cities b and c (d: region w less c); level, trend
    assert np.linalg.matrix_rank(kept) == np.linalg.matrix_rank(full) == kept.shape[1]


def _cell_panel(extra_slope: float) -> pd.DataFrame:
    """Customers of two plans in two regions over 12 months, no effect anywhere: spend has a
    customer level, additive plan and region trends, and the targeted cell (plan b in region
    y, launched in month 7) a slope of its own, ``extra_slope``, as a cell of heavy buyers
    falls faster when customers stop buying."""
    rng = np.random.default_rng(3)
    cells = [(p, r) for p in ("a", "b") for r in ("x", "y")]
    rows = []
    for i in range(240):
        plan, region = cells[i % 4]
        level = rng.gamma(4.0, 25.0)
        for period in range(1, 13):
            slope = -1.0 * (plan == "b") - 0.5 * (region == "y")
            slope += extra_slope * (plan == "b" and region == "y")
            y = level + slope * period + rng.normal(0, 2.0)
            rows.append((f"c{i}", period, plan, region, y))
    frame = pd.DataFrame(rows, columns=["customer_id", "period", "plan", "region", "spend"])
    targeted = (frame["plan"] == "b") & (frame["region"] == "y")
    return frame.assign(first_treat=np.where(targeted, 7, 0))


def test_the_targeted_cell_s_own_trend_is_carried_on_in_the_spend_did():
    """No effect: with the targeted cell falling faster than its attributes' trends add up
    to, attribute trends alone find a (false) loss; with the cell's own loading on the
    comparison curve (here a straight line, so a trend of its own) the estimate is near zero,
    within a tenth of the loss found otherwise."""
    from cxroi.analyses.initiative_panels import targeted_trend, trends
    from cxroi.models.did import imputation_did

    frame, terms = trends(_cell_panel(-3.0), ["plan", "region"], levels=False)
    naive = imputation_did(frame, "spend", covariates=terms)
    # the cell's extra -3 a month, carried 3.5 to 8.5 months past the middle of its months
    # before launch, is up to -18 (the attribute trends take some of it from those months)
    assert naive.ci_high < 0 and -18.0 < naive.estimate < -9.0
    with_cell, names = targeted_trend(frame, terms, "spend")
    assert names[-1] == "_t_targeted"
    fit = imputation_did(with_cell, "spend", covariates=names)
    # within 3 standard errors of zero (not 1.96: the curve is itself an average of 180
    # comparison customers, whose sampling error the clustered interval leaves out)
    assert abs(fit.estimate) < 3 * fit.se
    assert abs(fit.estimate) < abs(naive.estimate) / 10


def test_no_targeted_trend_when_the_target_is_one_attribute_level():
    """A target of one attribute level has its trend among the attribute trends already: a
    second copy would make the untreated model singular."""
    from cxroi.analyses.initiative_panels import targeted_trend, trends

    frame = _cell_panel(0.0)
    frame["first_treat"] = np.where(frame["plan"] == "b", 7, 0)
    frame, terms = trends(frame, ["plan", "region"], levels=False)
    out, names = targeted_trend(frame, terms, "spend")
    assert names == terms and "_t_targeted" not in out
