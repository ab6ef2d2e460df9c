"""The demo's report: the company analysed from A to C to B, checked against the truth.

:func:`write_demo_report` runs the analyses (:mod:`cxroi.analyses`), renders their results as
Markdown sections (:mod:`cxroi.report.markdown`) and ends with :func:`truth_check`: does each
estimate's 95% interval cover the value the simulator planted (``ground_truth.json``)? The
report only renders results; it computes no number of its own but the check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cxroi import analyses
from cxroi._types import WorkspaceLike
from cxroi.models.risk import TooFewChurnersError
from cxroi.report.markdown import markdown_table, md_text, table_markdown
from cxroi.results import Result, Table
from cxroi.views import result

__all__ = ["truth_check", "write_demo_report"]

THEME_COLUMNS = (
    "label", "n", "sentiment", "nps_without", "n_negative", "nps_gap_negative",
    "nps_gap_positive",
)  # fmt: skip


def _check(quantity: str, truth: float, estimate: float, lo: float, hi: float) -> dict[str, Any]:
    return {
        "quantity": quantity,
        "estimate": float(estimate),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "truth": float(truth),
        "covered": bool(lo <= truth <= hi),
    }


def truth_check(
    truth: dict[str, Any],
    drivers: Result,
    effects: pd.DataFrame,
    slow: pd.Series,
    initiatives: pd.DataFrame | None = None,
    closed_loop: Result | None = None,
) -> Result:
    """Each estimate against the simulator's true value: is it inside the 95% interval?

    ``initiatives`` is ``roi compare``'s table of measured initiatives; ``closed_loop`` the
    result of ``roi closed-loop``.
    """
    shares = truth["driver_shares"]["shares"]
    rows = [
        _check(f"share of NPS variance, {r.driver}", shares[r.driver], r.share,
               r.share_ci_low, r.share_ci_high)
        for r in drivers.table().itertuples()
        if r.driver in shares
    ]  # fmt: skip
    threshold = truth["slow_response_threshold_hours"]
    rows.append(
        _check(f"churn hazard ratio after a first response > {threshold:g} h",
               truth["slow_response_hazard_ratio"], slow.estimate, slow.ci_low, slow.ci_high)
    )  # fmt: skip
    for r in effects.itertuples():
        key = "nps_group_hazard_ratio" if r.outcome == "churn" else "spend_multiplier"
        what = "churn hazard ratio" if r.outcome == "churn" else "spend per purchase, multiple"
        rows.append(
            _check(f"{r.nps_group} vs promoter: {what}", truth[key][r.nps_group],
                   r.estimate, r.ci_low, r.ci_high)
        )  # fmt: skip
    true_init = {x["initiative_id"]: x for x in truth.get("initiatives", [])}
    for r in (initiatives if initiatives is not None else pd.DataFrame()).itertuples():
        t = true_init.get(r.initiative_id)
        if t is None:
            continue
        rows.append(
            _check(
                f"{r.initiative_id} ({r.level}): NPS effect, points",
                t["true_effect_nps_points"],
                r.nps_effect,
                r.nps_low,
                r.nps_high,
            )
        )
        rows.append(_check(f"{r.initiative_id} ({r.level}): churn hazard ratio",
                           t["true_effect_churn_hr"], r.churn_hr, r.churn_hr_low,
                           r.churn_hr_high))  # fmt: skip
    if closed_loop is not None:
        hr = closed_loop.table("effects").set_index("metric").loc["churn_hazard_ratio"]
        rows.append(_check("follow-up vs held-out detractor case: churn hazard ratio",
                           truth["closed_loop"]["followed_vs_held_out_hazard_ratio"],
                           hr["estimate"], hr["ci_low"], hr["ci_high"]))  # fmt: skip
    frame = pd.DataFrame(rows)
    covered = int(frame["covered"].sum())
    return Result(
        "truth_check",
        "Check against the simulator's ground truth",
        [Table("truth_check", "Check against the simulator's ground truth", frame, kind="data")],
        readings=[f"{covered} of {len(frame)} intervals cover the true value."],
    )


def _check_markdown(check: Result) -> str:
    f = check.table()
    shown = pd.DataFrame(
        {
            "quantity": f["quantity"],
            "estimate": [
                f"{e:.3g} [{lo:.3g}, {hi:.3g}]"
                for e, lo, hi in zip(f["estimate"], f["ci_low"], f["ci_high"], strict=True)
            ],
            "truth": [f"{t:.3g}" for t in f["truth"]],
            "covered": ["yes" if c else "no" for c in f["covered"]],
        }
    )
    return markdown_table(shown)


def write_demo_report(ws: WorkspaceLike, truth: dict[str, Any], card: Result) -> Path:
    """Analyse the demo workspace from A to C to B and write ``reports/report.md``.

    Sections: the scorecard, what drives NPS, what perception is worth, what a slow first
    response does, what each maturity level of initiatives returns, what following up a
    detractor does, what customers talk about, who to act for (opportunities in money, churn
    risk), where the journey hurts (pain points, when ``journey.yaml`` exists), and the check
    against the ground truth.
    """
    threshold = truth["slow_response_threshold_hours"]
    # the analyses the executive report shows too come from its cache (computed once)
    drv = result(ws, "drivers", "drivers")
    value = analyses.value(ws, survey="relationship", adjust=["plan"])
    slow = analyses.lever(ws, threshold=threshold, survey="relationship")
    themes = result(ws, "voice", "themes")
    compare = result(ws, "initiatives", "roi")
    loop = result(ws, "initiatives", "closed_loop")
    effects = value.table("effects")
    check = truth_check(
        truth, drv, effects, slow.table().iloc[0], compare.table("initiatives"), loop
    )

    v = value.table("value")
    moves = v[v["nps_group"].str.contains("->") & (v["metric"] == "clv")]
    groups = v[~v["nps_group"].str.contains("->")].pivot(
        index="nps_group", columns="metric", values="value"
    )
    groups = groups.reindex(["promoter", "passive", "detractor"]).reset_index()
    gen = truth["generator"]
    lines = [
        "# cxroi demo report",
        "",
        f"A simulated company of {gen['customers']:,} customers over {gen['months']} months "
        f"(seed {gen['seed']}, {gen['start']} to {gen['end']}), analysed from what the company "
        "does (A) through what customers think (C) to what they do and are worth (B). Every "
        "interval is 95%.",
        "",
        "## Scorecard, last month",
        "",
        markdown_table(
            card.table(), ["period", "metric", "value", "ci_low", "ci_high", "n", "unit"]
        ),  # fmt: skip
        "",
        "## What drives NPS (relationship survey, relative weights)",
        "",
        markdown_table(
            drv.table(), ["driver", "share", "share_ci_low", "share_ci_high", "quadrant"]
        ),  # fmt: skip
        "",
        "## What perception is worth",
        "",
        markdown_table(groups),
        "",
        markdown_table(moves, ["nps_group", "value", "ci_low", "ci_high", "n"]),
        "",
        *[f"- {md_text(r)}" for r in effects["reading"]],
        "",
        "## What a slow first response does",
        "",
        *[f"- {md_text(r)}" for r in slow.readings],
        "",
        "## What each way of doing CX returns",
        "",
        "Each initiative measured after launch by difference-in-differences (NPS effect in "
        "points, realised ROI over the months since launch), grouped by maturity level.",
        "",
        markdown_table(
            compare.table("levels"),
            ["level", "initiatives", "estimate", "ci_low", "ci_high", "roi", "roi_low", "roi_high"],
        ),  # fmt: skip
        "",
        *[f"- {md_text(r)}" for r in compare.readings],
        "",
        "## What following up a detractor does",
        "",
        *[f"- {md_text(r)}" for r in loop.readings],
        "",
        "## What customers talk about",
        "",
        "NPS gaps are against responses whose comment does not mention the theme; a mention "
        "is negative when its sentences lean negative.",
        "",
        markdown_table(themes.table(), THEME_COLUMNS),
        "",
        *_who_to_act_for(ws, truth),
        *_journey(ws, truth),
        "## Check against the simulator's ground truth",
        "",
        "The spend and churn gaps are adjusted for plan only: the customer type the simulator "
        "draws (its archetype) is not in the data, so it still confounds them.",
        "",
        _check_markdown(check),
        "",
        *[f"{md_text(r)}" for r in check.readings],
        "",
    ]
    out = Path(ws.path) / "reports" / "report.md"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(out)
    return out


RISK_HORIZON_DAYS = 180
"""The demo's churn-risk horizon: its few thousand customers have too few churners in 90 days."""
OPPORTUNITY_COLUMNS = (
    "rank", "dimension", "segment", "customers", "churn_rate", "comparable_churn", "estimate",
    "ci_low", "ci_high",
)  # fmt: skip


