"""``roi simulate`` on a simulated company, its point estimate recomputed from ``value``."""

from __future__ import annotations

import numpy as np
import pytest

from cxroi import Workspace, analyses
from cxroi.errors import CxroiError
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


def test_point_estimate_is_the_closed_form_of_the_value_table(company):
    with Workspace.open(company, read_only=True) as ws:
        r = analyses.roi_simulate(ws, "I003", draws=200, horizon_months=24)
        value = analyses.value(ws, n_boot=0).table("value")
        led = ledger_frame(ws.tables)
        cust = ws.table("customers").to_pandas()
        rate = ws.settings.discount_rate
        ini = ws.table("initiatives").to_pandas().set_index("initiative_id").loc["I003"]
    target = cust[(cust["plan"] == "premium") & (cust["region"] == "north")]
    active = led[led["customer_id"].isin(set(target["customer_id"])) & (led["churned"] == 0)]
    shares = active["nps_group"].value_counts(normalize=True)
    assert r.params["target_customers"] == len(active)
    v = value.set_index(["nps_group", "metric"])["value"]
    # by hand from the value table: monthly margin x monthly survival, discounted monthly
    i = (1 + rate) ** (1 / 12) - 1
    d, p = shares.get("detractor", 0), shares.get("passive", 0)
    delta = ini["expected_effect"] / 100
    f = {
        ("detractor", "passive"): delta * d / (d + p),
        ("passive", "promoter"): delta * p / (d + p),
    }

    def month(g, t):
        margin = v[(g, "spend_per_year")] - v[(g, "support_cost_per_year")]
        return margin / 12 * (1 - v[(g, "churn_rate")]) ** (t / 12)

    benefit = sum(
        len(active) * fm * (month(b, t) - month(a, t)) / (1 + i) ** t
        for (a, b), fm in f.items()
        for t in range(1, 25)
    )
    cost = ini["cost"] + sum(ini["running_cost"] / (1 + i) ** t for t in range(1, 25))
    roi = r.table("roi").set_index("quantity")
    assert roi.loc["benefit", "estimate"] == pytest.approx(benefit, rel=1e-9)
    assert roi.loc["npv", "estimate"] == pytest.approx(benefit - cost, rel=1e-9)
    assert roi.loc["npv", "ci_low"] < roi.loc["npv", "estimate"] < roi.loc["npv", "ci_high"]
    fan = r.table("fan")
    assert len(fan) == 24 and fan["net_point"].iloc[-1] == pytest.approx(benefit - cost)
    assert np.all(fan["net_low"] <= fan["net_high"])
    assert 0 <= r.params["probability_roi_positive"] <= 1
    assert r.problems() == []


def test_effect_uncertainty_widens_the_band(company):
    with Workspace.open(company, read_only=True) as ws:
        narrow = analyses.roi_simulate(ws, "I001", draws=300).table("roi").set_index("quantity")
        wide = analyses.roi_simulate(ws, "I001", draws=300, effect_sd=8.0)
    w = wide.table("roi").set_index("quantity")
    assert (w.loc["npv", "ci_high"] - w.loc["npv", "ci_low"]) > 2 * (
        narrow.loc["npv", "ci_high"] - narrow.loc["npv", "ci_low"]
    )


def test_clear_errors(company):
    with Workspace.open(company, read_only=True) as ws:
        with pytest.raises(CxroiError, match="no initiative 'X9'"):
            analyses.roi_simulate(ws, "X9")
        with pytest.raises(CxroiError, match="draws must be at least 1"):
            analyses.roi_simulate(ws, "I001", draws=0)
        with pytest.raises(CxroiError, match="needs more than the"):
            analyses.roi_simulate(ws, "I001", effect=99.0)


def test_cli_json(company):
    r = run_json(["roi", "simulate", "--initiative", "I005", "--draws", "50", "-w", str(company)])
    rows = {row["quantity"]: row for row in r.get("roi").records()}
    assert set(rows) == {"npv", "roi", "benefit", "payback_month", "cost"}
    # I005 has no running cost: the cost is the one-off cost, scaled to the company's size
    with Workspace.open(company, read_only=True) as ws:
        ini = ws.table("initiatives").to_pandas().set_index("initiative_id").loc["I005"]
    assert ini["running_cost"] == 0 and ini["cost"] == 50_000 * 2000 / 20_000
    assert rows["cost"]["estimate"] == ini["cost"] and rows["cost"]["flag"] == "exact"
