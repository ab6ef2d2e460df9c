"""Sentiment and themes of the comments given at each touchpoint of the journey map.

**Comments at a touchpoint are sampled above** :data:`COMMENT_SAMPLE`. The sentiment of a
touchpoint's comments (their mean lexicon score) and the share of them mentioning each theme
are population quantities of its comments; a touchpoint with more comments than
:data:`COMMENT_SAMPLE` gets them estimated from a seeded simple random sample of exactly that
many of its comments (rows, not distinct texts, so repeated comments weigh as often as they
were written; drawn with :data:`COMMENT_SEED` over the comments in ``response_id`` order, so
the same data give the same sample). ``n`` is then the comments analysed, not all of them:
the sentiment's t interval and the themes' Wilson intervals are those of the sample, so they
widen accordingly (without the finite-population correction, which would narrow them: they
are conservative). The themes table says how many comments each touchpoint has
(``comments``) and how many were analysed (``sampled``), and a warning names the sampled
touchpoints. At 20,000 comments the sentiment mean is within about ±0.01 and a theme share
within ±0.7 points (95%), well inside what a ranking of touchpoints needs, and the analysis
costs the same for 50,000 or 5 million comments. Below the cap every comment is analysed and
the figures are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.journey import Journey

__all__ = ["COMMENT_SAMPLE", "COMMENT_SEED", "comment_metrics", "start_comment_metrics"]

COMMENT_SAMPLE = 20_000
"""Comments analysed per touchpoint at most; above it a seeded random sample of this many."""
COMMENT_SEED = 20_161
"""Seed of the comment samples (fixed: the same data give the same figures)."""


Comments = tuple[pd.DataFrame | None, pd.DataFrame | None, str | None]
"""Per touchpoint: sentiment rows, top themes and a note (:func:`comment_metrics`)."""


def comment_metrics(
    ws: WorkspaceLike, journey: Journey, level: float, sample: int | None = COMMENT_SAMPLE
) -> Comments:
    """Per touchpoint: the lexicon sentiment of its comments (mean, t interval) and its three
    most mentioned themes, through the workspace's theme model, from at most ``sample`` of its
    comments (module docstring; ``None``: all); computed once per state of the data
    (:mod:`cxroi.cache`). The note names the touchpoints whose comments were sampled."""
    return start_comment_metrics(ws, journey, level, sample)()


def start_comment_metrics(
    ws: WorkspaceLike, journey: Journey, level: float, sample: int | None = COMMENT_SAMPLE
) -> Callable[[], Comments]:
    """:func:`comment_metrics` in two halves: reads the comments from the engine now, analyses
    them on a thread (Python work, which runs beside the engine's next queries), and returns
    the function that waits for the answer. The workspace's connection is only used here, on
    the calling thread."""
    from cxroi.analyses.themes import ensure_theme_model
    from cxroi.cache import slot

    ensure_theme_model(ws)
    surveys = {t.id: list(t.surveys) for t in journey.touchpoints}
    params = {"surveys": surveys, "level": level, "sample": sample, "seed": COMMENT_SEED}
    where = slot(ws, "journey-comments", params, themes=True)
    hit = where.get()
    if hit is not None:
        return lambda: _present(hit)
    frame, totals = _touchpoint_comments(ws, journey, sample)
    if frame is None or frame.empty:
        return lambda: _present(where.put({}))
    from cxroi.analyses.themes import theme_model

    # a sample is a few thousand distinct sentences a touchpoint: analysed in this process
    # in about a second, where starting worker processes costs more than it saves
    jobs = 1 if sample is not None else -1
    model = theme_model(ws, n_jobs=jobs)  # the saved model, read here: the thread reads no file
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxroi-comments")
    job = pool.submit(_analyse_comments, frame, totals, journey, level, model, jobs)
    pool.shutdown(wait=False)
    return lambda: _present(where.put(job.result()))


def _present(got: Mapping[str, Any]) -> Comments:
    sent, themes = got.get("sentiment"), got.get("themes")
    if not isinstance(sent, pd.DataFrame) or sent.empty:
        return None, None, "no comments at the touchpoints: no sentiment or themes"
    assert isinstance(themes, pd.DataFrame)
    note = None
    if "comments" in sent and (sent["sampled"] < sent["comments"]).any():
        over = sent[sent["sampled"] < sent["comments"]]
        note = (
            "comment sentiment and themes estimated from a seeded random sample of "
            f"{int(over['sampled'].max()):,} comments at "
            + ", ".join(f"{t} (of {int(c):,})" for t, c in zip(over["touchpoint"],
                                                              over["comments"], strict=True))
            + "; n is the comments analysed and the intervals are the sample's"
        )  # fmt: skip
    sent = sent.drop(columns=[c for c in ("comments", "sampled") if c in sent])
    return sent, themes, note


def _sample_keys(keys: pd.DataFrame, sample: int) -> pd.DataFrame:
    """Of ``keys`` (``tp``, ``response_id``, sorted), a simple random sample of ``sample`` rows
    per ``tp``, each drawn with its own seed (:data:`COMMENT_SEED` and the touchpoint id), so
    one touchpoint's sample does not depend on the others'."""
    import zlib

    picked = []
    for tp, g in keys.groupby("tp", sort=False):
        rng = np.random.default_rng([COMMENT_SEED, zlib.crc32(str(tp).encode())])
        picked.append(g.iloc[np.sort(rng.choice(len(g), size=sample, replace=False))])
    return pd.concat(picked, ignore_index=True)


def _touchpoint_comments(
    ws: WorkspaceLike, journey: Journey, sample: int | None
) -> tuple[pd.DataFrame | None, dict[str, int]]:
    """The comments (``tp``, ``comment``) of each touchpoint, all of them or its sample where
    it has more than ``sample``, and the number of comments of each touchpoint; ``None``
    without comments."""
    import ibis

    rows = [(t.id, v) for t in journey.touchpoints for v in t.surveys]
    rs = ws.table("responses")
    if not rows or "comment" not in rs.columns:
        return None, {}
    m = ibis.memtable(pd.DataFrame(rows, columns=["tp", "value"], dtype=object))
    rs = rs.filter(rs.comment.notnull() & rs.touchpoint.notnull())
    j = rs.inner_join(m, rs.touchpoint.cast("string") == m.value)
    j = j.select("tp", rid=j.response_id.cast("string"), comment=j.comment)
    counts = j.group_by("tp").aggregate(n=j.count()).to_pandas()
    totals = dict(zip(counts["tp"], counts["n"].astype(int), strict=True))
    big = sorted(t for t, n in totals.items() if sample is not None and n > sample)
    if big:
        # only the ids of the sampled touchpoints come back, in a fixed order; then only the
        # comments of the sample
        k = j.filter(j.tp.isin(big)).select("tp", "rid").order_by(["tp", "rid"]).to_pandas()
        sel = ibis.memtable(_sample_keys(k, int(sample or 0)))
        j = ibis.union(j.filter(~j.tp.isin(big)), j.semi_join(sel, ["tp", "rid"]), distinct=False)
    from cxroi.analyses.themes import comment_frame

    frame = comment_frame(j.order_by(["tp", "rid"]).select("tp", "comment").to_pyarrow())
    return frame, totals


def _analyse_comments(
    frame: pd.DataFrame, totals: dict[str, int], journey: Journey, level: float,
    model: Any, jobs: int,
) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Sentiment and top themes of each touchpoint's comments ``frame`` (``tp``, ``comment``)
    through the theme ``model`` (``jobs`` worker processes); no engine work and no file read
    (it runs on a thread)."""
    from cxroi.metrics._intervals import mean_interval, wilson
    from cxroi.text.pipeline import analyse_comments

    progress.step(f"sentiment and themes of {len(frame):,} touchpoint comments")
    ca = analyse_comments(frame["comment"], model, n_jobs=jobs)
    ids = [t.id for t in journey.touchpoints]
    code = np.asarray(pd.Categorical(frame["tp"], categories=ids).codes, dtype=np.int64)
    ok = (code >= 0) & np.isfinite(ca.sentiment)
    v = np.nan_to_num(ca.sentiment)
    k = len(ids)
    n = np.bincount(code[ok], minlength=k).astype(float)
    tot = np.bincount(code[ok], v[ok], minlength=k)
    sq = np.bincount(code[ok], v[ok] ** 2, minlength=k)
    mean, _, _, lo, hi = mean_interval(n, tot, sq, level=level)
    inside = code >= 0
    comments = np.bincount(code[inside], minlength=k).astype(float)
    by_id = {t.id: t for t in journey.touchpoints}
    sentiment = pd.DataFrame({
        "stage": [by_id[i].stage for i in ids], "touchpoint": ids,
        "name": [by_id[i].name for i in ids], "metric": "sentiment", "value": mean,
        "ci_low": lo, "ci_high": hi, "n": n.astype(int),
        "flag": np.where(n > 0, "", "no-data"),
        "comments": [int(totals.get(i, 0)) for i in ids], "sampled": comments.astype(int),
    })  # fmt: skip
    on = ca.themes.confidence[inside] > 0
    counts = np.zeros((k, on.shape[1]))
    np.add.at(counts, code[inside], on)
    out = []
    for i, tid in enumerate(ids):
        for r, t in enumerate(np.argsort(-counts[i], kind="stable")[:3], start=1):
            if counts[i, t] > 0:
                _, _, s_lo, s_hi = wilson(counts[i, t], comments[i], level=level)
                out.append({"touchpoint": tid, "rank": r, "theme": ca.themes.names[t],
                            "label": ca.themes.labels[t], "mentions": int(counts[i, t]),
                            "share": counts[i, t] / comments[i], "ci_low": float(s_lo),
                            "ci_high": float(s_hi), "sampled": int(comments[i]),
                            "comments": int(totals.get(tid, comments[i]))})  # fmt: skip
    themes = pd.DataFrame(out, columns=["touchpoint", "rank", "theme", "label", "mentions",
                                        "share", "ci_low", "ci_high", "sampled",
                                        "comments"])  # fmt: skip
    return {"sentiment": sentiment, "themes": themes}
