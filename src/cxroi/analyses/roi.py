"""What an initiative should return, before launch: ``cxroi roi simulate``.

Reads the initiative from the register; finds the customers it reaches (the target group less
its recorded holdout) and, from their months before the day valued, their monthly churn,
spend and margin, the within-customer variance of their spend and their NPS shares (each
customer's last answer to the relationship survey); predicts their spend month by month over
the horizon; takes the adjusted effects of the NPS group on churn and on spend per month
(:mod:`cxroi.models.effects`, on the data before that day); and values the expected NPS change
over the horizon with a predictive band (:mod:`cxroi.models.roi`).

Spend is not held at its level before: each customer's spend month by month over the
horizon is predicted by :mod:`cxroi.analyses.roi_spend` (purchase dropout, BG/NBD).

The NPS shares and the effects come from the relationship survey by default: an initiative's
expected change is in relationship NPS points (what ``roi measure`` measures), and behaviour
follows the customer's standing attitude. Transactional answers carry the noise of one
moment and of one touchpoint (a touchpoint gone bad lowers its own answers, not the
relationship), which would misplace customers between groups and shift the room and the split
of the moves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.analyses.initiative_panels import (
    customer_spans,
    groups,
    missing_to_none,
    month_index,
    months_table,
    with_money,
)  # fmt: skip
from cxroi.analyses.initiatives import initiative_record
from cxroi.analyses.perception import MAX_AGE
from cxroi.analyses.roi_spend import spend_path
from cxroi.cache import cached
from cxroi.errors import CxroiError, param
from cxroi.holdout import held_out
from cxroi.metrics.nps import GROUPS, nps_group_expr
from cxroi.models._design import z
from cxroi.models.effects import VERSUS, perception_effects
from cxroi.models.initiative import target_filter
from cxroi.models.ledger import customer_ledger
from cxroi.models.roi import (
    MeasurementNoise,
    ROIPaths,
    clip_to_room,
    measurement_noise,
    mix_effects,
    move_shares,
    simulated_paths,
)  # fmt: skip
from cxroi.results import Result, Table, estimate_frame, format_cell
from cxroi.window import Window, tables_before, to_date

__all__ = [
    "BASELINE_MONTHS",
    "RELATIONSHIP",
    "Simulation",
    "roi_simulate",
    "simulation",
]

RELATIONSHIP = "relationship"
BASELINE_MONTHS = 12
"""The customers' churn, spend and margin are those of the last this many months before."""
ASSUMPTIONS = (
    "an NPS change of D points is D% of the customers reached moving one group up, split "
    "between detractor->passive and passive->promoter by their current shares; moved customers "
    "stay in their new group for the horizon; the customers are those reached (the target "
    "group less its holdout) and active at launch; the effect is immediate and constant (the "
    "churn hazard ratio; the spend multiple, on each customer's spend as their purchases are "
    "expected to go on under purchase dropout, by the BG/NBD model of the purchases before); "
    "the cost to serve does not move"
)


@dataclass(frozen=True)
class Simulation:
    """An initiative valued before launch: the draws and what they rest on.

    ``paths`` is predictive (estimates' uncertainty and a measurement's outcome noise),
    ``expected`` carries the estimates' uncertainty only; row 0 of both is the point estimate.
    """

    rec: Any
    day: dt.date
    survey: str | None
    customers: int
    comparison: int | None
    shares: dict[str, float]
    baseline: dict[str, float]
    effects: pd.DataFrame
    delta: float
    hazard_ratio: float
    spend_effect: float
    spend_path: np.ndarray | None
    clipped: int
    noise: MeasurementNoise
    paths: ROIPaths
    expected: ROIPaths
    warnings: list[str] = field(default_factory=list)