def _who_to_act_for(ws: WorkspaceLike, truth: dict[str, Any]) -> list[str]:
    """The top opportunities in money, where the planted niche ranks, and churn risk."""
    opp = result(ws, "opportunities", "opportunities")
    t = opp.table("opportunities")
    niche = truth["planted_opportunity"]
    hit = t[(t["dimension"] == niche["column"]) & (t["segment"] == niche["value"])]
    rank = f"ranked #{int(hit['rank'].iloc[0])}" if len(hit) else "not among the segments"
    try:
        risk = analyses.at_risk(ws, horizon_days=RISK_HORIZON_DAYS, top=5)
    except TooFewChurnersError as e:  # a small demo company
        risk_lines = [f"Churn risk is not fitted: {md_text(str(e))}.", ""]
    else:
        v = risk.table("validation").set_index(["metric", "model"])
        auc = {m: v.loc[("AUC", m)] for m in ("model", "peer")}
        risk_lines = [
            f"Churn within {RISK_HORIZON_DAYS} days, fitted out of time: AUC "
            f"{auc['model']['estimate']:.3f} ({auc['model']['ci_low']:.3f} to "
            f"{auc['model']['ci_high']:.3f}) against {auc['peer']['estimate']:.3f} for a "
            "logistic regression on last NPS and plan.",
            "",
            table_markdown(risk.get("customers")),
            "",
        ]
    return [
        "## Who to act for",
        "",
        "Segments and archetypes by the money at stake (churn beyond comparable customers who "
        "feel the same, plus lifting the NPS mix), in "
        f"{ws.settings.currency}.",
        "",
        markdown_table(t.head(10), list(OPPORTUNITY_COLUMNS)),
        "",
        *[f"- {md_text(r)}" for r in opp.readings],
        "",
        f"The simulator planted {md_text(niche['description'])} ({niche['customers']:,} "
        f"customers): {rank}.",
        "",
        *risk_lines,
    ]


