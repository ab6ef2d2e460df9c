"""Moments of truth and pain points: the simulator's degraded touchpoint and its backstage
steps, found first by ``cxroi journey pain-points`` on seeds no test tunes; the CSAT it reads
against the simulator's expected CSAT; importance and money against a hand calculation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxroi.analyses.journey import journey_init
from cxroi.analyses.journey_pain import journey_pain_points
from cxroi.cli import app
from cxroi.errors import CxroiError
from cxroi.journey import inventory, propose
from cxroi.metrics.money import retention_clv
from cxroi.models.pain_points import importance, pain_point_table, satisfied_value
from cxroi.simulate import generate
from cxroi.simulate import params as P
from tests.models._workspaces import simulated_workspace

HOUR = pd.Timedelta(hours=1)


def test_the_simulator_puts_backstage_steps_before_every_delivery_and_slows_one():
    c = generate(customers=3000, seed=31)
    ev = c.tables["events"].to_pandas()
    truth = c.truth["degraded_touchpoint"]
    back = ev[ev["channel"] == P.BACKSTAGE_CHANNEL]
    assert set(back["touchpoint"]) == set(P.BACKSTAGE_EVENTS)
    assert set(back["stage"]) == {"purchase"} and set(back["outcome"]) == {"success"}
    packed = back[back["touchpoint"] == "order_packed"].sort_values("ts")
    handed = back[back["touchpoint"] == "carrier_handover"].sort_values("ts")
    # one handover per packed order of the same customer, within the drawn hours, slower in
    # the degraded months (those whose purchase was in them); a customer's two orders packed
    # close together pair one handover with the other order now and then
    pairs = pd.merge_asof(handed, packed[["customer_id", "ts"]].assign(ts_packed=packed["ts"]),
                          on="ts", by="customer_id", direction="backward")  # fmt: skip
    hours = (pairs["ts"] - pairs["ts_packed"]) / HOUR
    late = pairs["ts_packed"] >= pd.Timestamp(truth["start"]) + 10 * HOUR
    early = pairs["ts_packed"] < pd.Timestamp(truth["start"])
    lo, hi = truth["handover_hours"]["before"]
    assert hours[early].between(lo, hi).mean() > 0.99
    lo, hi = truth["handover_hours"]["during"]
    assert hours[late].between(lo, hi).mean() > 0.95
    assert abs(hours[late].median() - (lo + hi) / 2) < 3
    # every delivery follows a handover of the same customer, 1-5 days before
    deliveries = ev[ev["touchpoint"] == "delivery"].sort_values("ts")
    d = pd.merge_asof(deliveries, handed[["customer_id", "ts"]].assign(ts_h=handed["ts"]),
                      on="ts", by="customer_id", direction="backward")  # fmt: skip
    transit = (d["ts"] - d["ts_h"]) / pd.Timedelta(days=1)
    assert transit.between(1, 5).mean() > 0.97
    assert truth["touchpoint"] == P.DEGRADED["touchpoint"]
    exp = truth["expected_csat"]
    assert exp["during"]["responses"] > 0 and exp["before"]["responses"] > 0
    assert exp["during_without_drop"]["csat_top2"] - exp["during"]["csat_top2"] > 0.15


def test_the_proposal_makes_backstage_events_steps_of_the_touchpoint_they_lead_to(tmp_path):
    ws, _ = simulated_workspace(tmp_path / "ws", customers=1500, seed=32)
    j = propose(inventory(ws.tables))
    ids = {t.id for t in j.touchpoints}
    assert not ids & set(P.BACKSTAGE_EVENTS)
    delivery = j.touchpoint("delivery")
    assert [b.event for b in delivery.backstage] == list(P.BACKSTAGE_EVENTS)
    assert [t.id for t in j.touchpoints if t.backstage] == ["delivery"]


@pytest.fixture(scope="module", params=[101, 202, 303])
def company(request, tmp_path_factory):
    ws, truth = simulated_workspace(tmp_path_factory.mktemp(f"pain{request.param}") / "ws",
                                    customers=6000, seed=request.param)  # fmt: skip
    journey_init(ws)
    return ws, truth


def test_the_degraded_touchpoint_is_the_first_pain_point(company):
    ws, truth = company
    deg = truth["degraded_touchpoint"]
    r = journey_pain_points(ws, n_boot=50)
    t = r.table("pain_points")
    top = t.iloc[0]
    assert top["touchpoint"] == deg["touchpoint"] and top["rank"] == 1
    assert top["kind"] == "pain point"
    assert (t["kind"] == "pain point").sum() == 1
    # its sentence says what is at stake and names the backstage step that slowed
    assert f"backstage: {deg['backstage_event']}" in top["sentence"]
    assert "at stake" in top["sentence"] and r.readings[0] == top["sentence"]
    assert top["estimate"] > 0 and top["ci_low"] <= top["estimate"] <= top["ci_high"]


def test_the_csat_before_and_during_the_degradation_match_the_simulators_expectation(company):
    ws, truth = company
    deg = truth["degraded_touchpoint"]
    days = (dt.date.fromisoformat(deg["end"]) - dt.date.fromisoformat(deg["start"])).days
    r = journey_pain_points(ws, recent=f"{days}d", n_boot=0)
    assert r.params["recent_from"] == deg["start"]
    row = r.table("pain_points").set_index("touchpoint").loc[deg["touchpoint"]]
    exp = deg["expected_csat"]
    for period, key in (("before", "before"), ("recent", "during")):
        p, n = exp[key]["csat_top2"], exp[key]["responses"]
        assert row[f"n_{period}"] == n  # every response at the touchpoint, in its period
        se = np.sqrt(p * (1 - p) / n)
        assert abs(row[f"csat_{period}"] / 100 - p) < 4 * se, period
    drop = exp["before"]["csat_top2"] - exp["during"]["csat_top2"]
    assert abs(row["weakness"] / 100 - drop) < 0.05


def test_importance_and_money_are_the_hand_calculation():
    rng = np.random.default_rng(5)
    n = 4000
    s = rng.normal(size=n)
    frame = pd.DataFrame({
        "customer_id": np.arange(n),
        "nps_overall": np.clip(np.rint(7 + 2 * s + rng.normal(size=n)), 0, 10),
        "churned": (rng.random(n) < 1 / (1 + np.exp(1.5 + s))).astype(float),
        "exposure_years": rng.uniform(0.5, 2, n),
        "revenue": rng.gamma(2, 50, n),
        "support_cost": rng.gamma(2, 5, n),
    })  # fmt: skip
    seen = rng.random(n) < 0.3
    frame["csat:a"] = np.where(seen, np.clip(np.rint(3.5 + s + rng.normal(size=n)), 1, 5), np.nan)
    frame["csat:b"] = np.where(rng.random(n) < 0.6, np.clip(np.rint(3.5 - 0.2 * s +
                               rng.normal(size=n)), 1, 5), np.nan)  # fmt: skip
    w = importance(frame, ["a", "b"], n_boot=0).set_index("touchpoint")
    x = frame["csat:a"].fillna(frame["csat:a"].mean())
    assert w.loc["a", "nps_weight"] == pytest.approx(np.corrcoef(x, frame["nps_overall"])[0, 1]
                                                     ** 2)  # fmt: skip
    assert w.loc["a", "churn_weight"] == pytest.approx(np.corrcoef(x, frame["churned"])[0, 1]
                                                       ** 2)  # fmt: skip
    assert w.loc["a", "nps_n"] == seen.sum()
    assert w.loc["b", "nps_weight"] == 0.0 and w.loc["b", "nps_sign"] == "-"  # the wrong way
    perf = pd.DataFrame({"touchpoint": ["a", "b"], "csat_before": [0.70, 0.60],
                         "csat_recent": [0.55, 0.62], "n_before": [900, 800],
                         "n_recent": [300, 250], "reach": [1000, 800]})  # fmt: skip
    v = satisfied_value(frame, ["a", "b"])
    t = pain_point_table(perf, w.reset_index(), v, discount_rate=0.1).set_index("touchpoint")
    a = t.loc["a"]
    assert a["weakness"] == pytest.approx(0.15)  # its own past: 70% -> 55%
    assert a["reference"] == pytest.approx(0.62) and t.loc["b", "weakness"] == 0.0
    assert a["importance"] == pytest.approx(1.0)  # b's weights are the wrong way: 0
    assert a["kind"] == "pain point" and a["rank"] == 1
    d = frame[frame["csat:a"].notna()]
    sat = d["csat:a"] >= 4
    lam = {k: d.loc[m, "churned"].sum() / d.loc[m, "exposure_years"].sum()
           for k, m in (("sat", sat), ("unsat", ~sat))}  # fmt: skip
    margin = (d["revenue"] - d["support_cost"]).sum() / d["exposure_years"].sum()
    gain = (retention_clv(margin, np.exp(-lam["sat"]), 0.1)
            - retention_clv(margin, np.exp(-lam["unsat"]), 0.1))  # fmt: skip
    assert a["estimate"] == pytest.approx(1000 * 0.15 * float(gain))
    assert a["ci_low"] < a["estimate"] < a["ci_high"]


def test_bad_requests_are_one_line_with_exit_code_2(company, tmp_path):
    ws, _ = company
    with pytest.raises(CxroiError, match=r"^--recent 'soon': write a duration"):
        journey_pain_points(ws, recent="soon")
    with pytest.raises(CxroiError, match=r"^--recent '5000d' covers all the data"):
        journey_pain_points(ws, recent="5000d")
    with pytest.raises(CxroiError, match=r"^no overall NPS: no answer with an NPS is of survey"):
        journey_pain_points(ws, survey="nope")
    out = CliRunner().invoke(app, ["journey", "pain-points", "--recent", "0d", "-w", ws.path])
    assert out.exit_code == 2
    assert out.output.strip().splitlines() == [
        "error: --recent '0d': write a positive duration such as 90d"
    ]


def test_the_blueprint_marks_the_pain_points_of_the_map_as_it_is_now(company, tmp_path):
    from dataclasses import replace
    from pathlib import Path
    from xml.etree import ElementTree as ET

    from cxroi.analyses.journey import journey_picture
    from cxroi.analyses.journey_pain import pain_point_ids
    from cxroi.journey import dump, load

    ws, truth = company
    deg = truth["degraded_touchpoint"]["touchpoint"]
    assert pain_point_ids(ws) == [deg]
    out = tmp_path / "blueprint.svg"
    journey_picture(ws, "blueprint", out)
    text = " ".join("".join(t.itertext()) for t in ET.parse(out).getroot().iter(
        "{http://www.w3.org/2000/svg}text"))  # fmt: skip
    assert text.count("pain point") == 1
    # the map edited: delivery no longer measured by its survey, so it is no pain point
    path = Path(ws.path) / "journey.yaml"
    j = load(path)
    stages = tuple(replace(s, touchpoints=tuple(
        replace(t, surveys=()) if t.id == deg else t for t in s.touchpoints))
        for s in j.stages)  # fmt: skip
    path.write_text(dump(replace(j, stages=stages)))
    try:
        assert deg not in pain_point_ids(ws)
    finally:
        path.write_text(dump(j))
