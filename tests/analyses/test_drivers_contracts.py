"""``drivers --target churned`` in a workspace with only customers and contracts: the drivers
are attributes and contract fields, checked against an OLS fit by hand and the planted
region effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxroi.analyses import drivers
from cxroi.cli import app
from cxroi.errors import CxroiError
from tests.analyses.test_at_risk import contracts_only_workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return contracts_only_workspace(tmp_path_factory.mktemp("co") / "ws")


def _by_hand(ws) -> pd.DataFrame:
    """Churned (no contract without an end) and the level columns, from the raw tables."""
    cust = ws.table("customers").to_pandas().set_index("customer_id")
    ct = ws.table("contracts").to_pandas()
    churned = ct.groupby("customer_id")["end_date"].apply(lambda e: e.notna().all())
    first = ct.sort_values("start_date").groupby("customer_id").first()
    return pd.DataFrame(
        {
            "churned": churned.astype(float),
            "region=south": (cust["region"] == "south").astype(float),
            "region=west": (cust["region"] == "west").astype(float),
            "plan=pro": (cust["plan"] == "pro").astype(float),
            "billing_period=year": (first["billing_period"] == "year").astype(float),
        }
    )


def test_churn_drivers_are_attributes_and_contract_fields(ws):
    r = drivers(ws, target="churned", n_boot=50)
    assert r.problems() == []
    assert r.params["unit"] == "contract customer"
    assert any("no survey responses" in w for w in r.warnings)
    t = r.table("drivers").set_index("driver")
    # north is the reference region, basic the reference plan (the most frequent levels);
    # contract_value is a function of the plan, so it is left out as redundant
    assert set(t.index) == {"region=south", "region=west", "plan=pro", "billing_period=year"}
    assert t["estimate"].idxmax() == "region=west"  # the planted 3x hazard
    assert t.loc["region=west", "sign"] == "+" and t.loc["plan=pro", "sign"] == "-"
    assert (t["n"] == 3000).all()


def test_r2_and_weights_match_ols_by_hand(ws):
    t = drivers(ws, target="churned", n_boot=0).table("drivers").set_index("driver")
    frame = _by_hand(ws)
    x = np.column_stack([np.ones(len(frame)), frame[list(t.index)].to_numpy()])
    y = frame["churned"].to_numpy()
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    r2 = 1 - np.sum((y - x @ beta) ** 2) / np.sum((y - y.mean()) ** 2)
    assert t["r2"].iloc[0] == pytest.approx(r2, rel=1e-6)
    assert t["estimate"].sum() == pytest.approx(r2, rel=1e-6)  # relative weights add up to R²


def test_named_drivers_expand_text_columns(ws):
    t = drivers(ws, target="churned", drivers=["region", "plan=pro"], n_boot=0).table()
    assert list(t["driver"].sort_values()) == ["plan=pro", "region=south", "region=west"]


def test_unknown_driver_names_the_available_columns(ws):
    with pytest.raises(CxroiError, match=r"'nps' is not a customer or contract column.*region"):
        drivers(ws, target="churned", drivers=["nps"])


def test_other_targets_still_need_responses(ws):
    with pytest.raises(CxroiError, match="rating_"):
        drivers(ws, target="nps")


def test_cli_drivers_churned_without_responses(ws):
    res = runner.invoke(
        app, ["drivers", "-w", str(ws.path), "--target", "churned", "--format", "csv"]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].startswith("driver,")
    assert "region=west" in res.stdout
