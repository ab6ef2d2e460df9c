"""``cxroi opportunities``: every segment and archetype ranked by the money at stake.

The segments are those of ``cxroi segments`` (the same frame, dimensions, bands and rules)
plus the archetypes (:func:`cxroi.analyses.archetypes.archetype_assignments`) as one more
dimension. The money at stake is :func:`cxroi.models.opportunity.opportunity_table`: the
churn comparable customers who feel the same do not have (retention), plus lifting the NPS
mix to that of all customers through the adjusted effects of the value of perception
(perception).
The top five get a sentence: who they are, what they say, what is at stake, which driver to
move.

Four parts run side by side, three of them on their own connection to the store
(:func:`cxroi.analyses._beside.beside`): the pass over the comments starts first (its worker
processes analyse them while the customers are profiled); once the profile is read, the
archetypes start on it, taking their theme features from that pass, and so do the effects of
perception; this thread builds the segment frame, reads the ratings, values the other segments
(:class:`cxroi.models.opportunity.Stakes`, a dimension at a time; the archetypes are valued
last, as they would be in one table) and lays the comments on them. Each part leaves the
machine partly idle at times (the archetypes' mixture fits in NumPy, the effects' panel in the
engine, the comments in worker processes). A server engine runs them one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.analyses._beside import beside
from cxroi.analyses.perception import adjusted_effects
from cxroi.analyses.segments import (
    PROFILE_COLUMNS,
    said_comments,
    segment_frame,
    segment_spec,
    segment_themes,
)
from cxroi.analyses.themes import CommentThemes, comment_themes
from cxroi.errors import CxroiError
from cxroi.frames import to_frame
from cxroi.models._design import default_confounders
from cxroi.models.ledger import customer_ledger
from cxroi.models.opportunity import SELECTED, Effect, Stakes
from cxroi.models.profile import customer_profile
from cxroi.models.segments import Segmentation, segment
from cxroi.results import SMALL_N, Result, Table, estimate_frame
from cxroi.window import Window, data_bounds

__all__ = ["opportunities"]

ARCHETYPE = "archetype"
TOP = 5
METHOD = (
    "money at stake = retention + perception. Retention: customers x (CLV at the churn hazard "
    "of comparable customers — the other segments' customers with the same NPS group and plan "
    "— minus CLV at the segment's own hazard), never negative. Perception: customers x the "
    "change in CLV from lifting the segment's NPS mix to that of all customers, through the "
    "adjusted churn hazard ratios and spend multiples vs promoters (Cox and log-linear models "
    "of the "
    "value of perception). CLV = m·r/(1 + i − r) of the annual margin (purchases + contract "
    "fees − cost to serve). Intervals: percentiles of a Poisson bootstrap over customers with "
    "the effects drawn from their sampling distributions; ranked by the interval's lower end"
)


@progress.task("opportunities")
def opportunities(
    ws: WorkspaceLike,
    *,
    by: Sequence[str] | None = None,
    bands: int | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    rules: Mapping[str, str] | None = None,
    archetypes: bool = True,
    survey: str | None = None,
    top: int = TOP,
    n_boot: int = 200,
    random_state: int = 0,
    level: float = 0.95,
) -> Result:
    """Rank every segment (and archetype) by the money at stake, with intervals.

    Parameters
    ----------
    ws
        The workspace (``discount_rate``, ``min_n``, ``currency`` and ``[segments]`` apply).
    by, bands, edges, rules
        The segments, as for :func:`cxroi.analyses.segments.segments`.
    archetypes
        Add the archetypes (``cxroi archetypes``) as a dimension.
    survey
        The NPS group from this survey only.
    top
        Segments that get a sentence.
    n_boot, random_state, level
        Bootstrap replicates, seed and interval level.

    Returns
    -------
    Result
        Table ``opportunities``: ``rank``, ``dimension``, ``segment``, ``customers``, churn
        against comparable customers, the two parts with intervals and the total
        (``estimate``, ``ci_low``, ``ci_high``), ranked by ``ci_low`` (the money surest to be
        at stake first); a sentence per top segment in ``readings``.
    """
    settings = ws.settings
    talk: dict[str, Any] = {"top": 3, "min_n": settings.min_n, "level": level}
    comments, themes = None, []
    # the pass over the comments first, beside the rest: the archetypes' theme features and
    # the segments' themes read it; then the profile on the last day of data, read once for
    # the segments and the archetypes
    passed = beside(ws, _comment_pass, name="cxroi-comments")
    profile = _profile(ws, archetypes)
    later = _start_archetypes(ws, profile, passed) if archetypes else None
    effects = beside(ws, lambda w: _early_effects(w, survey, level), name="cxroi-effects")
    try:
        frame = segment_frame(ws, survey=survey, profile=profile)
        spec = segment_spec(ws, frame, by=by, bands=bands, edges=edges, rules=rules)
        seg = segment(frame, spec)
        progress.step("the effects of perception on churn and spend")
        hrs, sms, effects_note = _effects(ws, frame, effects(), survey=survey, level=level)
        progress.step("ratings by customer")
        ratings = _ratings(ws)
        progress.step(f"money at stake by segment ({n_boot} bootstrap draws)")
        # the segments' money at stake while the archetypes are still being found; theirs
        # is added last, as one more dimension, which draws what it drew in one table
        stakes = Stakes(
            frame, hazard_ratios=hrs, spend_multiples=sms, discount_rate=settings.discount_rate,
            min_n=settings.min_n, n_boot=n_boot, level=level, random_state=random_state,
        )  # fmt: skip
        for dim, code in seg.codes.items():
            stakes.add(dim, code, seg.labels[dim])
        # and what they talk about (the pass is done by now: it started first)
        ct = passed()
        if not isinstance(ct, CxroiError):  # laid on the frame once, for these and the archetypes
            comments = said_comments(frame, ct)
            themes = [segment_themes(ws, frame, seg, comments=comments, **talk)[0]]
    finally:
        run = later() if later is not None else None  # waited for even on an error
    warnings: list[str] = []
    if run is not None:
        note, churn_feature = _add_archetypes(run, frame, seg)
        if note:
            warnings.append(note)
        else:
            stakes.add(ARCHETYPE, seg.codes[ARCHETYPE], seg.labels[ARCHETYPE],
                       selected_on_churn=churn_feature)  # fmt: skip
        if churn_feature:
            warnings.append(
                "the archetypes are found partly from churn, so their churn gap is selection, "
                f"not an opportunity: only their perception part is counted (flagged {SELECTED})"
            )
    if effects_note:
        warnings.append(effects_note)
    table = stakes.table()
    if comments is None:  # no pass: as segments does it (it says why there are no themes)
        themes = [segment_themes(ws, frame, seg, **talk)[0]]
    elif ARCHETYPE in seg.codes:
        only = Segmentation({ARCHETYPE: seg.codes[ARCHETYPE]},
                            {ARCHETYPE: seg.labels[ARCHETYPE]}, {})  # fmt: skip
        themes.append(segment_themes(ws, frame, only, comments=comments, **talk)[0])
    found = [t for t in themes if t is not None]
    said = pd.concat(found, ignore_index=True) if found else None
    table = estimate_frame(table, level=level)
    currency = settings.currency
    driver = _rating_gaps(ratings, frame, seg)
    readings = [
        _sentence(r, frame, seg, said, driver, currency)
        for r in table.head(top).itertuples(index=False)
    ]
    small = int(table["flag"].str.contains(SMALL_N).sum())
    if small:
        warnings.append(
            f"{small} segment(s) have fewer than {settings.min_n} customers: shown, flagged "
            f"{SMALL_N}"
        )
    return Result(
        "opportunities",
        "Opportunities: money at stake by segment",
        [
            Table(
                "opportunities",
                f"Segments and archetypes by money at stake ({currency})",
                table,
                method=METHOD,
                view=[
                    "rank",
                    "dimension",
                    "segment",
                    "customers",
                    "churn_rate",
                    "comparable_churn",
                    "retention",
                    "perception",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "flag",
                ],  # fmt: skip
            )
        ],
        method=METHOD,
        adjustment=["nps_group", "plan"],
        window=Window.resolve(ws.tables).as_dict(),
        params={
            "dimensions": list(seg.codes),
            "hazard_ratios": {g: e[0] for g, e in (hrs or {}).items()},
            "spend_multiples": {g: e[0] for g, e in (sms or {}).items()},
            "discount_rate": settings.discount_rate,
            "min_n": settings.min_n,
            "currency": currency,
            "n_customers": len(frame),
            "n_boot": n_boot,
            "random_state": random_state,
        },
        warnings=warnings,
        readings=readings,
    )


def _profile(ws: WorkspaceLike, archetypes: bool) -> pd.DataFrame:
    """The customers' profile on the last day of data, in ``customer_id`` order: the columns
    of the segment frame and, with ``archetypes``, theirs."""
    from cxroi.analyses.archetypes import PROFILE_COLUMNS as FOR_ARCHETYPES

    _, last = data_bounds(ws.tables)
    if last is None:
        raise CxroiError("the workspace holds no activity yet; ingest transactions or contracts")
    progress.step("profiling customers")
    expr = customer_profile(ws.tables, as_of=last)
    want = (*PROFILE_COLUMNS, *(FOR_ARCHETYPES if archetypes else ()))
    return to_frame(expr.select(*[c for c in dict.fromkeys(want) if c in expr.columns])
                    .order_by("customer_id"))  # fmt: skip


def _comment_pass(ws: WorkspaceLike) -> CommentThemes | CxroiError:
    """The workspace's pass over its comments, or why there is none."""
    try:
        return comment_themes(ws, n_jobs=-1)
    except CxroiError as e:
        return e