def _customers_before(
    ws: WorkspaceLike, ids: set[str], first: dt.date, last: dt.date, cut: int
) -> pd.DataFrame:
    """Per customer of ``ids``: months, churns and spend before month ``cut`` (and in the
    last :data:`BASELINE_MONTHS` of them), the sum of squared monthly spend, and whether they
    are active in month ``cut`` (started by then, not churned before it: the customers
    ``roi measure`` counts at launch). Counted in the engine."""
    import ibis

    frame = pd.DataFrame({"customer_id": sorted(ids)})
    frame = frame.assign(first_treat=1, last_period=cut - 1, draw=0)
    g = {"first": first, "last": last}
    spans = customer_spans(ws, ibis.memtable(frame), g)
    try:
        live = (spans.p_in <= cut) & ((spans.churned == 0) | (spans.p_out >= cut))
        who = spans.select("customer_id", active=live.cast("int64"))
        m = with_money(ws, months_table(spans, g), g)
        recent = (m.period >= cut - BASELINE_MONTHS).cast("int64")
        per = m.group_by("customer_id").aggregate(
            months=m.count(),
            churns=m.churn.sum(),
            spend=m.spend.sum(),
            spend_sq=(m.spend * m.spend).sum(),
            recent_months=recent.sum(),
            recent_churns=(m.churn * recent).sum(),
            recent_spend=(m.spend * recent).sum(),
            recent_cost=(m.support_cost * recent).sum(),
        )
        df = who.left_join(per, "customer_id").drop("customer_id_right").to_pandas()
    finally:
        spans.release()
    num = [c for c in df.columns if c != "customer_id"]
    df[num] = df[num].fillna(0)
    return df.sort_values("customer_id", ignore_index=True)


def _groups_before(ws: WorkspaceLike, day: dt.date, survey: str | None) -> pd.DataFrame:
    """Each customer's NPS group from their last answer before ``day``."""
    rs = ws.table("responses")
    rs = rs.filter(rs.nps.notnull() & rs.customer_id.notnull() & (rs.ts.date() < day))
    if survey is not None:
        rs = rs.filter(rs.survey == survey)
    last = rs.group_by("customer_id").aggregate(nps=rs.nps.argmax(rs.ts))
    return (
        last.mutate(nps_group=nps_group_expr(last.nps))
        .select("customer_id", "nps_group")
        .to_pandas()
    )


def _effects(ws: WorkspaceLike, day: dt.date, survey: str | None) -> pd.DataFrame:
    """Adjusted churn hazard ratio and spend-per-month multiple of each group, on the data
    before ``day`` (computed once per state of the data and day)."""
    params: dict[str, Any] = {"day": day.isoformat(), "survey": survey, "max_age": MAX_AGE}
    got = cached(ws, "roi-effects", params, lambda: {
        "effects": perception_effects(
            tables_before(ws.tables, day), survey=survey, max_age=MAX_AGE,
            outcomes=("churn", "monthly_spend"), strict=False,
        )
    })  # fmt: skip
    eff = got["effects"]
    assert isinstance(eff, pd.DataFrame)
    bad = eff[eff["estimate"].isna()]
    if not bad.empty:
        raise CxroiError(
            "roi simulate needs the effect of the NPS group on churn and spend before "
            f"{day}: {bad['note'].iloc[0]}"
        )
    return eff


def _lognormal(
    eff: pd.DataFrame, outcome: str, rng: np.random.Generator, draws: int
) -> dict[str, np.ndarray]:
    """Each group's effect: the estimate, then ``draws`` normal draws on the log scale with
    the standard error of its Wald interval."""
    out = {}
    rows = eff[eff["outcome"] == outcome].set_index("nps_group")
    for g in VERSUS:
        r = rows.loc[g]
        b = np.log(float(r["estimate"]))
        se = (np.log(float(r["ci_high"])) - np.log(float(r["ci_low"]))) / (2 * z(r["level"]))
        out[g] = np.exp(np.r_[b, rng.normal(b, se, draws)])
    return out


def _reached(ws: WorkspaceLike, rec: Any, initiative_id: str) -> set[str]:
    """The customers an initiative reaches: its target group less its recorded holdout."""
    cust = ws.table("customers")
    pred = target_filter(cust, missing_to_none(rec.get("target")))
    sel = cust if pred is None else cust.filter(pred)
    ids = sorted(sel.select("customer_id").to_pandas()["customer_id"])
    held = held_out(initiative_id, ids, missing_to_none(rec.get("holdout_share")))
    return {c for c, h in zip(ids, held, strict=True) if not h}