PAIN_COLUMNS = (
    "rank", "touchpoint", "kind", "csat_recent", "csat_before", "weakness", "importance",
    "reach", "estimate", "ci_low", "ci_high",
)  # fmt: skip


def _journey(ws: WorkspaceLike, truth: dict[str, Any]) -> list[str]:
    """The journey's pain points and where the simulator's degraded touchpoint ranks."""
    from cxroi.journey import JOURNEY_FILE

    if not (Path(ws.path) / JOURNEY_FILE).exists():
        return []
    pain = analyses.journey_pain_points(ws)
    t = pain.table("pain_points")
    deg = truth.get("degraded_touchpoint")
    lines = [
        "## Where the journey hurts",
        "",
        "Touchpoints by their driver weight on overall NPS and churn crossed with their CSAT in "
        f"the last {pain.params['recent_days']:g} days (CSAT and weakness in percent and "
        f"points; money at stake in {ws.settings.currency}).",
        "",
        markdown_table(t, list(PAIN_COLUMNS)),
        "",
        *[f"- {md_text(r)}" for r in pain.readings],
        "",
    ]
    if deg:
        hit = t[t["touchpoint"] == deg["touchpoint"]]
        rank = (f"ranked #{int(hit['rank'].iloc[0])} ({hit['kind'].iloc[0]})"
                if len(hit) and pd.notna(hit["rank"].iloc[0]) else "not ranked")  # fmt: skip
        lines += [f"The simulator degraded {md_text(deg['touchpoint'])}: "
                  f"{md_text(deg['description'])}. cxroi: {rank}.", ""]  # fmt: skip
    return lines