def _start_archetypes(
    ws: WorkspaceLike, profile: pd.DataFrame, passed: Callable[[], CommentThemes | CxroiError]
) -> Callable[[], Any]:
    """Start :func:`cxroi.analyses.archetypes.archetype_run` (on ``profile`` and the comment
    pass ``passed`` waits for) beside the rest (module docstring); returns the function that
    waits for it: the run, or the :class:`~cxroi.errors.CxroiError` that stopped it."""

    def comments() -> CommentThemes:
        got = passed()
        if isinstance(got, CxroiError):
            raise got
        return got

    def run(w: WorkspaceLike) -> Any:
        try:
            from cxroi.analyses.archetypes import archetype_run

            return archetype_run(w, n_jobs=-1, profile=profile, comments=comments)
        except (CxroiError, ImportError) as e:
            return e

    return beside(ws, run, name="cxroi-archetypes")


def _add_archetypes(run: Any, frame: pd.DataFrame, seg: Segmentation) -> tuple[str | None, bool]:
    """Add the archetypes of ``run`` (or the error that stopped them) as a dimension of
    ``seg``: a note when they cannot be had, and whether churn was one of their features."""
    if isinstance(run, Exception):
        return f"no archetypes: {run}", False
    arch = run.assignments
    a = frame[["customer_id"]].merge(arch, on="customer_id", how="left")[ARCHETYPE]
    cat = pd.Categorical(a.astype("string").fillna("unassigned"))
    seg.codes[ARCHETYPE] = cat.codes.astype(np.int64)
    seg.labels[ARCHETYPE] = [str(c) for c in cat.categories]
    return None, "churned" in run.result.params.get("features", [])


