"""cxroi.analyses.clv on a small simulated company: the result, its tables and its errors."""

from __future__ import annotations

import pandas as pd
import pytest

from cxroi.analyses.clv import clv
from cxroi.errors import CxroiError, SmallSampleWarning
from cxroi.results import Result
from cxroi.store import Workspace

CAL, HOLD = "2025-06-30", "2025-12-31"


@pytest.fixture(scope="module")
def company_ws(tmp_path_factory):
    from cxroi.simulate import generate

    company = generate(customers=2000, months=24, seed=2)
    ws = Workspace.init(tmp_path_factory.mktemp("clv") / "ws")
    for table in ("customers", "transactions"):
        ws.ingest(table, company.tables[table])
    yield ws, company
    ws.close()


@pytest.fixture(scope="module")
def result(company_ws):
    return clv(company_ws[0], calibration_end=CAL, holdout_end=HOLD)


def _known(company) -> tuple[pd.DataFrame, pd.Index]:
    tx = company.tables["transactions"].to_pandas()
    tx["day"] = tx.ts.dt.date
    first = tx.groupby("customer_id").day.min()
    return tx, first[first <= pd.Timestamp(CAL).date()].index


def test_result_keeps_the_contract(result):
    assert isinstance(result, Result) and result.problems() == []
    assert result.names == ["segments", "params", "spend_params", "holdout"]
    assert Result.from_json(result.to_json()).params == pytest.approx(result.params)


def test_fitted_parameters_with_intervals(result):
    p = result.table("params").set_index("param")
    assert list(p.index) == ["r", "alpha", "a", "b"]
    assert ((p.ci_low < p.estimate) & (p.estimate < p.ci_high)).all() and (p.se > 0).all()
    assert (p.level == 0.95).all() and (p.n == result.params["n_customers"]).all()
    g = result.table("spend_params").set_index("param")
    assert list(g.index) == ["p", "q", "v"] and (g.n == result.params["n_repeat"]).all()


def test_holdout_against_an_independent_count(company_ws, result):
    _, company = company_ws
    tx, known = _known(company)
    hold = tx[(tx.day > pd.Timestamp(CAL).date()) & tx.customer_id.isin(known)]
    actual = hold[["customer_id", "day"]].drop_duplicates().shape[0]
    h = result.table("holdout").set_index("frequency")
    assert h.loc["all", "actual"] == actual == result.params["holdout_actual"]
    assert h.loc["all", "n"] == len(known)
    assert h.loc["all", "estimate"] == pytest.approx(actual, rel=0.15)
    assert h.drop(index="all")["n"].sum() == len(known)
    assert (h["flag"] == "point-only").all()


def test_segments(company_ws, result):
    _, company = company_ws
    _, known = _known(company)
    seg = result.table("segments")
    assert set(seg.segment) == {"basic", "standard", "premium"}
    assert seg.n.sum() == len(known)
    assert ((seg.ci_low < seg.estimate) & (seg.estimate < seg.ci_high)).all()
    assert seg.total_clv.to_numpy() == pytest.approx((seg.estimate * seg.n).to_numpy())
    assert not seg["flag"].str.contains("small-n").any() and result.readings


def test_small_segments_are_flagged_and_warned(company_ws):
    ws, _ = company_ws
    with pytest.warns(SmallSampleWarning, match="fewer than"):
        r = clv(ws, calibration_end=CAL, by="age")
    seg = r.table("segments")
    assert seg["flag"].str.split(";").map(lambda f: "small-n" in f).any()
    assert r.warnings and r.problems() == [] and "holdout" not in r


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_unit": "year"}, "time_unit must be one of"),
        ({"by": "nope"}, "by 'nope' is not a column of customers"),
        ({"holdout_end": "2025-01-01"}, "holdout_end 2025-01-01 must be after calibration_end"),
        ({"discount_rate": 1.5}, "discount_rate must be in"),
    ],
)
def test_errors_name_parameters(company_ws, options, message):
    with pytest.raises(CxroiError, match=message):
        clv(company_ws[0], calibration_end=CAL, **options)