def _survey(ws: WorkspaceLike, survey: str | None, warn: list[str]) -> str | None:
    rs = ws.table("responses")
    if survey is None or "survey" not in rs.columns:
        return None if "survey" not in rs.columns else survey
    known = set(rs.select("survey").distinct().to_pandas()["survey"].dropna())
    if survey not in known:
        warn.append(f"no {survey!r} survey: NPS from every response instead")
        return None
    return survey


def simulation(
    ws: WorkspaceLike,
    initiative_id: str,
    *,
    horizon_months: int = 36,
    draws: int = 1000,
    effect: float | None = None,
    effect_sd: float = 0.0,
    survey: str | None = RELATIONSHIP,
    random_state: int = 0,
    as_of: dt.date | None = None,
    customers: set[str] | None = None,
) -> Simulation:
    """The draws behind :func:`roi_simulate` (parameters there); ``customers`` replaces the
    customers reached (``roi measure`` values the ones it measured)."""
    rec = initiative_record(ws, initiative_id)[1].iloc[0]
    metric = missing_to_none(rec.get("metric")) or "nps"
    if metric != "nps":
        raise CxroiError(
            f"initiative {initiative_id} aims at {metric}; roi simulate values NPS changes "
            "(a rating or CSAT path through the key drivers comes with ROI measurement)"
        )
    delta = effect if effect is not None else missing_to_none(rec.get("expected_effect"))
    if delta is None:
        raise CxroiError(
            f"initiative {initiative_id} has no expected effect; give {param('effect')} "
            "(NPS points)"
        )
    if draws < 1:
        raise CxroiError(f"{param('draws')} must be at least 1, got {draws}")
    if horizon_months < 1:
        raise CxroiError(f"{param('horizon_months')} must be at least 1, got {horizon_months}")
    warn: list[str] = []
    survey = _survey(ws, survey, warn)
    g = groups(ws, initiative_id)
    first, last = g["first"], g["last"]
    day = to_date(as_of, "as_of") if as_of is not None else last + dt.timedelta(days=1)
    cut = month_index(day, first)
    if cut <= 1:
        raise CxroiError(f"no month of data before {day} to value {initiative_id} from")
    reached = _reached(ws, rec, initiative_id) if customers is None else set(customers)
    if not reached:
        raise CxroiError(f"initiative {initiative_id} reaches no customer")
    per = _customers_before(ws, reached, first, last, cut)
    active = per[per["active"] > 0]
    n = len(active)
    if n == 0:
        raise CxroiError(f"no customer {initiative_id} reaches is active on {day}")
    before = per[per["months"] > 0]
    if before["recent_months"].sum() == 0:
        raise CxroiError(f"the customers {initiative_id} reaches have no month before {day}")
    nps = _groups_before(ws, day, survey)
    rated = active.merge(nps, on="customer_id", how="inner")["nps_group"].dropna()
    if rated.empty:
        raise CxroiError(f"no active customer of {initiative_id}'s target group has an NPS")
    comparison = _comparison(ws, g, day)
    eff = _effects(ws, day, survey)
    rng = np.random.default_rng(random_state)
    # the estimates' uncertainty: Poisson bootstrap over the customers, effects on log scale
    w = np.vstack([np.ones(len(before)), rng.poisson(1.0, (draws, len(before)))])
    with np.errstate(divide="ignore", invalid="ignore"):
        months = w @ before["recent_months"].to_numpy(float)
        h0 = w @ before["recent_churns"].to_numpy(float) / months
        s0 = w @ before["recent_spend"].to_numpy(float) / months
        m0 = s0 - w @ before["recent_cost"].to_numpy(float) / months
    path = spend_path(ws, day, before, w, horizon_months, warn)
    codes = rated.to_numpy()
    wr = np.vstack([np.ones(len(codes)), rng.poisson(1.0, (draws, len(codes)))])
    counts = {k: wr @ (codes == k).astype(float) for k in GROUPS}
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = {k: counts[k] / sum(counts.values()) for k in GROUPS}
    point_shares = {k: float(v[0]) for k, v in shares.items()}
    move_shares(point_shares, np.asarray(float(delta)))  # the expected change needs room
    deltas = np.full(draws + 1, float(delta))
    if effect_sd > 0:
        deltas[1:] = rng.normal(float(delta), effect_sd, draws)
    deltas, clipped = clip_to_room(shares, deltas)
    if clipped:
        warn.append(
            f"{clipped} of {draws} draws of the NPS change exceeded the room to move customers "
            "(every detractor and passive moving up) and were clipped to it"
        )
    hr, spend_ratio = mix_effects(
        shares, deltas, _lognormal(eff, "churn", rng, draws),
        _lognormal(eff, "monthly_spend", rng, draws),
    )  # fmt: skip
    ds = s0 * (spend_ratio - 1)
    spend = before["spend"].to_numpy(float)
    k = before["months"].to_numpy(float)
    many = k > 1
    within = float(
        (before["spend_sq"].to_numpy(float)[many] - spend[many] ** 2 / k[many]).sum()
        / max((k[many] - 1).sum(), 1.0)
    )
    noise = measurement_noise(
        customers=n, comparison=comparison, within_var=within,
        inverse_months_before=_mean_inverse(active["months"]),
        churn_monthly=float(h0[0] * hr[0]), churns_before=float(before["churns"].sum()),
        horizon_months=horizon_months, randomised=bool(g["randomised"]),
    )  # fmt: skip
    running = missing_to_none(rec.get("running_cost"))
    money = dict(
        customers=n, churn_monthly=h0, margin_monthly=m0, hazard_ratio=hr, spend_effect=ds,
        cost=float(rec["cost"]), running_cost=0.0 if running is None else float(running),
        horizon_months=horizon_months, discount_rate=ws.settings.discount_rate,
        spend_monthly=s0, trend=None if path is None else _trend(path, s0),
    )  # fmt: skip
    return Simulation(
        rec=rec,
        day=day,
        survey=survey,
        customers=n,
        comparison=comparison,
        shares=point_shares,
        baseline={"churn_monthly": float(h0[0]), "spend_monthly": float(s0[0]),
                  "margin_monthly": float(m0[0]), "spend_within_sd": float(np.sqrt(within))},
        effects=eff,
        delta=float(delta),
        hazard_ratio=float(hr[0]),
        spend_effect=float(ds[0]),
        spend_path=None if path is None else path[0],
        clipped=clipped,
        noise=noise,
        paths=simulated_paths(**money, noise=noise, random_state=random_state + 1),
        expected=simulated_paths(**money),
        warnings=warn,
    )  # fmt: skip