Early = tuple[list[str], "pd.DataFrame | CxroiError"]
"""What :func:`_early_effects` found: the confounders and the effects (or why none)."""


def _early_effects(ws: WorkspaceLike, survey: str | None, level: float) -> Early:
    """The adjusted effects with the default confounders of the customer ledger, before the
    segment frame exists: they read the engine's tables only."""
    conf = default_confounders(customer_ledger(ws.tables, survey=survey).columns, None)
    try:
        return conf, adjusted_effects(ws, None, confounders=conf, survey=survey, level=level)
    except CxroiError as e:
        return conf, e


def _effects(
    ws: WorkspaceLike, frame: pd.DataFrame, early: Early, *, survey: str | None, level: float
) -> tuple[dict[str, Effect] | None, dict[str, Effect] | None, str | None]:
    """The adjusted churn hazard ratios and spend multiples vs promoters (estimate, log se),
    from ``early`` when its confounders are those of the frame (they are the ledger's)."""
    from scipy import stats

    if frame["nps_group"].notna().sum() == 0:
        return None, None, "no NPS answers: the perception part is 0"
    conf = default_confounders(list(frame.columns), None)
    eff = early[1]
    if conf != early[0]:
        try:
            eff = adjusted_effects(ws, frame, confounders=conf, survey=survey, level=level)
        except CxroiError as e:
            eff = e
    if isinstance(eff, CxroiError):
        return None, None, f"the perception part is 0: {eff}"
    z = stats.norm.ppf(0.5 + level / 2)
    out: dict[str, dict[str, Effect]] = {"churn": {}, "spend": {}}
    for r in pd.DataFrame(eff).itertuples(index=False):
        if r.outcome in out and np.isfinite([r.estimate, r.ci_low, r.ci_high]).all():
            se = (np.log(r.ci_high) - np.log(r.ci_low)) / (2 * z)
            out[r.outcome][str(r.nps_group)] = (float(r.estimate), float(se))
    note = None if out["churn"] else "the churn effects of perception are not estimable"
    return out["churn"] or None, out["spend"] or None, note


