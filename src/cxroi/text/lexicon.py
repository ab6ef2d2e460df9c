"""The lexicon sentiment model: VADER's compound score, with emojis spelt out.

:class:`LexiconSentiment` (Hutto & Gilbert, 2014) needs no training. Common emojis are first
spelt out as words VADER knows; texts longer than 1,000 characters are scored
sentence-block by sentence-block and averaged by length (VADER is sentence-level and slows
down quadratically on very long texts). Missing, empty or whitespace-only texts get ``NaN``.
The score-aware model and the automatic choice between the two are in
:mod:`cxroi.text.sentiment`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.text._parallel import map_chunks

__all__ = ["LONG_TEXT", "LexiconSentiment", "clean_texts"]

# Emojis VADER's own emoji table describes in words it has no valence for.
_EMOJI_WORDS = {
    "😡": " angry ",
    "🤬": " furious ",
    "😠": " angry ",
    "😤": " annoyed ",
    "😞": " disappointed ",
    "😢": " sad ",
    "😭": " miserable ",
    "😩": " frustrated ",
    "😒": " unhappy ",
    "🙁": " sad ",
    "☹": " sad ",
    "👎": " bad ",
    "💩": " awful ",
    "🤮": " disgusting ",
    "😀": " happy ",
    "😃": " happy ",
    "😄": " happy ",
    "😁": " happy ",
    "😊": " happy ",
    "🙂": " good ",
    "😍": " love ",
    "🥰": " love ",
    "❤": " love ",
    "💯": " perfect ",
    "👍": " good ",
    "👏": " great ",
    "🎉": " great ",
    "⭐": " great ",
    "🌟": " great ",
    "🔥": " great ",
    "😂": " funny ",
}
_EMOJI_RE = re.compile("|".join(map(re.escape, _EMOJI_WORDS)))
_SENTENCE_END = re.compile(r"(?<=[.!?\n])\s+")
LONG_TEXT = 1_000
"""Texts longer than this many characters are scored in blocks (see module docstring)."""

_ANALYZER: list[Any] = []


def _analyzer() -> Any:
    if not _ANALYZER:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _ANALYZER.append(SentimentIntensityAnalyzer())
    return _ANALYZER[0]


def clean_texts(texts: Sequence[Any] | pd.Series | np.ndarray) -> list[str | None]:
    """Texts as a list of ``str`` or ``None`` (for missing, NaN or whitespace-only values)."""
    out: list[str | None] = []
    for t in texts:
        if t is None or (isinstance(t, float) and math.isnan(t)) or t is pd.NA:
            out.append(None)
        elif isinstance(t, str):
            out.append(t if t.strip() else None)
        else:
            raise CxroiError(f"comments must be text; got {type(t).__name__} value {t!r}")
    return out


def _blocks(text: str) -> list[str]:
    """Split a long text into blocks of at most about LONG_TEXT characters."""
    blocks: list[str] = []
    cur = ""
    for sent in _SENTENCE_END.split(text):
        while len(sent) > LONG_TEXT:  # one huge "sentence": cut at a space
            cut = sent.rfind(" ", 0, LONG_TEXT)
            cut = cut if cut > 0 else LONG_TEXT
            blocks.append(sent[:cut])
            sent = sent[cut:].lstrip()
        if cur and len(cur) + len(sent) + 1 > LONG_TEXT:
            blocks.append(cur)
            cur = sent
        else:
            cur = f"{cur} {sent}" if cur else sent
    if cur:
        blocks.append(cur)
    return blocks


def _vader(text: str | None) -> float:
    if text is None:
        return math.nan
    a = _analyzer()
    if _EMOJI_RE.search(text):
        text = _EMOJI_RE.sub(lambda m: _EMOJI_WORDS[m.group(0)], text)
    if len(text) <= LONG_TEXT:
        return float(a.polarity_scores(text)["compound"])
    blocks = _blocks(text)
    weights = np.array([len(b) for b in blocks], dtype=float)
    values = np.array([a.polarity_scores(b)["compound"] for b in blocks])
    return float(np.dot(weights, values) / weights.sum())


def _vader_chunk(chunk: Sequence[str | None]) -> np.ndarray:
    return np.fromiter((_vader(t) for t in chunk), dtype=float, count=len(chunk))


class LexiconSentiment:
    """VADER compound sentiment in −1…1; needs no training.

    Parameters
    ----------
    n_jobs
        Worker processes for large inputs (``-1``: every core).
    chunk_size
        Comments per work unit.

    Examples
    --------
    >>> LexiconSentiment().predict(["great service", "awful delay", None]).round(2).tolist()
    [0.62, -0.65, nan]
    """

    name = "lexicon"

    def __init__(self, *, n_jobs: int | None = 1, chunk_size: int = 10_000) -> None:
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size

    def fit(self, texts: Any = None, scores: Any = None) -> LexiconSentiment:
        """Nothing to learn; returns ``self``."""
        return self

    def predict(self, texts: Sequence[Any]) -> np.ndarray:
        """Sentiment per text in −1…1; ``NaN`` for missing or empty text."""
        clean = clean_texts(texts)
        parts = map_chunks(_vader_chunk, clean, n_jobs=self.n_jobs, chunk_size=self.chunk_size)
        return np.concatenate(parts) if parts else np.empty(0)
