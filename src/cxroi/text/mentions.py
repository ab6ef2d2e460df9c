"""One pass over many comments: sentiment, themes and the tone of each theme mention.

:func:`analyse_mentions` is what :func:`cxroi.text.impact.score_comments` (``cxroi themes``)
runs over every commented response. Per comment it gives

- its sentiment, from the chosen sentiment model (:func:`cxroi.text.sentiment.fit_sentiment`:
  score-aware or lexicon), exactly as that model's ``predict`` scores it;
- its themes, exactly as :meth:`cxroi.text.theme_model.ThemeModel.transform` assigns them
  (the analyst's edits applied);
- for each theme it mentions, whether it speaks of it negatively. The tone of a mention is the
  mean sentiment of the comment's sentences assigned to the theme (each sentence scored by the
  same model and given its themes, edits included, as a comment of its own), or the whole
  comment's sentiment when the theme was given to the comment by a keyword edit that no single
  sentence carries. A tone below the model's neutral point (a text that says nothing) is
  negative.

The work is done once per distinct comment (:mod:`cxroi.text._distinct`), and within a
worker once per distinct sentence (a cache keyed by the sentence text, as in
:mod:`cxroi.text.pipeline`): comments are redacted (:mod:`cxroi.privacy`), split into
sentences, and only sentences not seen before are vectorised, given themes and scored.
Worker processes (``n_jobs``) receive the fitted models once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cxroi.privacy import Redactor
from cxroi.text._distinct import distinct_texts
from cxroi.text._parallel import map_chunks
from cxroi.text.pipeline import CommentAnalysis
from cxroi.text.sentiment import SentimentResult
from cxroi.text.theme_config import ThemeConfig
from cxroi.text.theme_model import (
    ThemeAssignment,
    ThemeModel,
    sentence_confidence,
    split_sentences,
)

__all__ = ["analyse_mentions"]


class _Sentences:
    """Sentence -> row of (theme confidences, edited themes, sentiment); emptied when full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.clear()

    def clear(self) -> None:
        self.index: dict[str, int] = {}
        self.conf = np.empty((0, 0), dtype=np.float32)
        self.on = np.empty((0, 0), dtype=bool)
        self.value = np.empty(0)

    def add(self, new: list[str], conf: np.ndarray, on: np.ndarray, value: np.ndarray) -> None:
        start = len(self.index)
        self.index.update(zip(new, range(start, start + len(new)), strict=True))
        first = start == 0
        self.conf = conf if first else np.concatenate([self.conf, conf])
        self.on = on if first else np.concatenate([self.on, on])
        self.value = value if first else np.concatenate([self.value, value])


def _mentions_chunk(
    chunk: Sequence[str | None],
    *,
    redactor: Redactor,
    vectorizer: Any,
    h: np.ndarray,
    groups: np.ndarray,
    config: ThemeConfig,
    themes: list[str],
    terms: list[list[str]],
    scorer: Callable[[Sequence[str | None]], np.ndarray],
    neutral: float,
    cache: _Sentences,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sentiment, comment x theme confidence and negative mentions for distinct comments."""
    n = len(chunk)
    texts: list[str | None] = []
    sents: list[str] = []
    counts = np.zeros(n, dtype=np.int64)
    for i, t in enumerate(chunk):
        r = None if t is None else redactor(t)
        if r is not None and not r.strip():
            r = None
        texts.append(r)
        if r is not None:
            parts = split_sentences(r)
            sents.extend(parts)
            counts[i] = len(parts)
    base = np.zeros((n, groups.shape[1]), dtype=np.float32)
    has = counts > 0
    starts = np.concatenate([[0], np.cumsum(counts[has])[:-1]]).astype(np.int64)
    if sents:
        if len(cache.index) + len(sents) > cache.size:
            cache.clear()
        new = list(dict.fromkeys(s for s in sents if s not in cache.index))
        if new:
            conf = sentence_confidence(
                vectorizer.transform(new),
                h,
                groups,
                min_confidence=config.min_confidence,
                min_explained=config.min_explained,
            )
            on = config.edit(conf, themes, terms, new)[2] > 0
            value = np.nan_to_num(np.asarray(scorer(new), dtype=float), nan=neutral)
            cache.add(new, conf, on, value)
        ids = np.fromiter((cache.index[s] for s in sents), np.int64, len(sents))
        base[has] = np.maximum.reduceat(cache.conf[ids], starts, axis=0)
    conf_out = config.edit(base, themes, terms, texts)[2]
    mentioned = conf_out > 0
    sentiment = np.asarray(scorer(texts), dtype=float)
    tone = np.where(mentioned, sentiment[:, None], np.nan)
    if sents:
        on_s = cache.on[ids].astype(float)
        total = np.zeros(mentioned.shape)
        count = np.zeros(mentioned.shape)
        total[has] = np.add.reduceat(on_s * cache.value[ids][:, None], starts, axis=0)
        count[has] = np.add.reduceat(on_s, starts, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            by_sentence = total / count
        tone = np.where(mentioned & (count > 0), by_sentence, tone)
    return sentiment, conf_out, mentioned & (tone < neutral)


def analyse_mentions(
    texts: Sequence[Any],
    model: ThemeModel,
    sentiment: SentimentResult,
    *,
    n_jobs: int | None = 1,
    chunk_size: int = 20_000,
    cache_size: int = 500_000,
) -> CommentAnalysis:
    """Sentiment, themes and negative theme mentions of many comments in one pass.

    Parameters
    ----------
    texts
        Comments (missing or empty allowed; a categorical series is used as encoded).
    model
        A fitted :class:`~cxroi.text.theme_model.ThemeModel`; its ``config`` gives the
        redaction options, thresholds and analyst edits.
    sentiment
        The chosen sentiment model (:func:`~cxroi.text.sentiment.fit_sentiment`): its
        ``scorer`` scores comments and sentences, ``neutral`` is its neutral point.
    n_jobs
        Worker processes (``None``/``-1``: every core), used from 20,000 distinct comments on.
    chunk_size
        Distinct comments per work unit.
    cache_size
        Distinct sentences cached per worker.

    Returns
    -------
    CommentAnalysis
        Row-aligned ``sentiment`` (``NaN`` without text) and ``themes`` with ``negative`` set.
    """
    model._check_fitted()
    cfg = model._config
    themes = [str(t) for t in model.themes_["theme"]]
    terms = [list(t) for t in model.themes_["terms"]]
    k = len(themes)
    names, labels, _ = cfg.edit(np.zeros((0, k), dtype=np.float32), themes, terms, [])
    uniq, codes = distinct_texts(texts)
    clean = [t if t is None or isinstance(t, str) else str(t) for t in uniq]
    state = {
        "redactor": cfg.redact,
        "vectorizer": model._transform_vectorizer(),
        "h": model.components_,
        "groups": model._group_matrix(),
        "config": cfg,
        "themes": themes,
        "terms": terms,
        "scorer": sentiment.scorer,
        "neutral": float(sentiment.neutral),
        "cache": _Sentences(cache_size),
    }
    parts = map_chunks(_mentions_chunk, clean, n_jobs=n_jobs, chunk_size=chunk_size, state=state)
    if parts:
        values = np.concatenate([p[0] for p in parts])
        conf = np.concatenate([p[1] for p in parts])
        negative = np.concatenate([p[2] for p in parts])
    else:
        values = np.empty(0)
        conf = np.zeros((0, len(names)), dtype=np.float32)
        negative = np.zeros((0, len(names)), dtype=bool)
    assignment = ThemeAssignment(names, labels, conf[codes], negative[codes])
    return CommentAnalysis(values[codes], assignment)
