"""``cxroi segments``: the clientele by plan, spend, contract value, visits, occupation, age and
location, each segment profiled with intervals, and what each segment talks about.

The segment frame (:func:`segment_frame`) is the per-customer ledger (churn, exposure, spend,
cost to serve, the latest NPS group: :mod:`cxroi.models.ledger`) joined with the profile on
the last day of data (average transaction, the contracts' monthly value — open ones, else the
last — and the latest CSAT and CES: :mod:`cxroi.models.profile`), and visits per month over
the months each customer was observed. Revenue counts purchases and contract fees: the monthly
contract value times the months observed. The opportunities ranking reads the same frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.config import CONFIG_FILE
from cxroi.errors import CxroiError
from cxroi.frames import to_frame
from cxroi.metrics.compare import nps_diff_from_counts
from cxroi.metrics.nps import nps_group
from cxroi.models.ledger import customer_ledger
from cxroi.models.profile import customer_profile
from cxroi.models.segments import Segmentation, SegmentSpec, segment, segment_profile
from cxroi.results import SMALL_N, Result, Table, estimate_frame, small_n_flag
from cxroi.window import Window, data_bounds

if TYPE_CHECKING:
    from cxroi.analyses.themes import CommentThemes

__all__ = [
    "DEFAULT_DIMENSIONS",
    "PROFILE_COLUMNS",
    "SaidComments",
    "said_comments",
    "segment_frame",
    "segment_spec",
    "segment_themes",
    "segments",
]

DEFAULT_DIMENSIONS = (
    "plan",
    "avg_transaction",
    "contract_value",
    "visits_per_month",
    "occupation",
    "age",
    "region",
    "city",
)
"""The brief's six dimensions (location as region and city), those the customers have."""

PROFILE_COLUMNS = ("customer_id", "avg_transaction", "monthly_value", "csat_last", "ces_last")
"""The profile's columns in a segment frame (``monthly_value`` as ``contract_value``)."""
SUMMARY = [
    "customers",
    "share_customers",
    "revenue_share",
    "nps",
    "csat",
    "ces",
    "churn_rate",
    "clv",
    "support_cost_per_year",
]
"""The metrics of the one-row-per-segment summary, in its column order."""


