"""One pass over many comments: redaction, sentences, sentiment and themes per chunk.

:func:`analyse_comments` is the fast path for large comment streams (1 million comments of
~200 characters in well under two minutes on two cores). Each worker process receives the
fitted theme model once and then, per chunk of comments, does everything in one go: redact
(:mod:`cxroi.privacy`), split into sentences (:func:`cxroi.text.theme_model.split_sentences`),
score and assign themes, so the comments are sent to the workers and parsed only once.

Each distinct comment is analysed once (:mod:`cxroi.text._distinct`) and its result handed
to every row holding it. Most of the cost of VADER and of TF-IDF is Python work per
sentence, and real (and simulated) comment streams repeat many sentences ("Thanks.",
"Delivery was late again."). Each worker therefore keeps a cache keyed by the sentence
text holding the sentence's VADER valence sum and its theme confidences; only sentences it
has not seen are scored, as one vectorised TF-IDF + NNLS batch per chunk. The cache holds
at most ``cache_size`` sentences and is emptied when full.

**Sentiment.** VADER's compound score of a text is :math:`\\mathrm{compound} =
s / \\sqrt{s^2 + 15}` where :math:`s` is the sum of its words' valences (after VADER's
negation, booster and "but" rules) plus the punctuation emphasis of ``!`` and ``?``. Here
:math:`s` is the sum of the cached per-sentence valence sums plus the emphasis of the whole
comment, so the score equals VADER's ``polarity_scores(text)["compound"]`` for one-sentence
comments and differs only where VADER's rules reach across a sentence boundary (a "but"
damping the previous sentence, a negation in the last words of the previous sentence,
all-caps emphasis); ``benchmarks/bench_text.py`` reports the agreement. Emojis are spelt out
as in :class:`cxroi.text.lexicon.LexiconSentiment`; missing or empty comments get ``NaN``.

**Themes** are those of :meth:`cxroi.text.theme_model.ThemeModel.transform` (same sentences, same
confidences, the analyst's edits applied).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxroi.privacy import Redactor
from cxroi.text._distinct import distinct_texts
from cxroi.text._parallel import map_chunks
from cxroi.text.lexicon import _EMOJI_RE, _EMOJI_WORDS, _analyzer, clean_texts
from cxroi.text.theme_model import (
    ThemeAssignment,
    ThemeModel,
    sentence_confidence,
    split_sentences,
)

__all__ = ["CommentAnalysis", "analyse_comments", "sentence_valence"]


def sentence_valence(text: str) -> float:
    """VADER's valence sum of one text before punctuation emphasis (0 when nothing scores).

    This is ``polarity_scores`` of vaderSentiment 3.3 up to the point where the word
    valences are summed.
    """
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentiText

    a = _analyzer()
    if _EMOJI_RE.search(text):
        text = _EMOJI_RE.sub(lambda m: _EMOJI_WORDS[m.group(0)], text)
    if any(ch in a.emojis for ch in text):  # VADER's own emoji spelling, as it does it
        out, prev_space = "", True
        for ch in text:
            if ch in a.emojis:
                out += ("" if prev_space else " ") + a.emojis[ch]
                prev_space = False
            else:
                out += ch
                prev_space = ch == " "
        text = out
    st = SentiText(text.strip())
    words = st.words_and_emoticons
    sentiments: list[float] = []
    for i, item in enumerate(words):
        low = item.lower()
        if low in BOOSTER_DICT or (
            low == "kind" and i < len(words) - 1 and words[i + 1].lower() == "of"
        ):
            sentiments.append(0)
            continue
        sentiments = a.sentiment_valence(0, st, item, i, sentiments)
    sentiments = a._but_check(words, sentiments)
    return float(sum(sentiments))


def _emphasis(text: str) -> float:
    """VADER's punctuation emphasis of a whole text (``!`` up to 4, ``?`` beyond one)."""
    ep = min(text.count("!"), 4) * 0.292
    qm = text.count("?")
    return ep + ((qm * 0.18 if qm <= 3 else 0.96) if qm > 1 else 0.0)


