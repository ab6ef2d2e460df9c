"""``cxroi archetypes``: data-driven customer archetypes, named and described from their data.

The point-in-time profile (:func:`cxroi.models.profile.customer_profile`), what purchases
and tickets are made of, use-stage events and the theme mentions of comments (the
workspace's theme model) are the features (:func:`archetype_features`) of a latent class
mixture (:class:`cxroi.models.archetypes.ArchetypeMixture`), with K chosen by BIC checked by
bootstrap stability. It is fitted on a random subsample of at most 50,000 customers and then
scores every customer; the per-row work (profile, mixes) is aggregated in the engine. The
per-customer counts (mixes, theme mentions) are laid out in the profile's rows by looking each
id up once, not by merging wide frames on string ids (at a million customers the merges took
about as long as the queries).

Each archetype is then described from its members (:mod:`cxroi.analyses.archetype_description`):
figures with intervals, a name from its most distinctive traits, a description, and its most
typical comments.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxroi import progress
from cxroi._types import Tables, WorkspaceLike
from cxroi.analyses._beside import beside
from cxroi.analyses.archetype_description import (
    TRAITS,
    Themes,
    archetype_stats,
    describe,
    main_table,
    metrics_table,
    name_archetypes,
    selection_table,
    top_theme,
    typical_comments,
)
from cxroi.cache import cached
from cxroi.errors import CxroiError, param
from cxroi.frames import to_frame
from cxroi.models.archetypes import ArchetypeMixture
from cxroi.models.profile import DAYS_PER_MONTH, customer_profile
from cxroi.results import SMALL_N, Result, Table
from cxroi.window import Window

if TYPE_CHECKING:
    from cxroi.analyses.themes import CommentThemes

__all__ = [
    "PROFILE_COLUMNS",
    "TRAITS",
    "ArchetypeRun",
    "archetype_assignments",
    "archetype_features",
    "archetype_run",
    "archetypes",
    "feature_spec",
    "name_archetypes",
]

ATTRIBUTES = ("plan", "occupation", "region", "channel")
"""Categorical customer attributes used when present (``city`` is not: too many levels)."""
MIXES = (
    ("transactions", "product", "ts", "product"),
    ("tickets", "channel", "opened_at", "ticket"),
)
"""What purchases and tickets are made of: (table, column, time column, feature prefix); the
:data:`MAX_LEVELS` most frequent levels are counted."""
MAX_LEVELS = 12
USE_STAGE = "use"
"""Events of this journey stage are engagement (app sessions, logins); the other stages repeat
purchases and tickets (checkout, delivery, support) or lifecycle days (onboarding, renewal)."""
METHOD = (
    "latent class mixture by EM: categorical attributes and NPS group, multinomial product "
    "and ticket-channel mixes, Gaussian age and log average transaction, negative binomial "
    "purchases and Poisson tickets, churn and use events per month observed, binomial theme "
    "mentions per comment; missing answers marginalised, not imputed. K: the BIC-best "
    "(Schwarz 1978) of {lo}..{hi} whose bootstrap refits agree with median adjusted Rand "
    "index >= {stab} (Hubert & Arabie 1985). Fitted on a random subsample of at most {rows:,} "
    "customers, then every customer scored"
)
PROFILE_COLUMNS = (
    "customer_id", *ATTRIBUTES, "age", "start", "churn_date", "tenure_months", "purchases",
    "spend", "avg_transaction", "spend_per_month", "monthly_value", "tickets", "support_cost",
    "nps_group", "csat_last",
)  # fmt: skip
"""The profile's columns the archetypes read (those the workspace has)."""
_VIEW = ["archetype", "name", "customers", "value", "ci_low", "ci_high", "revenue_share", "nps",
         "churn_per_year", "top_theme", "flag"]  # fmt: skip
_METRICS_VIEW = ["name", "metric", "value", "ci_low", "ci_high", "n", "flag"]
_SEL = "BIC of each K; median adjusted Rand index of the bootstrap refits (2.5-97.5% of them)"