def _ratings(ws: WorkspaceLike) -> tuple[pd.Series, pd.DataFrame] | None:
    """Each rating's weight (its correlation with NPS over the responses, pairwise complete as
    pandas' ``corrwith``, floored at 0) and each customer's mean ratings, in the engine;
    ``None`` without ratings."""
    rs = ws.table("responses")
    ratings = [c for c in rs.columns if c.startswith("rating_")]
    if not ratings:
        return None
    rs = rs.filter(rs.customer_id.notnull())
    x = {c: rs[c].cast("float64") for c in ratings}
    nps = rs.nps.cast("float64")
    corr = rs.aggregate(**{c: x[c].corr(nps, how="pop") for c in ratings}).to_pandas()
    if corr.empty:
        return None
    weight = corr.iloc[0].astype(float).clip(lower=0).fillna(0)[ratings]
    means = rs.group_by("customer_id").aggregate(**{c: x[c].mean() for c in ratings}).to_pandas()
    return None if means.empty else (weight, means)


def _rating_gaps(
    got: tuple[pd.Series, pd.DataFrame] | None, frame: pd.DataFrame, seg: Segmentation
) -> dict[Any, str]:
    """Per (dimension, segment): the rated dimension most below the other customers', weighted
    by its correlation with NPS (the driver to move), in words (``got``: :func:`_ratings`)."""
    if got is None:
        return {}
    weight, means = got
    ratings = list(weight.index)
    m = frame[["customer_id"]].merge(means, on="customer_id", how="left")
    vals = m[ratings].to_numpy(float)
    rated = ~np.isnan(vals)
    vals = np.where(rated, vals, 0.0)
    out: dict[Any, str] = {}
    for dim, code in seg.codes.items():
        k = len(seg.labels[dim])
        # per segment, the sum and count of each rating's known means (one pass for all);
        # the other customers' are the totals less the segment's
        total = np.bincount(code, minlength=k)
        sums = np.stack([np.bincount(code, vals[:, j], k) for j in range(len(ratings))], 1)
        counts = np.stack([np.bincount(code, rated[:, j], k) for j in range(len(ratings))], 1)
        for s, name in enumerate(seg.labels[dim]):
            if total[s] in (0, len(code)):
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                gap = sums[s] / counts[s] - (sums.sum(0) - sums[s]) / (counts.sum(0) - counts[s])
            score = gap * weight.to_numpy()
            if not np.isfinite(score).any():
                continue
            j = int(np.nanargmin(score))
            if gap[j] < 0:
                out[(dim, name)] = (
                    f"{ratings[j].removeprefix('rating_')} (rated {gap[j]:+.2f} vs other customers)"
                )
    return out


def _sentence(
    r: Any,
    frame: pd.DataFrame,
    seg: Segmentation,
    themes: pd.DataFrame | None,
    driver: Mapping[Any, str],
    currency: str,
) -> str:
    """Who they are, what they say, what is at stake, which driver to move."""
    code = seg.codes[r.dimension]
    inside = code == seg.labels[r.dimension].index(r.segment)
    rev = frame["revenue"].to_numpy(float)
    share_rev = rev[inside].sum() / rev.sum() if rev.sum() > 0 else np.nan
    versus = (
        "" if SELECTED in str(r.flag) else f" vs {r.comparable_churn:.0%} for comparable customers"
    )
    who = (
        f"#{r.rank} {r.dimension} {r.segment}: {r.customers:,} customers "
        f"({inside.mean():.0%}), {share_rev:.0%} of revenue, NPS {r.nps:+.0f}, churn "
        f"{r.churn_rate:.0%} a year{versus}"
    )
    say = ""
    if themes is not None:
        t = themes[(themes["dimension"] == r.dimension) & (themes["segment"] == r.segment)]
        if len(t):
            # what they say: of their most mentioned themes, the one that lowers NPS most
            t0 = t.loc[t["estimate"].idxmin()] if (t["estimate"] < 0).any() else t.iloc[0]
            say = (
                f"; they talk about '{t0['label']}' ({t0['share']:.0%} of their comments, NPS "
                f"{t0['estimate']:+.0f} points where it is mentioned)"
            )
    ci = (
        f" ({r.ci_low:,.0f} to {r.ci_high:,.0f})"
        if pd.notna(r.ci_low) and pd.notna(r.ci_high)
        else ""
    )
    stake = f"; {r.estimate:,.0f} {currency} at stake{ci}"
    if r.retention >= r.perception:
        move = (
            f", {r.retention:,.0f} of it churn that their answers do not explain: ask why they "
            "leave (exit interviews, the at-risk reasons) before moving a survey driver"
        )
    else:
        d = driver.get((r.dimension, r.segment))
        move = f", {r.perception:,.0f} of it from lifting their NPS mix" + (
            f": move {d}" if d else ""
        )
    return who + say + stake + move + "."
