"""The churn hazard counted in the engine (cxroi.models.hazard), against independent references:
the pandas customer-month panel, statsmodels' Poisson GLM and lifelines' CoxTimeVaryingFitter
on the same 100,000-customer panel, and the simulator's truth."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.hazard import (
    PoissonHazard,
    customer_month_panel,
    poisson_newton,
    scored_months,
    with_measure,
    with_nps,
)
from cxroi.models.ledger import customer_ledger
from cxroi.models.panel import customer_months, monthly_nps
from tests.models._workspaces import simulated_workspace


def test_engine_panel_is_the_pandas_panel(tmp_path):
    ws, _ = simulated_workspace(tmp_path / "ws", customers=400, seed=5)
    led = customer_ledger(ws.tables)
    engine = with_nps(customer_month_panel(led), ws.tables["responses"], max_age=2).to_pandas()
    frame = led.to_pandas()
    ref = customer_months(frame, nps=monthly_nps(ws.tables["responses"]), max_age=2)
    engine = engine.sort_values(["customer_id", "m"], ignore_index=True)
    assert len(engine) == len(ref) > 0
    assert (engine["customer_id"].to_numpy() == ref["customer_id"].to_numpy()).all()
    assert (np.diff(engine["m"]) == np.diff(ref["month"]))[
        engine["customer_id"].to_numpy()[1:] == engine["customer_id"].to_numpy()[:-1]
    ].all()
    assert (engine["churned"].to_numpy() == ref["churned"].to_numpy()).all()
    assert np.allclose(engine["nps"].to_numpy(float), ref["nps"].to_numpy(float), equal_nan=True)
    assert (engine["nps_group"].fillna("-") == ref["nps_group"].fillna("-")).all()


def _scored_by_asof(spans, responses, **kw):
    """The reference: every month at risk, the score as of it, the months without one left out."""
    p = with_nps(customer_month_panel(spans, keep=kw.pop("keep", ())), responses, **kw)
    return p.filter(p.nps_group.notnull())


def _sorted(t):
    return t.to_pandas().sort_values(["customer_id", "m"], ignore_index=True)


@pytest.mark.parametrize("max_age", [0, 2, None])
def test_scored_months_are_the_scored_rows_of_the_whole_panel(tmp_path, max_age):
    ws, _ = simulated_workspace(tmp_path / "ws", customers=400, seed=5)
    led = customer_ledger(ws.tables)
    rs = ws.tables["responses"]
    ref = _sorted(_scored_by_asof(led, rs, max_age=max_age, keep=["plan"]))
    got = _sorted(scored_months(led, rs, max_age=max_age, keep=["plan"]))
    assert len(ref) > 100
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)


def test_scored_months_at_the_edges():
    """Scores before the first month at risk, two in one month (the later counts), one after
    the exit, a churner scored in its exit month, a customer never scored."""
    day = pd.Timestamp
    spans = ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": ["a", "b", "c"],
                "entry": [day("2024-03-10"), day("2024-01-01"), day("2024-01-01")],
                "exit": [day("2024-09-30"), day("2024-04-15"), day("2024-06-30")],
                "churned": [0, 1, 0],
            }
        )
    )
    responses = ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": ["a", "a", "a", "a", "b", "b", None],
                "ts": [
                    day("2024-01-05"),
                    day("2024-05-02"),
                    day("2024-05-20"),
                    day("2024-11-01"),
                    day("2024-02-01"),
                    day("2024-04-10"),
                    day("2024-02-01"),
                ],  # fmt: skip
                "nps": [9, 3, 8, 0, 6, 10, 5],
            }
        )
    )
    for max_age in (0, 1, 2, None):
        got = _sorted(scored_months(spans, responses, max_age=max_age))
        ref = _sorted(_scored_by_asof(spans, responses, max_age=max_age))
        pd.testing.assert_frame_equal(got, ref, check_dtype=False)
    got = _sorted(scored_months(spans, responses, max_age=1))
    # a: scored 9 in January (before entry in March: current to February, so never at
    # risk), 8 as the last of May (current May-June); b: 6 in February (to March), 10 in
    # April, its exit month, when it churned
    assert got[["customer_id", "m", "nps", "churned"]].values.tolist() == [
        ["a", 2024 * 12 + 4, 8.0, 0],
        ["a", 2024 * 12 + 5, 8.0, 0],
        ["b", 2024 * 12 + 1, 6.0, 0],
        ["b", 2024 * 12 + 2, 6.0, 0],
        ["b", 2024 * 12 + 3, 10.0, 1],
    ]


def test_poisson_newton_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    n = 3_000
    x = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    exposure = rng.integers(1, 40, n).astype(float)
    d = rng.poisson(exposure * np.exp(-3 + 0.4 * x[:, 1] - 0.2 * x[:, 2])).astype(float)
    beta, cov = poisson_newton(x, d, exposure)
    ref = sm.GLM(d, x, family=sm.families.Poisson(), exposure=exposure).fit()
    assert np.allclose(beta, ref.params, rtol=1e-7, atol=1e-9)
    assert np.allclose(np.sqrt(np.diag(cov)), ref.bse, rtol=1e-6)


def test_poisson_newton_says_when_it_cannot_converge():
    x = np.column_stack([np.ones(4), [0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(CxroiError, match="did not converge"):
        poisson_newton(x, np.array([1.0, 2.0, 0.0, 0.0]), np.ones(4))


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    ws, truth = simulated_workspace(tmp_path_factory.mktemp("h") / "ws", customers=100_000, seed=11)
    yield ws, truth
    ws.close()


def test_hazard_ratios_fall_in_lifelines_interval_on_100k_customers(big):
    """Same panel, two fitters: the Poisson counts (Breslow ties, numeric covariate on its grid)
    and lifelines' CoxTimeVaryingFitter on every customer-month row (Efron ties)."""
    from lifelines import CoxTimeVaryingFitter

    ws, truth = big
    t = ws.tables
    led = customer_ledger(t)
    panel = customer_month_panel(led, keep=["plan", "tenure_years"])
    panel = with_nps(panel, t["responses"])
    tk = t["tickets"]
    hours = (tk.first_response_at.epoch_seconds() - tk.opened_at.epoch_seconds()) / 3600
    panel = with_measure(panel, tk.select(customer_id=tk.customer_id, _t=tk.opened_at, _x=hours))
    panel = panel.mutate(slow_response=(panel.measure_prev > 24.0).fill_null(False))
    panel = panel.filter(panel.nps_group.notnull())
    covariates = ["nps_group", "slow_response", "plan", "tenure_years"]
    fast = PoissonHazard(covariates, reference={"nps_group": "promoter"}).fit(panel)
    assert fast.n_patterns_ < 100_000  # the counts, not the rows, reach Python

    rows = panel.select("customer_id", "m", "churned", *covariates).to_pandas()
    design = pd.DataFrame(
        {
            "id": rows["customer_id"],
            "start": rows["m"] - rows["m"].min(),
            "stop": rows["m"] - rows["m"].min() + 1,
            "event": rows["churned"],
            "slow_response": rows["slow_response"].astype(float),
            "tenure_years": rows["tenure_years"],
            "nps_group=detractor": (rows["nps_group"] == "detractor").astype(float),
            "nps_group=passive": (rows["nps_group"] == "passive").astype(float),
        }
    )
    base = fast.hazard_ratios_.index
    plans = {f"plan={p}" for p in set(rows["plan"])}
    (reference,) = plans - set(base)  # the commonest plan, by customer-months
    assert reference == "plan=" + rows["plan"].value_counts().idxmax()
    for lev in sorted(set(rows["plan"]) - {reference[5:]}):
        design[f"plan={lev}"] = (rows["plan"] == lev).astype(float)
    assert set(design.columns) - {"id", "start", "stop", "event"} == set(base)
    ref = CoxTimeVaryingFitter().fit(design, id_col="id", event_col="event", start_col="start",
                                      stop_col="stop")  # fmt: skip
    ci = np.exp(ref.confidence_intervals_)
    for term in base:
        lo, hi = ci.loc[term].to_numpy()
        assert lo < fast.hazard_ratios_.loc[term, "estimate"] < hi, term
    # and the simulator's truth lies in the fast interval
    slow = fast.hazard_ratios_.loc["slow_response"]
    assert slow["ci_low"] < truth["slow_response_hazard_ratio"] < slow["ci_high"]