class _Cache:
    """Sentence -> row of (valence, theme confidences); emptied when it reaches ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.clear()

    def clear(self) -> None:
        self.index: dict[str, int] = {}
        self.valence = np.empty(0)
        self.conf = np.empty((0, 0), dtype=np.float32)


def _analyse_chunk(
    chunk: Sequence[str | None],
    *,
    redactor: Redactor,
    vectorizer: Any,
    h: np.ndarray,
    groups: np.ndarray,
    min_confidence: float,
    min_explained: float,
    cache: _Cache,
) -> tuple[np.ndarray, np.ndarray]:
    """Sentiment and comment x theme confidence for one chunk of raw comments."""
    n = len(chunk)
    sents: list[str] = []
    counts = np.zeros(n, dtype=np.int64)
    emph = np.zeros(n)
    for i, t in enumerate(chunk):
        if t is None:
            continue
        t = redactor(t) or ""
        parts = split_sentences(t)
        sents.extend(parts)
        counts[i] = len(parts)
        if "!" in t or "?" in t:
            emph[i] = _emphasis(t)
    sentiment = np.full(n, np.nan)
    conf_out = np.zeros((n, groups.shape[1]), dtype=np.float32)
    if not sents:
        return sentiment, conf_out
    if len(cache.index) + len(sents) > cache.size:
        cache.clear()
    index = cache.index
    new = list(dict.fromkeys(s for s in sents if s not in index))
    if new:
        val = np.fromiter((sentence_valence(s) for s in new), float, len(new))
        conf = sentence_confidence(
            vectorizer.transform(new),
            h,
            groups,
            min_confidence=min_confidence,
            min_explained=min_explained,
        )
        start = len(index)
        index.update(zip(new, range(start, start + len(new)), strict=True))
        cache.valence = np.concatenate([cache.valence, val])
        cache.conf = conf if start == 0 else np.concatenate([cache.conf, conf])
    ids = np.fromiter((index[s] for s in sents), np.int64, len(sents))
    has = counts > 0
    owner = np.repeat(np.arange(n), counts)
    s: np.ndarray = np.bincount(owner, weights=cache.valence[ids], minlength=n)
    s = s + np.sign(s) * emph
    sentiment[has] = np.round(s[has] / np.sqrt(s[has] ** 2 + 15.0), 4)
    starts = np.concatenate([[0], np.cumsum(counts[has])[:-1]])
    conf_out[has] = np.maximum.reduceat(cache.conf[ids], starts, axis=0)
    return sentiment, conf_out


@dataclass
class CommentAnalysis:
    """Sentiment (−1…1, ``NaN`` without text) and themes of each comment, in input order."""

    sentiment: np.ndarray
    themes: ThemeAssignment


def analyse_comments(
    texts: Sequence[Any],
    model: ThemeModel,
    *,
    n_jobs: int | None = None,
    chunk_size: int = 20_000,
    cache_size: int = 500_000,
) -> CommentAnalysis:
    """Lexicon sentiment and themes of many comments in one parallel pass.

    Parameters
    ----------
    texts
        Comments (missing or empty allowed).
    model
        A fitted :class:`~cxroi.text.theme_model.ThemeModel`; its ``config`` gives the redaction
        options, thresholds and analyst edits.
    n_jobs
        Worker processes (``None``/``-1``: every core); one pool for the whole pass, used
        from 20,000 comments on.
    chunk_size
        Comments per work unit.
    cache_size
        Distinct sentences cached per worker.

    Returns
    -------
    CommentAnalysis
        ``sentiment`` (float64) and ``themes`` (:class:`~cxroi.text.theme_model.ThemeAssignment`).
    """
    model._check_fitted()
    cfg = model._config
    uniq, codes = distinct_texts(texts)  # each distinct comment once, then every row
    clean = clean_texts(uniq)
    state = {
        "redactor": cfg.redact,
        "vectorizer": model._transform_vectorizer(),
        "h": model.components_,
        "groups": model._group_matrix(),
        "min_confidence": cfg.min_confidence,
        "min_explained": cfg.min_explained,
        "cache": _Cache(cache_size),
    }
    parts = map_chunks(_analyse_chunk, clean, n_jobs=n_jobs, chunk_size=chunk_size, state=state)
    if parts:
        sentiment = np.concatenate([p[0] for p in parts])
        base = np.concatenate([p[1] for p in parts])
    else:
        sentiment = np.empty(0)
        base = np.zeros((0, model.n_themes_), dtype=np.float32)
    return CommentAnalysis(sentiment[codes], model._edit(base, clean).rows(codes))
