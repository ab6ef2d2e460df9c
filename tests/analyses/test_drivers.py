"""``cxroi.analyses.drivers``: the simulator's driver truth, hand joins, the result contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.analyses.drivers import drivers
from cxroi.errors import CxroiError
from cxroi.models.ledger import ledger_frame
from cxroi.results import Result
from tests.models._workspaces import simulated_workspace


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return simulated_workspace(tmp_path_factory.mktemp("sim") / "ws", customers=4000, seed=1)


def _table(ws, **options) -> pd.DataFrame:
    res = drivers(ws, **options)
    assert res.problems() == []
    return res.table("drivers")


def test_driver_shares_rank_true_drivers_in_true_order(company):
    # The truth's weights act on latent qualities; ratings are noisy measures of them with the
    # same noise for every dimension, so the *order* of importance carries over to the ratings
    # (the shares themselves are attenuated and mixed by archetype-level correlation, so the
    # latent w_k^2 / sum w^2 is not the population share of a rating). Recovery means: the
    # estimated shares rank the six ratings in the order of the true weights, and each
    # adjacent pair is separated (the intervals of rank k and rank k+2 do not overlap).
    ws, truth = company
    out = _table(ws, survey="relationship", dropna=True, n_boot=100)
    true_order = sorted(truth["driver_weights"], key=truth["driver_weights"].get, reverse=True)
    assert list(out["driver"]) == true_order
    assert (out["share_ci_low"].to_numpy()[:-2] > out["share_ci_high"].to_numpy()[2:]).all()


def test_result_keeps_the_contract(company):
    ws, _ = company
    res = drivers(ws, survey="relationship", dropna=True, n_boot=50)
    assert res.analysis == "drivers" and res.names == ["drivers"]
    assert res.problems() == []
    frame = res.table("drivers")
    assert {"driver", "estimate", "ci_low", "ci_high", "level", "n", "flag", "share"} <= set(
        frame.columns
    )
    assert (frame["ci_low"] <= frame["estimate"]).all()
    assert (frame["estimate"] <= frame["ci_high"]).all()
    assert res.params["r2"] == pytest.approx(frame["estimate"].sum())
    assert res.readings and res.readings[0].startswith(frame["driver"].iloc[0])
    back = Result.from_json(res.to_json())
    pd.testing.assert_frame_equal(back.table("drivers"), frame, check_dtype=False)
    # without a bootstrap there is no interval, and the flag says why
    point = drivers(ws, survey="relationship", dropna=True, n_boot=0)
    assert point.problems() == [] and (point.table("drivers")["flag"] == "point-only").all()


def test_groups_and_failed_groups(company):
    ws, _ = company
    res = drivers(
        ws, survey="relationship", dropna=True, n_boot=20, by="plan",
        drivers=["rating_delivery", "rating_app"],
    )  # fmt: skip
    assert res.problems() == []
    frame = res.table("drivers")
    assert set(frame["group"]) == {"basic", "standard", "premium"}


def _ols_r2(frame: pd.DataFrame, target: str, drivers: list[str]) -> float:
    import statsmodels.api as sm

    x = sm.add_constant(frame[drivers].astype(float))
    return float(sm.OLS(frame[target].astype(float), x).fit().rsquared)


def test_ledger_columns_as_drivers_match_a_hand_join(company):
    # operational measures of the customer (median first response, ticket count) beside the
    # ratings: the weights sum to the R^2 of OLS on responses joined to the ledger by hand
    ws, _ = company
    names = ["rating_delivery", "rating_support", "first_response_hours", "tickets"]
    out = _table(ws, drivers=names, survey="relationship", dropna=True, n_boot=0)
    out = out.set_index("driver")
    rs = ws.table("responses").to_pandas()
    rs = rs[rs["survey"] == "relationship"]
    led = ledger_frame(ws.tables, survey="relationship")
    frame = rs.merge(led, on="customer_id", how="left").dropna(subset=["nps", *names])
    assert out["n"].iloc[0] == len(frame)
    assert out["estimate"].sum() == pytest.approx(_ols_r2(frame, "nps", names), rel=1e-9)
    assert out.loc["first_response_hours", "sign"] == (
        "+" if frame["nps"].corr(frame["first_response_hours"]) > 0 else "-"
    )


def test_touchpoint_scores_as_drivers_match_a_hand_join(company):
    # each relationship response gets its customer's mean CSAT at delivery and mean CES at
    # support chat (from transactional surveys); weights sum to the OLS R^2 of the hand join
    ws, _ = company
    names = ["rating_delivery", "touchpoint:delivery", "touchpoint:support_chat:ces"]
    out = _table(ws, drivers=names, survey="relationship", dropna=True, n_boot=0)
    rs = ws.table("responses").to_pandas()
    rel = rs[rs["survey"] == "relationship"]
    deliv = rs[rs["touchpoint"] == "delivery"].groupby("customer_id")["csat"].mean()
    chat = rs[rs["touchpoint"] == "support_chat"].groupby("customer_id")["ces"].mean()
    frame = rel.assign(
        **{
            "touchpoint:delivery": rel["customer_id"].map(deliv),
            "touchpoint:support_chat:ces": rel["customer_id"].map(chat),
        }
    ).dropna(subset=["nps", *names])
    assert out["n"].iloc[0] == len(frame) > 100
    assert out["estimate"].sum() == pytest.approx(_ols_r2(frame, "nps", names), rel=1e-9)
    with pytest.raises(CxroiError, match=r"no touchpoint 'moon'; touchpoints: delivery"):
        drivers(ws, drivers=["touchpoint:moon"], n_boot=0)
    with pytest.raises(CxroiError, match=r"the score must be nps, csat or ces, not 'stars'"):
        drivers(ws, drivers=["touchpoint:delivery:stars"], n_boot=0)


def test_drivers_of_churn_follow_the_true_driver_order(company):
    # churn depends on the NPS group, which depends on the ratings' latent qualities, and on
    # slow support directly (a hazard ratio of its own), so the three heaviest true drivers
    # lead the drivers of churn, all with a "-" sign; a churn flag is too noisy a target at
    # 4,000 customers to order the three (their shares are 1-2% of variance)
    ws, truth = company
    out = _table(ws, target="churned", survey="relationship", dropna=True, n_boot=0)
    top = sorted(truth["driver_weights"], key=truth["driver_weights"].get, reverse=True)
    assert set(out["driver"][:3]) == set(top[:3])
    assert set(out["sign"][:3]) == {"-"}


def test_theme_mentions_as_drivers(company):
    from cxroi.analyses.themes import theme_model

    ws, _ = company
    model = theme_model(ws)
    names = list(model.transform(["x"]).names)
    themes = [f"theme:{n}" for n in names]
    out = _table(ws, drivers=themes, n_boot=0)
    rs = ws.table("responses").to_pandas()
    rs = rs[rs["comment"].notna()].reset_index(drop=True)
    mentions = model.transform(list(rs["comment"])).confidence > 0
    frame = pd.DataFrame(mentions.astype(float), columns=themes).assign(nps=rs["nps"])
    assert out["n"].iloc[0] == len(frame)
    assert out["estimate"].sum() == pytest.approx(_ols_r2(frame, "nps", themes), rel=1e-9)
    with pytest.raises(CxroiError, match=r"no theme 'nope'; themes: "):
        drivers(ws, drivers=["theme:nope"], n_boot=0)
    with pytest.raises(CxroiError, match=r"not found in responses or the customer ledger: zzz"):
        drivers(ws, drivers=["rating_app", "zzz"], n_boot=0)


def _implied_driver_shares(n: int = 200_000, seed: int = 0, months: int = 24) -> dict[str, float]:
    """Population relative-weight shares of the ratings implied by the simulator's truth.

    Draws latent qualities, satisfaction, relationship NPS and the noisy 1-10 ratings with the
    mechanism in :mod:`cxroi.simulate.params` (archetype means, N(0, 1) quality, satisfaction
    noise, rounding and clipping; each initiative's quality shift for customers of its region x
    plan cell, in a response month drawn uniformly over the run; slow-response dips left out),
    then computes
    Johnson's relative weights from the correlation matrix by hand (independent of
    :mod:`cxroi.models.drivers`).
    """
    from cxroi.simulate import params as P

    rng = np.random.default_rng(seed)
    arch = list(P.ARCHETYPES.values())
    share = np.array([a["share"] for a in arch])
    a = rng.choice(len(arch), size=n, p=share / share.sum())
    q = np.array([x["quality"] for x in arch])[a] + rng.standard_normal((n, len(P.DIMENSIONS)))
    plan = np.array([rng.choice(len(P.PLANS), p=arch[k]["plan"]) for k in a])
    region = np.array([rng.choice(len(P.REGIONS), p=arch[k]["region"]) for k in a])
    month = rng.integers(0, months, n)
    for x in P.INITIATIVES:
        cell = dict(c.split(" == ") for c in x["target"].split(" and "))
        hit = plan == P.PLANS.index(cell["plan"].strip("'"))
        hit &= region == P.REGIONS.index(cell["region"].strip("'"))
        hit &= month >= P.start_month(x, months)
        if x["holdout_share"]:
            hit &= rng.random(n) >= x["holdout_share"]
        q[hit, P.DIMENSIONS.index(x["dimension"])] += x["shift"]
    w = np.array([P.DRIVER_WEIGHTS[d] for d in P.DIMENSIONS])
    s = q @ w + rng.normal(0, P.SATISFACTION_NOISE_SD, n)
    nps = np.clip(np.rint(P.NPS_A + P.NPS_B * s), 0, 10)
    noise = rng.normal(0, P.RATING_NOISE_SD, q.shape)
    ratings = np.clip(np.rint(P.RATING_A + P.RATING_B * q + noise), *P.RATING_SCALE)
    c = np.corrcoef(np.column_stack([ratings, nps]), rowvar=False)
    val, vec = np.linalg.eigh(c[:-1, :-1])
    lam = vec @ np.diag(np.sqrt(val)) @ vec.T
    eps = (lam**2) @ np.linalg.solve(lam, c[:-1, -1]) ** 2
    return dict(zip([f"rating_{d}" for d in P.DIMENSIONS], eps / eps.sum(), strict=True))


def test_simulators_population_shares_agree_with_independent_implied_shares(company):
    # The simulator records each rating's population share from the expected moments of its
    # own relationship responses (initiatives and slow-response dips included); the implied
    # shares above come from fresh draws of the mechanism with the initiatives but without the
    # dips, and with responses spread evenly over the months.
    _, truth = company
    recorded = truth["driver_shares"]["shares"]
    implied = _implied_driver_shares(months=truth["generator"]["months"])
    assert recorded.keys() == implied.keys()
    for driver, share in implied.items():
        assert recorded[driver] == pytest.approx(share, abs=0.02), driver
    assert sum(recorded.values()) == pytest.approx(1.0, abs=1e-12)


@pytest.fixture(scope="module")
def eight_companies(tmp_path_factory):
    """Simulated companies of 10k customers, seeds 1-8 (all of them, none picked)."""
    return [
        (seed, *simulated_workspace(tmp_path_factory.mktemp(f"s{seed}") / "ws",
                                    customers=10_000, seed=seed, typed=True))
        for seed in range(1, 9)
    ]  # fmt: skip


def test_driver_share_intervals_cover_the_population_shares_over_eight_seeds(eight_companies):
    # 6 ratings x 8 companies: the 95% bootstrap interval of each estimated share covers the
    # simulator's population share (measured: 47 of 48). A biased estimator or too narrow
    # intervals would cover far fewer.
    covered, misses = 0, []
    for seed, ws, truth in eight_companies:
        out = _table(ws, survey="relationship", dropna=True, n_boot=200, random_state=seed)
        out = out.set_index("driver")
        for driver, share in truth["driver_shares"]["shares"].items():
            if out.loc[driver, "share_ci_low"] <= share <= out.loc[driver, "share_ci_high"]:
                covered += 1
            else:
                misses.append((seed, driver))
    assert covered >= 45, misses