def archetype_features(
    profile: pd.DataFrame, *, observed_from: object, as_of: object,
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:  # fmt: skip
    """The mixture's features of each customer, from their profile (nothing is imputed).

    ``profile`` is :func:`cxroi.models.profile.customer_profile`, executed. Purchases, tickets
    and churn count over ``months``, from the later of ``start`` and ``observed_from`` to the
    earlier of ``churn_date`` and ``as_of`` (at least a day). ``extra`` holds per-customer
    counts (missing: 0) by ``customer_id`` (a column, or the index): ``comments``,
    ``mention_<theme>`` (comments mentioning it), ``product_<level>``, ``ticket_<level>``,
    ``use_events``. The result has ``customer_id``, the attributes present, ``age``,
    ``months``, ``purchases``, ``tickets``, ``churned``, ``log_avg_transaction`` and
    ``nps_group`` (missing without a purchase or an answer).
    """
    lo, hi = pd.Timestamp(observed_from), pd.Timestamp(as_of)
    start = pd.to_datetime(profile["start"]).clip(lower=lo)
    churn = pd.to_datetime(profile["churn_date"])
    end = churn.where(churn.notna() & (churn < hi), hi)
    cols = ["customer_id", *[c for c in (*ATTRIBUTES, "age") if c in profile.columns]]
    out = profile[cols].copy()
    out["months"] = np.maximum((end - start).dt.days.to_numpy(float), 1.0) / DAYS_PER_MONTH
    out["purchases"] = profile["purchases"].to_numpy(float)
    out["tickets"] = profile["tickets"].to_numpy(float)
    out["churned"] = (churn.notna() & (churn >= lo) & (churn <= hi)).to_numpy(float)
    avg = pd.to_numeric(profile["avg_transaction"], errors="coerce")
    out["log_avg_transaction"] = np.log(avg.where(avg > 0)).to_numpy(float)
    out["nps_group"] = profile["nps_group"].astype(object).where(profile["nps_group"].notna())
    if extra is not None and len(extra):
        by_id = extra.set_index("customer_id") if "customer_id" in extra.columns else extra
        keep = [c for c in by_id.columns if c in ("comments", "use_events")
                or c.startswith(("mention_", "product_", "ticket_"))]  # fmt: skip
        # a left merge on customer_id; nothing to look up or fill when ``extra`` is in the
        # profile's rows (as in archetype_run)
        counts = by_id[keep]
        ids = pd.Index(profile["customer_id"])
        if not counts.index.equals(ids):
            counts = counts.reindex(ids).fillna(0.0)
        out.index = counts.index = pd.RangeIndex(len(out))  # numbered as a merge numbers them
        out = pd.concat([out, counts], axis=1, copy=False)
    return out


def feature_spec(features: pd.DataFrame) -> dict[str, Any]:
    """Keyword arguments of :class:`~cxroi.models.archetypes.ArchetypeMixture` for a frame
    of :func:`archetype_features`: the columns it has, each in its family."""
    has = set(features.columns)
    counts = {c: "months" for c in ("purchases", "tickets", "churned", "use_events") if c in has}
    families = {"purchases": "negbin"}
    for c in features.columns:
        if c.startswith("mention_"):
            counts[c], families[c] = "comments", "binomial"
    multi = {
        name: [c for c in features.columns if c.startswith(f"{prefix}_")]
        for prefix, name in (("product", "product mix"), ("ticket", "ticket channels"))
    }
    return {
        "categorical": [c for c in (*ATTRIBUTES, "nps_group") if c in has],
        "gaussian": [c for c in ("age", "log_avg_transaction") if c in has],
        "counts": counts, "families": families,
        "multinomial": {k: v for k, v in multi.items() if len(v) >= 2},
    }  # fmt: skip


def _mix_counts(tables: Tables, end_ts: dt.datetime, ids: pd.Index) -> pd.DataFrame | None:
    """Per customer of ``ids``, in their order (0 without any; others left out), aggregated
    in the engine: purchases by product, tickets by channel and use-stage events, before
    ``end_ts``."""
    import ibis
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    for name, col, ts, prefix in MIXES:
        t = tables.get(name)
        if t is None or col not in t.columns:
            continue
        t = t.filter((t[ts] < end_ts) & t[col].notnull())
        if name == "transactions":
            t = t.filter(t.amount >= 0)  # as the profile counts purchases
        top = t.group_by(col).aggregate(n=t.count()).order_by(ibis.desc("n")).limit(MAX_LEVELS)
        levels = top.to_pandas()[col].tolist()
        if len(levels) >= 2:
            aggs = {f"{prefix}_{lv}": (t[col] == lv).cast("int64").sum() for lv in levels}
            parts.append(t.group_by("customer_id").aggregate(**aggs).to_pyarrow())
    ev = tables.get("events")
    if ev is not None and "stage" in ev.columns:
        e = ev.filter((ev.ts < end_ts) & (ev.stage == USE_STAGE))
        parts.append(e.group_by("customer_id").aggregate(use_events=e.count()).to_pyarrow())
    parts = [p for p in parts if len(p)]
    if not parts:
        return None
    cols = [c for p in parts for c in p.column_names if c != "customer_id"]
    counts = np.zeros((len(cols), len(ids)), dtype=np.int64)  # a row per column
    keys = pa.array(ids.to_numpy())  # looked up in Arrow: no Python string per row
    row = 0
    for p in parts:
        pos = pc.index_in(p["customer_id"].cast(keys.type), value_set=keys)
        pos = pos.fill_null(-1).to_numpy()
        found = pos >= 0  # customers not in ids: not counted
        for c in p.column_names:
            if c != "customer_id":
                counts[row, pos[found]] = p[c].to_numpy()[found]
                row += 1
    return _in_rows(ids, cols, counts)


def _in_rows(ids: pd.Index, columns: list[str], counts: np.ndarray) -> pd.DataFrame:
    """``counts`` (a row per column, a column per customer of ``ids``) as a frame indexed by
    ``ids``, without copying them."""
    return pd.DataFrame(counts.T, index=ids, columns=columns, copy=False)


def _theme_counts(
    ws: WorkspaceLike,
    end_ts: dt.datetime,
    n_jobs: int | None,
    ids: pd.Index,
    comments: Callable[[], CommentThemes] | None = None,
) -> Themes:
    """Per customer of ``ids``, in their order (none: 0): comments before ``end_ts``, those
    mentioning each theme, and those of them that read negative (lexicon sentiment below 0),
    from the workspace's one pass over its comments
    (:func:`cxroi.analyses.themes.comment_themes`)."""
    from cxroi.analyses.themes import comment_themes

    rs = ws.tables.get("responses")
    if rs is None or "comment" not in rs.columns:
        return Themes([], [], None, "no comments in the workspace: no theme mentions")
    try:
        ct = comments() if comments is not None else comment_themes(ws, n_jobs=n_jobs)
    except CxroiError as e:
        return Themes([], [], None, f"no theme mentions: {e}")
    before = (ct.comments["ts"] < pd.Timestamp(end_ts)).to_numpy()
    if not before.any():
        return Themes([], [], None, "no comments before as_of: no theme mentions")
    names, labels = ct.names, ct.labels
    pos = ids.get_indexer(ct.comments["customer_id"].to_numpy()[before])
    found = pos >= 0  # comments of customers not in ids: not counted
    on = ct.comments[ct.mention_columns].to_numpy(bool)[before] & found[:, None]
    neg = on & (np.nan_to_num(ct.comments["sentiment"].to_numpy(float)[before]) < 0)[:, None]
    counts = np.empty((1 + 2 * len(names), len(ids)), dtype=np.int64)  # a row per column
    for j, rows in enumerate([found, *on.T, *neg.T]):
        counts[j] = np.bincount(pos[rows], minlength=len(ids))
    cols = ["comments", *[f"{p}_{n}" for p in ("mention", "negative") for n in names]]
    return Themes(names, labels, _in_rows(ids, cols, counts))


@dataclass
class ArchetypeRun:
    """One fit's result and ``assignments``: ``customer_id``, ``archetype`` (its name) and
    ``probability`` (of that archetype) of every customer."""

    result: Result
    assignments: pd.DataFrame


@progress.task("archetypes")
def archetype_run(
    ws: WorkspaceLike,
    *,
    k: int | None = None,
    as_of: object | None = None,
    survey: str | None = None,
    themes: bool = True,
    k_range: tuple[int, int] = (2, 8),
    max_fit_rows: int = 50_000,
    n_boot: int = 5,
    n_jobs: int | None = 1,
    random_state: int = 0,
    level: float = 0.95,
    profile: pd.DataFrame | None = None,
    comments: Callable[[], CommentThemes] | None = None,
) -> ArchetypeRun:
    """Data-driven customer archetypes with names, descriptions and typical comments.

    ``k`` archetypes (``None``: the BIC-best in ``k_range`` that is stable) on the profile of
    ``as_of`` (default: the last day of data), NPS from ``survey`` only if given, with the
    theme mentions of comments if ``themes`` (the workspace's theme model is fitted if
    needed; ``n_jobs`` workers, ``-1`` every core). ``max_fit_rows``, ``n_boot`` and
    ``random_state`` are the fitting subsample, bootstrap refits per K checked and seed;
    the workspace's ``discount_rate`` values CLV and its ``min_n`` flags small groups.
    ``profile``: that profile (:func:`~cxroi.models.profile.customer_profile` of ``as_of``
    and ``survey``, at least :data:`PROFILE_COLUMNS`, in ``customer_id`` order) when the
    caller has read it already; it is read here otherwise. ``comments``: the function that
    waits for the workspace's pass over its comments
    (:func:`~cxroi.analyses.themes.comment_themes`), when the caller has started it.

    Returns
    -------
    ArchetypeRun
        ``result``: tables ``archetypes`` (a row per archetype: ``value`` its expected share
        of customers, the interval from the uncertainty of the assignment; ``name``,
        ``description``, share of revenue, NPS, churn per year, top theme), ``metrics`` (every
        figure with interval and ``n``), ``comments`` (three per archetype), ``selection``
        (BIC and bootstrap stability of each K); and ``assignments``.

    Raises
    ------
    CxroiError
        Without customers, or with ``k`` below 1 or above the number of customers.
    """
    options: dict[str, Any] = {
        "k": k, "as_of": as_of, "survey": survey, "themes": themes, "k_range": tuple(k_range),
        "max_fit_rows": max_fit_rows, "n_boot": n_boot, "random_state": random_state,
        "level": level,
    }  # fmt: skip
    # n_jobs does not change the answer; the data, settings and theme model are in the stamp
    got = cached(
        ws,
        "archetypes",
        {**options, "as_of": str(as_of)},
        lambda: _archetype_run(ws, n_jobs=n_jobs, profile=profile, comments=comments, **options),
        themes=themes,
    )
    result, assignments = got["result"], got["assignments"]
    assert isinstance(result, Result) and isinstance(assignments, pd.DataFrame)
    return ArchetypeRun(result, assignments)


def _archetype_run(
    ws: WorkspaceLike,
    *,
    k: int | None,
    as_of: object | None,
    survey: str | None,
    themes: bool,
    k_range: tuple[int, int],
    max_fit_rows: int,
    n_boot: int,
    n_jobs: int | None,
    random_state: int,
    level: float,
    profile: pd.DataFrame | None,
    comments: Callable[[], CommentThemes] | None,
) -> dict[str, Result | pd.DataFrame]:
    tables, settings = ws.tables, ws.settings
    win = Window.resolve(tables, as_of=as_of)
    end_ts = dt.datetime.combine(win.end + dt.timedelta(days=1), dt.time())
    progress.step("profiling customers")
    if profile is None:
        expr = customer_profile(tables, as_of=win.end, survey=survey)
        # in customer order: the fitting subsample is drawn by row, and the engine returns
        # the rows of a query without ORDER BY in any order
        expr = expr.select(*[c for c in PROFILE_COLUMNS if c in expr.columns])
        prof = to_frame(expr.order_by("customer_id"))
    else:
        prof = profile[[c for c in PROFILE_COLUMNS if c in profile.columns]]
    if prof.empty:
        raise CxroiError(f"no customers had started by {win.end}: nothing to cluster")
    if k is not None and not 1 <= k <= len(prof):
        raise CxroiError(f"{param('k')} must be from 1 to the {len(prof)} customers, got {k}")
    ids = pd.Index(prof["customer_id"])
    # the mixes are counted in the engine while the comments are analysed in the workers
    mixes = beside(ws, lambda w: _mix_counts(w.tables, end_ts, ids), name="cxroi-mixes")
    th = _theme_counts(ws, end_ts, n_jobs, ids, comments) if themes else Themes([], [], None)
    progress.step("purchase, ticket and use mixes")
    extra = mixes()  # both in the profile's rows
    if th.counts is not None:
        extra = th.counts if extra is None else pd.concat([extra, th.counts], axis=1, copy=False)
    feats = archetype_features(prof, observed_from=win.start, as_of=win.end, extra=extra)
    model = ArchetypeMixture(k, k_range=k_range, max_fit_rows=max_fit_rows, n_boot=n_boot,
                             random_state=random_state, **feature_spec(feats))  # fmt: skip
    lo, hi = (k, k) if k is not None else k_range
    fit_n = len(feats) if max_fit_rows is None else min(len(feats), max_fit_rows)
    progress.step(f"fitting K {lo}..{hi} on {fit_n:,} customers, with bootstrap checks")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(feats)
    progress.step(f"scoring {len(feats):,} customers")
    proba = model.predict_proba(feats)
    label = proba.argmax(axis=1)
    stats = archetype_stats(
        prof, feats, label, proba, model.n_components_, th, settings.discount_rate, level
    )
    progress.step("describing the archetypes")
    names = name_archetypes(stats)
    stats["name"] = [*names, "All customers"]
    top = [top_theme(r, stats) for r in stats.to_dict("records")]
    stats["top_theme"], stats["top_theme_negative"] = [t[0] for t in top], [t[1] for t in top]
    stats["description"] = [describe(r) for r in stats.to_dict("records")]
    main = main_table(stats, level, settings.min_n)
    ids = feats["customer_id"].to_numpy(dtype=object)
    method = METHOD.format(lo=lo, hi=hi, stab=model.min_stability, rows=max_fit_rows)
    warn = [str(w.message) for w in caught] + ([th.note] if th.note else [])
    small = main.loc[main["flag"].str.contains(SMALL_N), "name"].tolist()
    if small:
        warn.append(f"fewer than {settings.min_n} members in: {', '.join(small)} ({SMALL_N})")
    metrics = metrics_table(stats, level, settings.min_n)
    comments = typical_comments(tables, label, proba, ids, names, end_ts)
    out = [
        Table("archetypes", "Archetypes", main, method=method, view=_VIEW),
        Table("metrics", "What each archetype is like", metrics, view=_METRICS_VIEW, show=False),
        Table("comments", "Most typical comments", comments, kind="data"),
        Table(
            "selection", "Choosing the number of archetypes", selection_table(model), method=_SEL
        ),
    ]
    mp = model.params_
    params = dict(k=model.n_components_, k_range=[lo, hi], min_stability=model.min_stability,
                  stable=mp["stable"], stability_median=mp["stability_median"],
                  n_customers=len(feats), n_fit=mp["n_fit"], n_boot=n_boot,
                  features=_features(model), themes=th.names, survey=survey,
                  discount_rate=settings.discount_rate, min_n=settings.min_n,
                  random_state=random_state)  # fmt: skip
    window = {"since": win.start, "as_of": win.end}
    readings = list(stats["description"].iloc[:-1])
    result = Result("archetypes", "Customer archetypes", out, method=method, window=window,
                    params=params, warnings=warn, readings=readings)  # fmt: skip
    chosen = proba[np.arange(len(label)), label]
    assignments = pd.DataFrame({"customer_id": ids, "probability": chosen})
    assignments.insert(1, "archetype", np.asarray(names, dtype=object)[label])
    return {"result": result, "assignments": assignments}


def _features(model: ArchetypeMixture) -> list[str]:
    return [*model.categorical, *model.gaussian, *dict(model.counts or {}),
            *dict(model.multinomial or {})]  # fmt: skip


def archetypes(
    ws: WorkspaceLike, *, k: int | None = None, as_of: object | None = None, **options: Any
) -> Result:
    """The archetypes' :class:`~cxroi.results.Result` (options of :func:`archetype_run`)."""
    return archetype_run(ws, k=k, as_of=as_of, **options).result


def archetype_assignments(ws: WorkspaceLike, **options: Any) -> pd.DataFrame:
    """``customer_id``, ``archetype`` (name) and ``probability`` of every customer (options
    of :func:`archetype_run`)."""
    return archetype_run(ws, **options).assignments
