"""Key driver analysis: published mtcars values, brute force, known truth and clear errors."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxroi.errors import CxroiError
from cxroi.models import drivers as drv
from cxroi.models.drivers import (
    KeyDriverAnalysis,
    key_drivers,
    relative_weights,
    shapley_importance,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
MT_DRIVERS = ["cyl", "disp", "hp", "gear"]


@pytest.fixture(scope="module")
def mtcars() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "mtcars.csv")


def _independent(n: int, betas: list[float], noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(betas)))
    df = pd.DataFrame(x, columns=[f"d{i}" for i in range(len(betas))])
    df["y"] = x @ np.array(betas) + noise * rng.normal(size=n)
    return df


# ---------------------------------------------------------------- published result (rwa README)


def test_relative_weights_reproduce_rwa_readme_mtcars(mtcars):
    # rwa::rwa(mtcars, "mpg", c("cyl", "disp", "hp", "gear")): Raw.RelWeight and $rsquare
    res = relative_weights(mtcars, "mpg", MT_DRIVERS, n_boot=0).set_index("driver")
    published = {"cyl": 0.2284797, "disp": 0.2221469, "hp": 0.2321744, "gear": 0.0963886}
    for name, value in published.items():
        assert res.loc[name, "weight"] == pytest.approx(value, abs=5e-7)
    assert res["r2"].iloc[0] == pytest.approx(0.7791896, abs=5e-7)
    # Rescaled.RelWeight (percent of R^2) and signs from the same README
    assert res.loc["hp", "share"] * 100 == pytest.approx(29.79691, abs=5e-5)
    assert res.loc["gear", "share"] * 100 == pytest.approx(12.37037, abs=5e-5)
    assert list(res.loc[MT_DRIVERS, "sign"]) == ["-", "-", "-", "+"]
    assert list(res.index) == ["hp", "cyl", "disp", "gear"]
    assert list(res["rank"]) == [1, 2, 3, 4]


def _brute_force_shapley(df: pd.DataFrame, target: str, drivers: list[str]) -> dict[str, float]:
    """Naive all-subsets Shapley values of R^2 with statsmodels OLS refits."""
    p = len(drivers)

    def r2(subset: tuple[str, ...]) -> float:
        if not subset:
            return 0.0
        return sm.OLS(df[target], sm.add_constant(df[list(subset)])).fit().rsquared

    out = {}
    for j in drivers:
        others = [d for d in drivers if d != j]
        total = 0.0
        for k in range(p):
            for s in itertools.combinations(others, k):
                w = math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p)
                total += w * (r2((*s, j)) - r2(s))
        out[j] = total
    return out


def test_shapley_matches_brute_force_ols_refits(mtcars):
    expected = _brute_force_shapley(mtcars, "mpg", MT_DRIVERS)
    res = shapley_importance(mtcars, "mpg", MT_DRIVERS, n_boot=0).set_index("driver")
    for name, value in expected.items():
        assert res.loc[name, "weight"] == pytest.approx(value, abs=1e-10)
    assert res["weight"].sum() == pytest.approx(0.7791896, abs=5e-7)


def test_sampled_shapley_approaches_exact(mtcars, monkeypatch):
    cols = ["cyl", "disp", "hp", "drat", "wt", "qsec"]
    exact = shapley_importance(mtcars, "mpg", cols, n_boot=0).set_index("driver")["weight"]
    monkeypatch.setattr(drv, "MAX_EXACT_DRIVERS", 3)
    sampled = shapley_importance(mtcars, "mpg", cols, n_boot=0, n_orders=3000, random_state=3)
    sampled = sampled.set_index("driver")["weight"]
    assert sampled.sum() == pytest.approx(exact.sum(), abs=1e-10)  # every order sums to R^2
    np.testing.assert_allclose(sampled[cols], exact[cols], atol=0.005)


# ---------------------------------------------------------------- known truth


@pytest.mark.parametrize("method", ["relative_weights", "shapley"])
def test_independent_drivers_recover_true_weights(method):
    # Independent unit-variance drivers: the true weight of d_j is b_j^2 / var(y).
    betas = [1.0, 0.7, 0.4, 0.2]
    df = _independent(5000, betas, noise=1.0, seed=11)
    var_y = sum(b * b for b in betas) + 1.0
    res = KeyDriverAnalysis(method, random_state=5).fit(df, "y").summary
    assert list(res["driver"]) == ["d0", "d1", "d2", "d3"]
    truth = np.array([b * b / var_y for b in betas])
    assert ((res["ci_low"] <= truth) & (truth <= res["ci_high"])).all()
    assert (res["ci_low"] < res["weight"]).all() and (res["weight"] < res["ci_high"]).all()


def test_bootstrap_is_reproducible_with_seed_and_varies_without(mtcars):
    a = relative_weights(mtcars, "mpg", MT_DRIVERS, random_state=1)
    b = relative_weights(mtcars, "mpg", MT_DRIVERS, random_state=1)
    c = relative_weights(mtcars, "mpg", MT_DRIVERS, random_state=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ci_low"], c["ci_low"])


def test_blocked_bootstrap_matches_row_bootstrap_width():
    # Above max_blocks rows the bootstrap resamples random blocks; its intervals should be as
    # wide as the row bootstrap's (same data, same number of replicates).
    df = _independent(3000, [1.0, 0.5, 0.25], noise=1.5, seed=2)
    rows = KeyDriverAnalysis(n_boot=400, random_state=1, max_blocks=5000).fit(df, "y").summary
    blocks = KeyDriverAnalysis(n_boot=400, random_state=1, max_blocks=500).fit(df, "y").summary
    np.testing.assert_allclose(rows["weight"], blocks["weight"], rtol=1e-12)
    width_rows = rows["ci_high"] - rows["ci_low"]
    width_blocks = blocks["ci_high"] - blocks["ci_low"]
    np.testing.assert_allclose(width_blocks, width_rows, rtol=0.25)


@pytest.mark.parametrize("method", ["relative_weights", "shapley"])
def test_ibis_table_gives_same_weights_as_frame(method):
    df = _independent(3000, [1.0, 0.5, 0.25], noise=1.0, seed=4)
    df.loc[::7, "d1"] = np.nan
    table = ibis.duckdb.connect().create_table("responses", df)
    kw = {"n_boot": 50, "dropna": True, "max_blocks": 300}
    frame = KeyDriverAnalysis(method, **kw).fit(df, "y").summary
    engine = KeyDriverAnalysis(method, **kw).fit(table, "y").summary
    np.testing.assert_allclose(engine["weight"], frame["weight"], rtol=1e-9)
    assert engine["n"].iloc[0] == frame["n"].iloc[0] == 3000 - len(df.loc[::7])
    assert (engine["ci_low"] < engine["weight"]).all()


# ---------------------------------------------------------------- quadrant and groups


def test_quadrant_puts_important_weak_driver_first():
    rng = np.random.default_rng(8)
    n = 2000
    df = pd.DataFrame(
        {
            "rating_delivery": rng.integers(1, 4, n),  # weak (1-3 on 1-5) and important
            "rating_price": rng.integers(3, 6, n),  # strong and important
            "rating_app": rng.integers(1, 4, n),  # weak, minor
            "rating_staff": rng.integers(3, 6, n),  # strong, minor
        }
    ).astype(float)
    df["nps"] = (
        2.0 * df.rating_delivery
        + 2.0 * df.rating_price
        + 0.3 * df.rating_app
        + 0.3 * df.rating_staff
        + rng.normal(size=n)
    )
    q = KeyDriverAnalysis(n_boot=0, scale=(1, 5)).fit(df, "nps").quadrant().set_index("driver")
    assert q.loc["rating_delivery", "quadrant"] == "fix first"
    assert q.loc["rating_price", "quadrant"] == "keep up"
    assert q.loc["rating_app", "quadrant"] == "monitor"
    assert q.loc["rating_staff", "quadrant"] == "maintain"
    # performance on a 0-100 scale of 1-5: mean 2 -> 25, mean 4 -> 75
    assert q.loc["rating_delivery", "performance"] == pytest.approx(25, abs=2)
    assert q.loc["rating_price", "performance"] == pytest.approx(75, abs=2)
    assert q.index[0] == "rating_delivery"


def test_key_drivers_by_group_flags_small_and_failed_groups():
    df = _independent(400, [1.0, 0.5], noise=1.0, seed=9)
    df["plan"] = np.where(np.arange(400) < 380, "basic", "pro")
    df.loc[df.index[-5:], "plan"] = "tiny"
    out = key_drivers(df, "y", ["d0", "d1"], by="plan", min_n=30, n_boot=20)
    by_group = out.groupby("group")["flag"].first()
    assert by_group["basic"] == ""
    assert by_group["pro"] == "small-n"
    assert by_group["tiny"] == "small-n;not-estimable"
    note = out.groupby("group")["note"].first()
    assert note["tiny"].startswith("too few rows: 5 complete rows") and note["basic"] == ""
    assert out.loc[out.group == "tiny", "weight"].isna().all()
    assert set(out.columns) >= {"group", "driver", "weight", "share", "quadrant", "flag", "note"}


# ---------------------------------------------------------------- errors


def test_constant_driver_is_named(mtcars):
    df = mtcars.assign(const=3.0)
    with pytest.raises(CxroiError, match=r"constant column\(s\).*const"):
        relative_weights(df, "mpg", ["hp", "const"])


def test_constant_target_is_named(mtcars):
    with pytest.raises(CxroiError, match=r"constant column\(s\).*flat"):
        relative_weights(mtcars.assign(flat=1.0), "flat", ["hp", "wt"])


@pytest.mark.parametrize("method", ["relative_weights", "shapley"])
def test_collinear_drivers_are_named(mtcars, method):
    df = mtcars.assign(total=mtcars.hp + 2 * mtcars.wt)
    with pytest.raises(CxroiError, match=r"perfectly collinear drivers.*hp, wt, total"):
        KeyDriverAnalysis(method).fit(df, "mpg", ["hp", "cyl", "wt", "total"])


def test_too_few_rows(mtcars):
    with pytest.raises(CxroiError, match=r"too few rows: 12 complete rows for 4 driver\(s\).*14"):
        relative_weights(mtcars.head(12), "mpg", MT_DRIVERS)


def test_missing_values_are_counted_per_column(mtcars):
    df = mtcars.copy()
    df.loc[[0, 1, 2], "hp"] = np.nan
    df.loc[[5], "mpg"] = np.nan
    with pytest.raises(CxroiError, match=r"3 in 'hp'.*1 in 'mpg'.*dropna=True"):
        relative_weights(df, "mpg", MT_DRIVERS)
    kept = relative_weights(df, "mpg", MT_DRIVERS, dropna=True, n_boot=0)
    direct = relative_weights(df.dropna(subset=[*MT_DRIVERS, "mpg"]), "mpg", MT_DRIVERS, n_boot=0)
    assert kept["n"].iloc[0] == 28
    pd.testing.assert_frame_equal(kept, direct)


def test_missing_values_in_engine_table_are_counted(mtcars):
    df = mtcars.copy()
    df.loc[[0, 1], "disp"] = np.nan
    table = ibis.memtable(df)
    with pytest.raises(CxroiError, match=r"2 in 'disp'"):
        relative_weights(table, "mpg", MT_DRIVERS)


@pytest.mark.parametrize(
    ("target", "drivers", "message"),
    [
        ("mpg", ["hp", "nope"], r"column\(s\) not found: nope"),
        ("mpg", ["hp", "mpg"], r"target 'mpg' is also listed"),
        ("mpg", ["hp", "hp"], r"listed twice: hp"),
        ("mpg", [], r"at least one driver"),
        ("mpg", ["hp", "model"], r"non-numeric column\(s\).*model"),
    ],
)
def test_bad_columns(mtcars, target, drivers, message):
    with pytest.raises(CxroiError, match=message):
        relative_weights(mtcars, target, drivers)


def test_unknown_method_and_unfitted(mtcars):
    with pytest.raises(CxroiError, match="unknown method 'lasso'"):
        KeyDriverAnalysis("lasso").fit(mtcars, "mpg", MT_DRIVERS)
    with pytest.raises(CxroiError, match="not fitted"):
        _ = KeyDriverAnalysis().summary
    with pytest.raises(CxroiError, match="not fitted"):
        _ = KeyDriverAnalysis().weights_
    with pytest.raises(CxroiError, match="level must be between 0 and 1"):
        KeyDriverAnalysis(level=1.5).fit(mtcars, "mpg", MT_DRIVERS)


def test_fit_returns_self_and_keeps_no_data(mtcars):
    model = KeyDriverAnalysis(n_boot=10)
    assert not model.is_fitted
    assert model.fit(mtcars, "mpg", MT_DRIVERS) is model
    assert model.is_fitted
    assert not any(isinstance(v, pd.DataFrame) for v in vars(model).values())
    # params_ are the raw weights by driver; they sum to R^2
    assert model.params_.sum() == pytest.approx(model.r2_)
    assert list(model.params_.index) == MT_DRIVERS