def _trend(path: np.ndarray, s0: np.ndarray) -> np.ndarray:
    """The spend path as a multiple of the spend before (one row per draw); flat (1) for a
    draw whose customers spent nothing before, whose spend effect is then 0 too."""
    out = np.ones_like(path)
    np.divide(path, s0[:, None], out=out, where=s0[:, None] > 0)
    return out


def _comparison(ws: WorkspaceLike, g: dict[str, Any], day: dt.date) -> int | None:
    """Comparison customers active on ``day`` (the holdout, or the untargeted), or ``None``:
    started before it and not churned before it. Counted in the engine."""
    import ibis

    if not g["control"]:
        return None
    ids = ibis.memtable(pd.DataFrame({"customer_id": sorted(g["control"])}))
    led = customer_ledger(ws.tables).inner_join(ids, "customer_id")
    on = ibis.literal(day)
    live = (led.entry < on) & ((led.churned == 0) | (led.exit >= on))
    return int(led.filter(live).count().execute()) or None


def roi_simulate(
    ws: WorkspaceLike,
    initiative_id: str,
    *,
    horizon_months: int = 36,
    draws: int = 1000,
    effect: float | None = None,
    effect_sd: float = 0.0,
    survey: str | None = RELATIONSHIP,
    level: float = 0.90,
    random_state: int = 0,
    as_of: dt.date | None = None,
) -> Result:
    """Expected NPV, ROI and payback of an initiative, with a predictive Monte Carlo band.

    Parameters
    ----------
    initiative_id
        An initiative of the register whose metric is ``nps``.
    horizon_months
        Months valued after launch.
    draws
        Monte Carlo draws.
    effect, effect_sd
        Expected NPS change in points (default: the initiative's ``expected_effect``) and its
        standard deviation across draws (default 0: the change is taken as given). A draw
        beyond the room to move customers is clipped to it (and said).
    survey
        NPS from this survey only for the shares and the effects (default the relationship
        survey; ``None``: every response with an NPS; a workspace without that survey falls
        back to every response, with a warning).
    level
        Level of the band (0.90: the 5th to 95th percentile of the draws).
    as_of
        Value the initiative as on this day (e.g. its launch), from the data before it only.
        Default: the day after the data end.

    Returns
    -------
    Result
        Table ``roi``: NPV, ROI, payback month and benefit, each with its point estimate (the
        value of the expected change at the estimates), the predictive band in ``ci_low`` and
        ``ci_high`` (what a measurement of the customers over the horizon would show: the
        estimates' uncertainty and the outcome noise, :mod:`cxroi.models.roi`) and the band of
        the expected value alone in ``expected_low`` and ``expected_high``; and the cost.
        Table ``fan``: cumulative discounted net value by month, point and predictive band.
        Table ``inputs``: what the value rests on. The probability that ROI > 0 in
        ``params``, the method and the assumptions in ``method``.
    """
    sim = simulation(
        ws, initiative_id, horizon_months=horizon_months, draws=draws, effect=effect,
        effect_sd=effect_sd, survey=survey, random_state=random_state, as_of=as_of,
    )  # fmt: skip
    rec, paths, exp = sim.rec, sim.paths, sim.expected
    alpha = (1 - level) / 2

    def band(x: np.ndarray) -> tuple[float, float]:
        body = x[1:] if len(x) > 1 else x
        if np.isnan(body).all():
            return np.nan, np.nan
        lo, hi = np.nanquantile(body, [alpha, 1 - alpha])
        return float(lo), float(hi)

    n = sim.customers
    rows = []
    for name, x, e, unit in (
        ("npv", paths.npv, exp.npv, "money"),
        ("roi", paths.roi, exp.roi, "ratio"),
        ("benefit", paths.pv_benefit, exp.pv_benefit, "money"),
        ("payback_month", paths.payback_month, exp.payback_month, "month"),
    ):
        lo, hi = band(x)
        e_lo, e_hi = band(e)
        row = {"quantity": name, "unit": unit, "expected_low": e_lo, "expected_high": e_hi,
               "estimate": float(x[0]), "ci_low": lo, "ci_high": hi, "level": level,
               "n": n}  # fmt: skip
        if np.isnan(x[0]) or np.isnan(lo):  # e.g. no payback within the horizon
            row["flag"] = "not-estimable"
        rows.append(row)
    rows.append({"quantity": "cost", "unit": "money", "estimate": paths.pv_cost,
                 "ci_low": np.nan, "ci_high": np.nan, "n": n, "flag": "exact"})  # fmt: skip
    summary = estimate_frame(rows, level=level, no_interval="point-only")
    body = paths.net[1:] if len(paths.net) > 1 else paths.net
    lo_q, mid_q, hi_q = np.nanquantile(body, [alpha, 0.5, 1 - alpha], axis=0)
    fan = pd.DataFrame(
        {"month": np.arange(1, horizon_months + 1), "net_point": paths.net[0],
         "net_low": lo_q, "net_median": mid_q, "net_high": hi_q}
    )  # fmt: skip
    p_pos = float(np.mean(paths.roi[1:] > 0)) if draws else float(paths.roi[0] > 0)
    pay = paths.payback_month[0]
    reading = (
        f"Over {horizon_months} months, {rec['name']} ({initiative_id}) is expected to return "
        f"an NPV of {format_cell(paths.npv[0])} ({level:.0%} band of what a measurement would "
        f"show {format_cell(rows[0]['ci_low'])} to {format_cell(rows[0]['ci_high'])}) on a "
        f"cost of {format_cell(paths.pv_cost)}: ROI {paths.roi[0]:.2f}, probability ROI > 0 "
        f"{p_pos:.2f}"
        + (
            f", paying back in month {pay:.0f}."
            if not np.isnan(pay)
            else ", not paying back within the horizon."
        )
    )
    method = (
        "the NPS change moves customers up a group; each group's churn hazard ratio and spend "
        "per month against promoters, adjusted for plan, region and tenure where present "
        f"(value of perception, NPS of the {sim.survey or 'every'} survey, data before "
        f"{sim.day}; a comparison of customers who feel differently, so what else differs "
        "between them and is not adjusted for, such as what they buy, stays in the effects: "
        "on simulated companies the spend effect comes out stronger than the true one), turn "
        "it into "
        f"a hazard ratio and a spend effect on the customers' own churn, spend and margin of "
        f"the {BASELINE_MONTHS} months before; their spend month by month after launch (and "
        "so the spend effect, a multiple of it) is each customer's expected purchases under "
        "purchase dropout, by the BG/NBD model fitted on the purchases before launch of the "
        "customers then active, times their mean spend per purchase. Predictive band over "
        f"{draws} draws: a bootstrap "
        "of the customers, the effects on their log scale and the outcome noise of measuring "
        f"{n:,} customers (within-customer variance of monthly spend over the months observed "
        "before and after, Poisson noise of the churns, comparison customers alike); "
        f"{ASSUMPTIONS}"
    )
    inputs = _inputs(sim, horizon_months)
    return Result(
        "roi_simulate",
        f"ROI before launch: {initiative_id}",
        [
            Table(
                "roi",
                f"ROI before launch: {initiative_id} ({rec['level']})",
                summary,
                method=method,
                view=[
                    "quantity",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "expected_low",
                    "expected_high",
                    "n",
                    "flag",
                ],
            ),
            Table("fan", "Cumulative discounted net value by month", fan, kind="data"),
            Table("inputs", "What the value rests on", inputs, kind="data", show=False),
        ],  # fmt: skip
        method=method,
        window=Window.resolve(ws.tables).as_dict(),
        params={
            "initiative_id": initiative_id,
            "level": rec["level"],
            "target": missing_to_none(rec.get("target")),
            "target_customers": n,
            "comparison_customers": sim.comparison,
            "nps_change": sim.delta,
            "effect_sd": effect_sd,
            "clipped_draws": sim.clipped,
            "shares": {g: float(sim.shares.get(g, 0.0)) for g in GROUPS},
            "hazard_ratio": sim.hazard_ratio,
            "spend_effect_monthly": sim.spend_effect,
            "spend_path": None if sim.spend_path is None else sim.spend_path.tolist(),
            **sim.baseline,
            "horizon_months": horizon_months,
            "discount_rate": ws.settings.discount_rate,
            "draws": draws,
            "probability_roi_positive": p_pos,
            "random_state": random_state,
            "survey": sim.survey,
            "as_of": None if as_of is None else str(as_of),
        },
        warnings=sim.warnings,
        readings=[reading],
    )


