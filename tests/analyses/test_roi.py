"""``roi simulate`` on a simulated company: its point estimate recomputed by hand from the raw
tables and the adjusted effects, its predictive band, and draws beyond the room to move."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxroi import Workspace, analyses
from cxroi.analyses.initiative_panels import groups
from cxroi.analyses.roi import simulation
from cxroi.analyses.roi_spend import expected_spend
from cxroi.errors import CxroiError
from cxroi.models.clv import BetaGeo
from cxroi.models.effects import perception_effects
from cxroi.models.ledger import ledger_frame
from tests.utils.cli import run_json


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    from cxroi.simulate import generate

    sim = generate(customers=2000, months=24, seed=6)
    path = tmp_path_factory.mktemp("roi") / "ws"
    with Workspace.init(path) as ws:
        for name, table in sim.tables.items():
            ws.ingest(name, table)
    return path


def _months(ts: pd.Series, first: dt.date) -> pd.Series:
    ts = pd.to_datetime(ts)
    return (ts.dt.year - first.year) * 12 + ts.dt.month - first.month + 1


def test_point_estimate_is_the_closed_form_of_its_inputs(company):
    """By hand in pandas: I003 reaches north premium (no holdout). Months count from the first
    answer or purchase; the customers' churns, spend and support cost of the 12 months before
    the day after the data end; their NPS shares from their last relationship answer; the
    adjusted effects; then the hazard ratio and spend effect of +30 points, valued monthly,
    with spend per customer falling as each customer's expected purchase days (BG/NBD fitted
    on the purchase days, in months of 365.25 / 12 days, of every customer still active) times
    their mean spend per purchase day."""
    with Workspace.open(company, read_only=True) as ws:
        r = analyses.roi_simulate(ws, "I003", draws=200, horizon_months=24)
        eff = perception_effects(ws.tables, survey="relationship", max_age=2,
                                 outcomes=("churn", "monthly_spend"))  # fmt: skip
        led = ledger_frame(ws.tables)
        names = ("customers", "transactions", "tickets", "responses", "events", "initiatives")
        t = {n: ws.table(n).to_pandas() for n in names}
        rate = ws.settings.discount_rate
    ini = t["initiatives"].set_index("initiative_id").loc["I003"]
    cust = t["customers"]
    target = set(cust.loc[(cust["plan"] == "premium") & (cust["region"] == "north"), "customer_id"])
    days = [t["transactions"]["ts"], t["responses"]["ts"], t["tickets"]["opened_at"],
            t["events"]["ts"]]  # fmt: skip
    lo = min(pd.to_datetime(x).min() for x in days).date()
    last = max(pd.to_datetime(x).max() for x in days).date()
    first = max(lo, min(t["responses"]["ts"].min(), t["transactions"]["ts"].min()).date())
    cut = _months(pd.Series([last + dt.timedelta(days=1)]), first).iloc[0]
    led_all = led
    led = led[led["customer_id"].isin(target)].assign(
        p_in=lambda x: _months(x["entry"], first).clip(lower=1),
        p_out=lambda x: _months(x["exit"], first),
    )
    rows = []
    for c in led.itertuples():
        for m in range(c.p_in, min(c.p_out, cut - 1) + 1):
            rows.append((c.customer_id, m, int(c.churned == 1 and m == c.p_out)))
    months = pd.DataFrame(rows, columns=["customer_id", "m", "churn"])
    for name, ts, amount in (("transactions", "ts", "amount"), ("tickets", "opened_at", "cost")):
        x = t[name].assign(m=lambda f, ts=ts: _months(f[ts], first))
        x = x.groupby(["customer_id", "m"], as_index=False)[amount].sum()
        months = months.merge(x, on=["customer_id", "m"], how="left").fillna({amount: 0.0})
    recent = months[months["m"] >= cut - 12]
    h0 = recent["churn"].sum() / len(recent)
    s0 = recent["amount"].sum() / len(recent)
    m0 = s0 - recent["cost"].sum() / len(recent)
    active = set(led.loc[led["churned"] == 0, "customer_id"])
    rs = t["responses"]
    rs = rs[(rs["survey"] == "relationship") & rs["nps"].notna() & rs["customer_id"].isin(active)]
    last_nps = rs.sort_values("ts").groupby("customer_id")["nps"].last()
    group = np.where(last_nps >= 9, "promoter", np.where(last_nps >= 7, "passive", "detractor"))
    pi = pd.Series(group).value_counts(normalize=True)
    e = eff.set_index(["outcome", "nps_group"])["estimate"]
    hazard = {"promoter": 1.0, **{g: e[("churn", g)] for g in ("passive", "detractor")}}
    spend = {"promoter": 1.0, **{g: e[("monthly_spend", g)] for g in ("passive", "detractor")}}
    moved = ini["expected_effect"] / 100
    d, p = pi["detractor"], pi["passive"]
    after = {"detractor": d - moved * d / (d + p),
             "passive": p + moved * d / (d + p) - moved * p / (d + p),
             "promoter": pi["promoter"] + moved * p / (d + p)}  # fmt: skip
    hr = sum(after[g] * hazard[g] for g in after) / sum(pi[g] * hazard[g] for g in after)
    ds = s0 * (sum(after[g] * spend[g] for g in after) / sum(pi[g] * spend[g] for g in after) - 1)
    # each active customer's purchase days up to the data end
    still = set(led_all.loc[led_all["churned"] == 0, "customer_id"])
    tx = t["transactions"].assign(day=lambda f: pd.to_datetime(f["ts"]).dt.normalize())
    tx = tx[tx["customer_id"].isin(still) & (tx["amount"] >= 0)]
    days = tx.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    per = days.groupby("customer_id").agg(first=("day", "min"), last=("day", "max"),
                                          n=("day", "size"), total=("amount", "sum"))  # fmt: skip
    month = 365.25 / 12
    freq, rec = per["n"] - 1, (per["last"] - per["first"]).dt.days / month
    age = (pd.Timestamp(last) - per["first"]).dt.days / month
    bg = BetaGeo().fit(freq, rec, age)
    mine = per.index.isin(active)
    cum = [np.zeros(mine.sum())] + [
        bg.conditional_expected_purchases(k, freq[mine], rec[mine], age[mine]) for k in range(1, 25)
    ]
    value = (per["total"] / per["n"])[mine].to_numpy()
    path = (np.diff(np.column_stack(cum), axis=1) * value[:, None]).sum(axis=0) / len(active)
    assert path[-1] < path[0] < s0  # the survivors' spend falls (purchase dropout)
    c = path / s0
    i = (1 + rate) ** (1 / 12) - 1
    n = len(active)
    benefit = sum(
        n * ((m0 + s0 * (c[k - 1] - 1) + ds * c[k - 1]) * (1 - h0 * hr) ** k
             - (m0 + s0 * (c[k - 1] - 1)) * (1 - h0) ** k) / (1 + i) ** k
        for k in range(1, 25)
    )  # fmt: skip
    cost = ini["cost"] + sum(ini["running_cost"] / (1 + i) ** k for k in range(1, 25))
    roi = r.table("roi").set_index("quantity")
    assert r.params["target_customers"] == n
    assert r.params["hazard_ratio"] == pytest.approx(hr, rel=1e-9)
    assert r.params["spend_effect_monthly"] == pytest.approx(ds, rel=1e-9)
    assert r.params["spend_path"] == pytest.approx(path, rel=1e-6)
    assert roi.loc["benefit", "estimate"] == pytest.approx(benefit, rel=1e-9)
    assert roi.loc["npv", "estimate"] == pytest.approx(benefit - cost, rel=1e-9)
    fan = r.table("fan")
    assert len(fan) == 24 and fan["net_point"].iloc[-1] == pytest.approx(benefit - cost)
    assert np.all(fan["net_low"] <= fan["net_high"])
    assert 0 <= r.params["probability_roi_positive"] <= 1
    assert r.params["survey"] == "relationship"
    assert r.problems() == []


def test_expected_spend_against_the_posterior_by_quadrature():
    """Each customer's expected spend month by month against the BG/NBD posterior integrated
    numerically, not through the closed form: on a 1,500 x 1,500 grid of equal prior mass over
    the purchase rate (Gamma(r, alpha)) and the dropout chance (Beta(a, b)), weigh each point by
    the likelihood of the customer's history (alive: (1-p)^x lam^x e^(-lam T); dropped out after
    the last purchase: p (1-p)^(x-1) lam^x e^(-lam t_x)); an alive customer buys
    (1 - e^(-lam p t)) / p times in the next t months. Month t's spend is the mean spend per
    purchase day times the difference of that expectation at t and t - 1. The grid's error is
    about 1e-4 (it shrinks as the grid grows: 750, 1,500, 3,000 points are 4e-4, 1.1e-4, 3e-5
    off for the customer with 5 repeat purchases)."""
    model = BetaGeo()
    model.params_ = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}
    summary = pd.DataFrame({"frequency": [0, 2, 5, 1], "recency": [0.0, 5.0, 7.5, 1.0],
                            "T": [10.0, 8.0, 9.0, 12.0],
                            "value": [30.0, 12.0, 50.0, 8.0]})  # fmt: skip
    got = expected_spend(model, summary, 4)
    k = 1500
    u = (np.arange(k) + 0.5) / k
    lam = stats.gamma.ppf(u, 0.5, scale=1 / 5.0)[:, None]
    p = stats.beta.ppf(u, 0.8, 2.5)[None, :]
    want = []
    for x, tx, big_t, value in summary.itertuples(index=False):
        alive = (1 - p) ** x * lam**x * np.exp(-lam * big_t)
        gone = p * (1 - p) ** (x - 1) * lam**x * np.exp(-lam * tx) if x > 0 else 0.0
        cum = [(alive * (1 - np.exp(-lam * p * t)) / p).sum() / (alive + gone).sum()
               for t in range(5)]  # fmt: skip
        want.append(value * np.diff(cum))
    assert got.shape == (4, 4)
    assert got == pytest.approx(np.array(want), rel=3e-4)
    assert np.all(np.diff(got, axis=1) < 0)  # fewer purchases as time goes on


def test_spend_to_come_is_what_the_customers_then_spent(company):
    """Against the simulator's purchase dropout: the customers no initiative targets, valued as
    on 1 January 2025 (month 13 of 24) for the 12 months to the data end. Their expected spend
    per month alive (``spend_path``, from their purchases before that day only) against what
    those active on the day actually spent per customer-month while active, month by month,
    counted here in pandas (those who started before the day: the path is of the customers
    with months before it): their spend falls as they stop buying, so holding it at its level
    of the 12 months before overstates the year by a fifth and more; the path is within 15%
    and less than half as far off."""
    day = dt.date(2025, 1, 1)
    with Workspace.open(company, read_only=True) as ws:
        control = groups(ws, "I003")["control"]
        sim = simulation(ws, "I003", customers=control, as_of=day, horizon_months=12, draws=50)
        led = ledger_frame(ws.tables)
        tx = ws.table("transactions").to_pandas()
    on = pd.Timestamp(day)
    led = led[led["customer_id"].isin(control) & (pd.to_datetime(led["entry"]) < on)]
    exit_ = pd.to_datetime(led["exit"]).where(led["churned"] == 1)
    led, exit_ = led[exit_.isna() | (exit_ >= on)], exit_[exit_.isna() | (exit_ >= on)]
    ts = pd.to_datetime(tx["ts"])
    actual = []
    for k in range(12):
        lo, hi = on + pd.DateOffset(months=k), on + pd.DateOffset(months=k + 1)
        alive = led.loc[exit_.isna() | (exit_ >= lo), "customer_id"]
        spent = tx.loc[tx["customer_id"].isin(alive) & (ts >= lo) & (ts < hi), "amount"]
        actual.append(spent.sum() / len(alive))
    year, flat = sum(actual), 12 * sim.baseline["spend_monthly"]
    assert sim.spend_path is not None
    expected = float(sim.spend_path.sum())
    assert flat / year > 1.2
    assert abs(expected / year - 1) < 0.15
    assert abs(expected - year) < 0.5 * abs(flat - year)
    assert np.all(np.diff(sim.spend_path) < 0)


def test_the_predictive_band_holds_the_expected_one_and_widens_with_the_effect_sd(company):
    with Workspace.open(company, read_only=True) as ws:
        r = analyses.roi_simulate(ws, "I001", draws=400)
        wide = analyses.roi_simulate(ws, "I001", draws=400, effect_sd=8.0)
        up = analyses.roi_simulate(ws, "I001", draws=10, effect=r.params["nps_change"] + 1)
    t = r.table("roi").set_index("quantity").loc["npv"]
    w = wide.table("roi").set_index("quantity").loc["npv"]
    # the outcome noise of measuring the customers adds to the estimates' uncertainty
    assert t["ci_low"] < t["expected_low"] < t["estimate"] < t["expected_high"] < t["ci_high"]
    assert (t["ci_high"] - t["ci_low"]) > 1.5 * (t["expected_high"] - t["expected_low"])
    # the point estimate does not move with the effect's uncertainty; the bands widen
    assert w["estimate"] == pytest.approx(t["estimate"])
    # the NPV is near linear in the change: an sd of 8 points adds (in quadrature) about
    # 2 x 1.645 x 8 x the NPV of one point more to the width of the expected band
    slope = up.table("roi").set_index("quantity").loc["npv", "estimate"] - t["estimate"]
    added = np.sqrt((w["expected_high"] - w["expected_low"]) ** 2
                    - (t["expected_high"] - t["expected_low"]) ** 2)  # fmt: skip
    assert added == pytest.approx(2 * 1.645 * 8.0 * slope, rel=0.25)
    assert (w["ci_high"] - w["ci_low"]) > (t["ci_high"] - t["ci_low"])
    noise = r.table("inputs").set_index("input")["value"]
    assert noise["outcome noise sd, spend effect after 36 months"] > 0


def test_draws_beyond_the_room_to_move_are_clipped(company):
    """An expected change just inside the room, drawn with a wide sd: about half the draws
    would move more customers than there are below promoter; they are clipped, and said."""
    with Workspace.open(company, read_only=True) as ws:
        shares = analyses.roi_simulate(ws, "I001", draws=10).params["shares"]
        room = 100 * (shares["passive"] + shares["detractor"])
        r = analyses.roi_simulate(ws, "I001", draws=300, effect=room - 0.5, effect_sd=20.0)
    # the point's shares are every draw's mean; each draw's room is its own bootstrap's
    assert 60 < r.params["clipped_draws"] < 240
    assert any("clipped" in w for w in r.warnings)
    roi = r.table("roi").set_index("quantity")
    assert np.isfinite(roi.loc["npv", ["estimate", "ci_low", "ci_high"]].astype(float)).all()
    assert r.problems() == []


def test_clear_errors(company):
    with Workspace.open(company, read_only=True) as ws:
        with pytest.raises(CxroiError, match="no initiative 'X9'"):
            analyses.roi_simulate(ws, "X9")
        with pytest.raises(CxroiError, match="draws must be at least 1"):
            analyses.roi_simulate(ws, "I001", draws=0)
        with pytest.raises(CxroiError, match="needs more than the"):
            analyses.roi_simulate(ws, "I001", effect=99.0)
        r = analyses.roi_simulate(ws, "I001", draws=20, survey="exit")
    assert r.params["survey"] is None
    assert "no 'exit' survey: NPS from every response instead" in r.warnings


def test_cli_json(company):
    r = run_json(["roi", "simulate", "--initiative", "I005", "--draws", "50", "-w", str(company)])
    rows = {row["quantity"]: row for row in r.get("roi").records()}
    assert set(rows) == {"npv", "roi", "benefit", "payback_month", "cost"}
    assert r.params["survey"] == "relationship"
    # I005 has no running cost: the cost is the one-off cost, scaled to the company's size
    with Workspace.open(company, read_only=True) as ws:
        ini = ws.table("initiatives").to_pandas().set_index("initiative_id").loc["I005"]
    assert ini["running_cost"] == 0 and ini["cost"] == 50_000 * 2000 / 20_000
    assert rows["cost"]["estimate"] == ini["cost"] and rows["cost"]["flag"] == "exact"


def test_a_draw_without_spend_before_keeps_a_flat_trend():
    # the spend path as a multiple of the spend before, by hand; a draw with no spend before
    # (its spend effect is 0 too) stays flat instead of dividing by zero
    from cxroi.analyses.roi import _trend

    got = _trend(np.array([[20.0, 10.0], [5.0, 4.0]]), np.array([40.0, 0.0]))
    assert got.tolist() == [[0.5, 0.25], [1.0, 1.0]]