def segment_frame(
    ws: WorkspaceLike, *, survey: str | None = None, profile: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per customer, in ``customer_id`` order: the ledger, the profile's segment
    columns and ``revenue``.

    ``profile``: the profile on the last day of data (:func:`customer_profile`, any survey,
    with at least the segment columns), when the caller has read it already."""
    tables = ws.tables
    _, last = data_bounds(tables)
    if last is None:
        raise CxroiError("the workspace holds no activity yet; ingest transactions or contracts")
    progress.step("the customers' ledger and profile")
    if profile is None:
        profile = to_frame(customer_profile(tables, as_of=last).select(*PROFILE_COLUMNS))
    # the ledger and the visits joined in the engine, in customer_id order (the bootstraps
    # downstream draw one weight per row)
    led = customer_ledger(tables, survey=survey)
    cols = list(led.columns)
    ev = tables.get("events")
    if ev is not None:
        per = ev.group_by(_vid=ev.customer_id).aggregate(_visits=ev.count())
        led = led.left_join(per, led.customer_id == per._vid)
        cols.append("_visits")
    frame = to_frame(led.select(*cols).order_by("customer_id"))
    if frame.empty:
        raise CxroiError("the workspace holds no customers yet; ingest the customers table")
    # a churned customer's contract value is that of their last contracts, not 0: segments
    # describe who the customers were, and a band of "0" would hold the churned by definition
    prof = profile.set_index("customer_id")[list(PROFILE_COLUMNS[1:])]
    prof = prof.reindex(frame["customer_id"])  # a left merge on the id (no lookup if aligned)
    visits = frame.pop("_visits") if ev is not None else None
    for c in prof.columns:
        frame["contract_value" if c == "monthly_value" else c] = prof[c].to_numpy()
    months = frame["exposure_years"].to_numpy(float) * 12.0
    fees = np.nan_to_num(frame["contract_value"].to_numpy(float)) * months
    frame["revenue"] = frame["spend"].to_numpy(float) + fees
    if visits is not None:
        # visits over the months each customer was observed (a churned one's stop at churn),
        # at least three, so that a new customer's onboarding does not read as heavy use
        v = visits.fillna(0).to_numpy(float)
        frame["visits_per_month"] = v / np.maximum(months, 3.0)
    return frame


def segment_spec(
    ws: WorkspaceLike,
    frame: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    bands: int | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    rules: Mapping[str, str] | None = None,
) -> SegmentSpec:
    """The segmentation asked for: the arguments over ``cxroi.toml`` ``[segments]`` over the
    defaults (:data:`DEFAULT_DIMENSIONS` that the frame has)."""
    conf = ws.settings.section("segments")
    unknown = set(conf) - {"dimensions", "bands", "edges", "rules"}
    if unknown:
        raise CxroiError(
            f"{CONFIG_FILE}: unknown key(s) in [segments]: {', '.join(sorted(unknown))}; "
            "use dimensions, bands, edges, rules"
        )
    dims = list(by or conf.get("dimensions") or [])
    if not dims:
        dims = [d for d in DEFAULT_DIMENSIONS if d in frame.columns]
    n_bands = int(bands if bands is not None else conf.get("bands", 4))
    all_edges = {**dict(conf.get("edges", {})), **dict(edges or {})}
    for dim, e in all_edges.items():
        if not isinstance(e, list | tuple) or not all(isinstance(x, int | float) for x in e):
            raise CxroiError(f"{CONFIG_FILE}: [segments.edges] {dim} must be a list of numbers")
    all_rules = {**dict(conf.get("rules", {})), **dict(rules or {})}
    return SegmentSpec(tuple(dims), n_bands, all_edges, {str(k): str(v) for k, v in
                                                         all_rules.items()})  # fmt: skip


@progress.task("segments")
def segments(
    ws: WorkspaceLike,
    *,
    by: Sequence[str] | None = None,
    bands: int | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    rules: Mapping[str, str] | None = None,
    survey: str | None = None,
    themes: bool = True,
    top_themes: int = 3,
    n_boot: int = 200,
    random_state: int = 0,
    level: float = 0.95,
) -> Result:
    """Profile the segments of each dimension and rule.

    Parameters
    ----------
    ws
        The workspace (``discount_rate``, ``min_n`` and ``[segments]`` apply).
    by
        Dimensions (customer columns or the profile's ``avg_transaction``,
        ``contract_value``, ``visits_per_month``); default :data:`DEFAULT_DIMENSIONS`.
    bands
        Quantile bands of numeric dimensions (default 4).
    edges
        Cut points per numeric dimension (``{"age": [30, 50]}``).
    rules
        Named filter segments (``{"west premium": "region == 'west' and plan == 'premium'"}``).
    survey
        The NPS group from this survey only.
    themes
        Add the ``themes`` table (comment themes per segment with their NPS gap).
    top_themes
        Themes per segment in that table (by mentions).
    n_boot, random_state, level
        Bootstrap replicates, seed, interval level.

    Returns
    -------
    Result
        ``summary`` (one row per segment), ``profile`` (every metric with interval and ``n``,
        long) and ``themes``.
    """
    settings = ws.settings
    frame = segment_frame(ws, survey=survey)
    spec = segment_spec(ws, frame, by=by, bands=bands, edges=edges, rules=rules)
    seg = segment(frame, spec)
    progress.step(f"profiling the segments of {len(frame):,} customers ({n_boot} bootstrap draws)")
    prof = segment_profile(
        frame, seg, discount_rate=settings.discount_rate, min_n=settings.min_n, n_boot=n_boot,
        level=level, random_state=random_state,
    )  # fmt: skip
    prof = estimate_frame(prof, level=level)
    tables = [
        Table(
            "summary",
            "Segments",
            summary_frame(prof),
            kind="data",
            view=["dimension", "segment", *SUMMARY, "flag"],
        ),
        Table(
            "profile",
            "Segment profiles with intervals",
            prof,
            method=PROFILE_METHOD,
            show=False,
            view=["dimension", "segment", "metric", "value", "ci_low", "ci_high", "n", "flag"],
        ),
    ]
    warnings = []
    if themes:
        th, note = segment_themes(ws, frame, seg, top=top_themes, min_n=settings.min_n,
                                  level=level)  # fmt: skip
        if th is not None:
            view = ["dimension", "segment", "theme", "label", "mentions", "share", "estimate",
                    "ci_low", "ci_high", "n", "flag"]  # fmt: skip
            tables.append(
                Table(
                    "themes", "What each segment talks about", th, method=THEMES_METHOD, view=view
                )  # fmt: skip
            )
        if note:
            warnings.append(note)
    small = prof[(prof["metric"] == "customers") & prof["flag"].str.contains(SMALL_N)]
    if len(small):
        names = ", ".join(f"{d} {s}" for d, s in zip(small["dimension"], small["segment"],
                                                      strict=True))  # fmt: skip
        warnings.append(
            f"fewer than {settings.min_n} customers in {len(small)} segment(s), shown and "
            f"flagged {SMALL_N}: {names}"
        )
    return Result(
        "segments",
        "Segments",
        tables,
        method=PROFILE_METHOD,
        window=Window.resolve(ws.tables).as_dict(),
        params={
            "dimensions": list(spec.dimensions),
            "bands": spec.bands,
            "edges": {k: list(v) for k, v in seg.edges.items()},
            "rules": dict(spec.rules),
            "survey": survey,
            "discount_rate": settings.discount_rate,
            "min_n": settings.min_n,
            "n_customers": len(frame),
            "n_boot": n_boot,
            "random_state": random_state,
        },
        warnings=warnings,
        readings=_readings(prof, settings.currency),
    )


PROFILE_METHOD = (
    "per segment: customers (exact) and their share (Wilson); revenue share, revenue and cost "
    "to serve per year, churn 1 - exp(-churns / exposure years) and CLV m·r/(1 + i − r) of the "
    "annual margin (purchases + contract fees − cost to serve) with percentile intervals of a "
    "Poisson bootstrap over customers; NPS (adjusted Wald), CSAT top-2 box (Wilson) and CES "
    "mean (t) of the customers' latest answers"
)
THEMES_METHOD = (
    "themes of the segment's comments (the workspace theme model); estimate: NPS gap, NPS of "
    "the segment's commented responses that mention the theme minus those that do not "
    "(adjusted Wald interval)"
)


def summary_frame(prof: pd.DataFrame) -> pd.DataFrame:
    """One row per segment: the value of each :data:`SUMMARY` metric, and its flag."""
    p = prof[prof["metric"].isin(SUMMARY)]
    wide = p.pivot_table(
        index=["dimension", "segment"], columns="metric", values="value", sort=False,
        aggfunc="first",
    ).reset_index()  # fmt: skip
    flags = prof[prof["metric"] == "customers"].set_index(["dimension", "segment"])["flag"]
    wide["flag"] = [
        ";".join(f for f in str(flags.get((d, s), "")).split(";") if f == SMALL_N)
        for d, s in zip(wide["dimension"], wide["segment"], strict=True)
    ]
    wide["customers"] = wide["customers"].astype("int64")
    return wide[["dimension", "segment", *[m for m in SUMMARY if m in wide.columns], "flag"]]


@dataclass
class SaidComments:
    """The comments with an NPS answer, laid on the rows of a segment frame: the themes each
    mentions (``mention``, comments x themes), the frame row of its customer (``row``) and its
    NPS group (``group``: 0 promoter, 1 passive, 2 detractor, 3 a score outside 0-10, counted
    but not in the NPS). Comments of customers not in the frame are left out of these, not of
    ``answered`` (every comment with an NPS answer)."""

    answered: int
    names: list[str]
    labels: list[str]
    mention: np.ndarray
    row: np.ndarray
    group: np.ndarray


def said_comments(frame: pd.DataFrame, comments: CommentThemes) -> SaidComments:
    """:class:`SaidComments` of ``comments`` on ``frame``'s rows: the customers are looked up
    once, for every segmentation of the frame (``cxroi opportunities`` has two)."""
    c = comments.comments
    answered = c["nps"].notna().to_numpy()
    row = pd.Index(frame["customer_id"]).get_indexer(c["customer_id"].to_numpy()[answered])
    known = row >= 0
    groups = nps_group(c["nps"].to_numpy()[answered][known])
    mention = c[comments.mention_columns].to_numpy(bool)[answered][known]
    return SaidComments(
        int(answered.sum()),
        comments.names,
        comments.labels,
        mention,
        row[known].astype(np.int64),
        np.select([groups == g for g in ("promoter", "passive", "detractor")], [0, 1, 2], 3),
    )


def segment_themes(
    ws: WorkspaceLike,
    frame: pd.DataFrame,
    seg: Segmentation,
    *,
    top: int = 3,
    min_n: int = 30,
    level: float = 0.95,
    comments: CommentThemes | SaidComments | None = None,
) -> tuple[pd.DataFrame | None, str | None]:
    """The ``top`` themes of each segment's comments by mentions, with their NPS gap.

    ``comments``: the workspace's :func:`~cxroi.analyses.themes.comment_themes`, or those
    laid on ``frame`` already (:func:`said_comments`), when the caller has them. Returns the
    table (``None`` without comments) and a note why it is missing.
    """
    from cxroi.analyses.themes import comment_themes

    if not isinstance(comments, SaidComments):
        ct = comments if comments is not None else comment_themes(ws, n_jobs=-1)
        comments = said_comments(frame, ct)
    if comments.answered == 0:
        return None, "no comments with an NPS answer: no themes per segment"
    progress.step(f"themes of {comments.answered:,} comments")
    names, labels = comments.names, comments.labels
    mention, row, group = comments.mention, comments.row, comments.group
    out: list[dict[str, Any]] = []
    for dim, code in seg.codes.items():
        # per segment and group (one cell each): comments, and those mentioning each theme
        k = len(seg.labels[dim])
        cell = code[row] * 4 + group
        answers = np.bincount(cell, minlength=4 * k).reshape(k, 4)
        mentions = np.stack(
            [np.bincount(cell, mention[:, t], 4 * k) for t in range(len(names))], 1
        ).reshape(k, 4, len(names))
        for s, name in enumerate(seg.labels[dim]):
            n_comments = int(answers[s].sum())
            if n_comments == 0:
                continue
            with_ = mentions[s, :3].T  # themes x (p, m, d)
            without = answers[s, :3][None, :] - with_
            d = nps_diff_from_counts(without.T, with_.T, level=level)
            counts = mentions[s].sum(axis=0).astype(np.int64)
            for t in np.argsort(-counts, kind="stable")[:top]:
                if counts[t] == 0:
                    break
                out.append({
                    "dimension": dim, "segment": name, "theme": names[t],
                    "label": labels[t], "mentions": int(counts[t]),
                    "share": counts[t] / n_comments, "nps_with": float(d["b"][t]),
                    "nps_without": float(d["a"][t]), "estimate": float(d["diff"][t]),
                    "ci_low": float(d["ci_low"][t]), "ci_high": float(d["ci_high"][t]),
                    "n": int(counts[t]), "flag": small_n_flag(int(counts[t]), min_n),
                })  # fmt: skip
    if not out:
        return None, "no comment in any segment mentions a theme"
    return estimate_frame(out, level=level), None


def _readings(prof: pd.DataFrame, currency: str) -> list[str]:
    """Per dimension, the segment with the highest churn beside the lowest (enough customers)."""
    out = []
    ok = prof[(prof["metric"] == "churn_rate") & ~prof["flag"].str.contains(SMALL_N)]
    for dim, part in ok.groupby("dimension", sort=False):
        part = part.dropna(subset=["value"])
        if len(part) < 2:
            continue
        hi, lo = part.loc[part["value"].idxmax()], part.loc[part["value"].idxmin()]
        out.append(
            f"By {dim}: {hi['segment']} churn {hi['value']:.1%} a year "
            f"({hi['ci_low']:.1%} to {hi['ci_high']:.1%}) vs {lo['value']:.1%} for "
            f"{lo['segment']}."
        )
    return out