def _inputs(sim: Simulation, horizon: int) -> pd.DataFrame:
    """The inputs of the valuation, one row each."""
    rows = [("customers reached and active", sim.customers),
            ("comparison customers", sim.comparison or np.nan),
            ("expected NPS change (points)", sim.delta),
            *[(f"share {g}", sim.shares.get(g, 0.0)) for g in GROUPS],
            *[(f"{r.outcome} effect, {r.nps_group} vs promoter", r.estimate)
              for r in sim.effects.itertuples()],
            ("monthly churn before", sim.baseline["churn_monthly"]),
            ("monthly spend before", sim.baseline["spend_monthly"]),
            ("monthly margin before", sim.baseline["margin_monthly"]),
            ("within-customer sd of monthly spend", sim.baseline["spend_within_sd"]),
            ("expected spend per customer-month, first month",
             np.nan if sim.spend_path is None else sim.spend_path[0]),
            (f"expected spend per customer-month, month {horizon}",
             np.nan if sim.spend_path is None else sim.spend_path[-1]),
            ("churn hazard ratio of the initiative", sim.hazard_ratio),
            ("spend effect per customer-month", sim.spend_effect),
            (f"outcome noise sd, spend effect after {horizon} months", sim.noise.spend[-1]),
            (f"outcome noise sd, log hazard ratio after {horizon} months",
             sim.noise.log_hazard_ratio[-1])]  # fmt: skip
    return pd.DataFrame(rows, columns=["input", "value"])


def _mean_inverse(months: pd.Series) -> float:
    """Mean of 1 / months over the customers with a month (1 when none has one)."""
    seen = months[months > 0].to_numpy(float)
    return float(np.mean(1 / seen)) if len(seen) else 1.0
