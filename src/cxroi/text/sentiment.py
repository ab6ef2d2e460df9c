"""Sentiment of comments on −1…1: a lexicon model (VADER) and a score-aware model.

Two models share one interface (``fit`` / ``predict``):

- :class:`LexiconSentiment` — VADER's compound score (Hutto & Gilbert, 2014). Needs no training
  (:mod:`cxroi.text.lexicon`).
- :class:`ScoredSentiment` — a model trained on the workspace's own comments and the scores
  their authors gave (NPS, CSAT, CES or any signed rating). Scores are made binary (e.g.
  promoters vs detractors; passives are left out), features are TF-IDF word 1-2-grams plus
  the lexicon score, and an L2-regularised logistic regression (``C`` by cross-validated AUC)
  gives :math:`P(\\text{positive} \\mid \\text{text})`. Its sentiment is

  .. math::  s = 2\\,P(\\text{positive} \\mid \\text{text}) - 1 \\in [-1, 1].

  ``fit`` holds out ``test_size`` of the labelled comments (stratified, fixed seed), reports
  the held-out ROC AUC of this model and of the lexicon model on the same comments, then
  refits on all of them.

:func:`score_sentiment` chooses automatically: the score-aware model when at least
``min_scored`` labelled comments exist (with ``min_class`` of each class) and it beats the
lexicon model on the held-out comments, the lexicon model otherwise. :func:`fit_sentiment`
makes the same choice without scoring every text, for callers that score texts themselves
(:mod:`cxroi.text.pipeline`).

Missing, empty or whitespace-only comments get ``NaN`` sentiment (no text, no sentiment).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cxroi.errors import CxroiError, param
from cxroi.estimator import Estimator
from cxroi.metrics.nps import PASSIVE_MIN, PROMOTER_MIN
from cxroi.text._parallel import map_chunks
from cxroi.text.lexicon import LexiconSentiment, _vader_chunk, clean_texts

__all__ = [
    "LexiconSentiment",
    "ScoredSentiment",
    "SentimentResult",
    "binarise",
    "clean_texts",
    "fit_sentiment",
    "score_sentiment",
    "sentiment_frame",
    "training_rows",
]

# (positive if >= hi, negative if <= lo) per scale; in between is left out.
SCALES: dict[str, tuple[float, float, float, float]] = {
    # name: (min, max, negative if <=, positive if >=)
    "nps": (0, 10, PASSIVE_MIN - 1, PROMOTER_MIN),  # detractors vs promoters
    "csat": (1, 5, 2, 4),
    "ces": (1, 7, 3, 5),
    "stars": (1, 5, 2, 4),
    "binary": (0, 1, 0, 1),
}


def _infer_scale(values: np.ndarray) -> str:
    v = values[~np.isnan(values)]
    if v.size == 0:
        raise CxroiError("the score column has no values")
    if v.min() < 0:
        return "signed"
    if set(np.unique(v)) <= {0.0, 1.0}:
        return "binary"
    if v.max() <= 5 and v.min() >= 1:
        return "csat"
    if v.max() <= 10:
        return "nps"
    raise CxroiError(
        f"cannot tell the scale of scores from {v.min()} to {v.max()}; "
        "give it (nps, csat, ces, stars, binary, signed)"
    )


def _numeric(scores: Any) -> np.ndarray:
    try:
        return pd.to_numeric(pd.Series(scores, dtype=object), errors="raise").to_numpy(float)
    except (ValueError, TypeError) as e:
        raise CxroiError(f"scores must be numbers: {e}") from None


def binarise(scores: Any, *, scale: str = "auto") -> np.ndarray:
    """Scores as 1 (positive), 0 (negative) or ``NaN`` (missing or middle of the scale).

    Parameters
    ----------
    scores
        Numeric scores.
    scale
        ``"nps"`` (9-10 vs 0-6), ``"csat"``/``"stars"`` (4-5 vs 1-2), ``"ces"`` (5-7 vs 1-3),
        ``"binary"`` (1 vs 0), ``"signed"`` (> 0 vs < 0), or ``"auto"`` (guessed from the
        range: negatives → signed, only 0/1 → binary, 1-5 → csat, 0-10 → nps).

    Returns
    -------
    numpy.ndarray
        Float array of 1.0, 0.0 and NaN.
    """
    v = _numeric(scores)
    if scale == "auto":
        scale = _infer_scale(v)
    out = np.full(v.shape, np.nan)
    if scale == "signed":
        out[v > 0] = 1.0
        out[v < 0] = 0.0
        return out
    if scale not in SCALES:
        raise CxroiError(f"unknown score scale {scale!r}; choose {[*SCALES, 'signed', 'auto']}")
    lo_v, hi_v, neg, pos = SCALES[scale]
    bad = ~np.isnan(v) & ((v < lo_v) | (v > hi_v))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CxroiError(f"score {v[i]} in row {i + 1} is outside the {scale} scale {lo_v}-{hi_v}")
    out[v >= pos] = 1.0
    out[v <= neg] = 0.0
    return out


def training_rows(labelled: np.ndarray, *, max_train: int, random_state: int) -> np.ndarray:
    """Rows a score-aware model trains on: every labelled row, or a seeded sample of
    ``max_train`` of them (in row order)."""
    keep = np.flatnonzero(labelled)
    if keep.size > max_train:
        rng = np.random.default_rng(random_state)
        keep = np.sort(rng.choice(keep, max_train, replace=False))
    return keep


def _tfidf_chunk(chunk: Sequence[str | None], *, vectorizer: Any) -> sparse.csr_matrix:
    return vectorizer.transform([t or "" for t in chunk])


def _scored_chunk(
    chunk: Sequence[str | None], *, vectorizer: Any, model: Any, lexicon_weight: float
) -> np.ndarray:
    lex = _vader_chunk(chunk)
    x = sparse.hstack(
        [_tfidf_chunk(chunk, vectorizer=vectorizer), np.nan_to_num(lex)[:, None] * lexicon_weight],
        format="csr",
    )
    s = 2.0 * model.predict_proba(x)[:, 1] - 1.0
    s[np.isnan(lex)] = np.nan
    return s


class ScoredSentiment(Estimator):
    """Score-aware sentiment: TF-IDF + lexicon score → regularised logistic regression.

    Parameters
    ----------
    scale
        How scores become positive/negative; see :func:`binarise`.
    test_size
        Share of labelled comments held out to report quality.
    random_state
        Seed of the held-out split and of cross-validation.
    Cs
        Inverse regularisation strengths tried (3-fold cross-validated ROC AUC).
    lexicon_weight
        Scale of the lexicon feature beside TF-IDF (0 leaves it out).
    max_train
        Largest number of labelled comments used for training (a seeded sample above that).
    n_jobs
        Worker processes for ``predict`` on large inputs.

    Attributes
    ----------
    auc_, lexicon_auc_ : float
        Held-out ROC AUC of this model and of VADER on the same held-out comments.
    n_train_, n_test_ : int
        Labelled comments used for training and held out.
    C_ : float
        Chosen regularisation.
    """

    _not_fitted_hint = "call fit(texts, scores) first"

    name = "scored"

    def __init__(
        self,
        *,
        scale: str = "auto",
        test_size: float = 0.3,
        random_state: int = 0,
        Cs: Sequence[float] = (0.25, 1.0, 4.0, 16.0),
        lexicon_weight: float = 1.0,
        max_train: int = 200_000,
        n_jobs: int | None = 1,
    ) -> None:
        self.scale = scale
        self.test_size = test_size
        self.random_state = random_state
        self.Cs = Cs
        self.lexicon_weight = lexicon_weight
        self.max_train = max_train
        self.n_jobs = n_jobs

    def _features(self, texts: list[str | None], lex: np.ndarray) -> sparse.csr_matrix:
        x = self.vectorizer_.transform([t or "" for t in texts])
        return sparse.hstack([x, np.nan_to_num(lex)[:, None] * self.lexicon_weight], format="csr")

    def _train(
        self, texts: list[str | None], y: np.ndarray, lex: np.ndarray, *, search: bool = True
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        self.vectorizer_ = TfidfVectorizer(
            ngram_range=(1, 2), min_df=1, sublinear_tf=True, max_features=200_000
        )
        self.vectorizer_.fit([t or "" for t in texts])
        x = self._features(texts, lex)
        if search:  # choose C once, on the training part; the final refit reuses it
            cv = StratifiedKFold(3, shuffle=True, random_state=self.random_state)
            grid = GridSearchCV(
                LogisticRegression(solver="liblinear"),
                {"C": list(self.Cs)},
                scoring="roc_auc",
                cv=cv,
            )
            self.C_ = float(grid.fit(x, y).best_params_["C"])
        self.model_ = LogisticRegression(solver="liblinear", C=self.C_).fit(x, y)

    def fit(self, texts: Sequence[Any], scores: Any) -> ScoredSentiment:
        """Train on comments with a score; report held-out AUC; refit on all labelled comments.

        Raises
        ------
        CxroiError
            When lengths differ or fewer than 20 labelled comments of each class exist.
        """
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import train_test_split

        clean = clean_texts(texts)
        y_all = binarise(scores, scale=self.scale)
        if len(clean) != len(y_all):
            raise CxroiError(f"{len(clean)} comments but {len(y_all)} scores")
        has_text = np.array([t is not None for t in clean], dtype=bool)
        keep = training_rows(
            ~np.isnan(y_all) & has_text, max_train=self.max_train, random_state=self.random_state
        )
        y = y_all[keep].astype(int)
        counts = np.bincount(y, minlength=2)
        if counts.min() < 20:
            raise CxroiError(
                f"too few scored comments to train sentiment: {counts[1]} positive and "
                f"{counts[0]} negative (need 20 of each)"
            )
        texts_k = [clean[i] for i in keep]
        lex = _vader_chunk(texts_k) if self.lexicon_weight else np.zeros(len(keep))
        idx = np.arange(len(keep))
        tr, te = train_test_split(
            idx, test_size=self.test_size, random_state=self.random_state, stratify=y
        )
        self._train([texts_k[i] for i in tr], y[tr], lex[tr])
        p = self.model_.predict_proba(self._features([texts_k[i] for i in te], lex[te]))[:, 1]
        self.auc_ = float(roc_auc_score(y[te], p))
        lex_te = lex[te] if self.lexicon_weight else _vader_chunk([texts_k[i] for i in te])
        self.lexicon_auc_ = float(roc_auc_score(y[te], lex_te))
        self.n_train_, self.n_test_ = int(len(tr)), int(len(te))
        self.n_positive_, self.n_negative_ = int(counts[1]), int(counts[0])
        self._train(texts_k, y, lex, search=False)  # final model on every labelled comment
        self.params_ = {"C": self.C_, "auc": self.auc_, "lexicon_auc": self.lexicon_auc_}
        return self

    def scorer(self) -> Callable[[Sequence[str | None]], np.ndarray]:
        """In-process, picklable scoring of clean texts (``str`` or ``None``), as
        :meth:`predict` scores them; for worker processes that score texts themselves."""
        self._check_fitted()
        return partial(
            _scored_chunk,
            vectorizer=self.vectorizer_,
            model=self.model_,
            lexicon_weight=self.lexicon_weight,
        )

    def predict(self, texts: Sequence[Any]) -> np.ndarray:
        """Sentiment per text in −1…1 (``2p − 1``); ``NaN`` for missing or empty text."""
        self._check_fitted()
        clean = clean_texts(texts)
        state = {
            "vectorizer": self.vectorizer_,
            "model": self.model_,
            "lexicon_weight": self.lexicon_weight,
        }
        parts = map_chunks(_scored_chunk, clean, n_jobs=self.n_jobs, state=state)
        return np.concatenate(parts) if parts else np.empty(0)

    @property
    def summary(self) -> pd.DataFrame:
        """Held-out quality of this model and of the lexicon model."""
        self._check_fitted()
        return pd.DataFrame(
            {
                "model": ["scored", "lexicon"],
                "auc": [self.auc_, self.lexicon_auc_],
                "n_train": [self.n_train_, 0],
                "n_test": [self.n_test_, self.n_test_],
            }
        )


@dataclass
class SentimentResult:
    """Sentiment per comment and the model that produced it.

    ``quality`` holds the held-out AUCs and sizes when a score-aware model was trained, and
    ``reason`` says why the lexicon model was used when it was.
    """

    values: np.ndarray
    model: str
    quality: dict[str, float | int] = field(default_factory=dict)
    reason: str = ""
    predict: Callable[[Sequence[Any]], np.ndarray] | None = None
    """The fitted model's ``predict``, to score other texts (sentences) the same way."""
    neutral: float = 0.0
    """The score of a text that says nothing: 0 for the lexicon; for the score-aware model
    :math:`2\\pi - 1`, with :math:`\\pi` the share of positive labels it was trained on
    (its logistic intercept carries that prior). Below it, a text leans negative."""
    scorer: Callable[[Sequence[str | None]], np.ndarray] = _vader_chunk
    """The same scores as ``predict``, in-process and picklable, for clean texts (``str`` or
    ``None``): what worker processes call."""


def fit_sentiment(
    scores: Any,
    has_text: np.ndarray,
    texts_of: Callable[[np.ndarray], list[str | None]],
    *,
    scale: str = "auto",
    min_scored: int = 200,
    min_class: int = 20,
    random_state: int = 0,
    max_train: int = 200_000,
    n_jobs: int | None = 1,
) -> SentimentResult:
    """Choose and train the sentiment model, without scoring every text (``values`` empty).

    The choice is that of :func:`score_sentiment`; only the texts of the training rows are
    asked for, so a caller holding many rows (or each distinct text once) never builds them
    all.

    Parameters
    ----------
    scores
        One score per row (missing allowed).
    has_text
        Per row: is there a (non-empty) text?
    texts_of
        ``texts_of(rows)`` gives the clean texts of those rows (integer positions).
    scale, min_scored, min_class, random_state, n_jobs
        As for :func:`score_sentiment`.
    max_train
        Largest number of labelled rows the score-aware model trains on (a seeded sample
        above that, :func:`training_rows`).

    Returns
    -------
    SentimentResult
        With ``values`` empty; ``predict`` and ``scorer`` score texts.
    """
    lexicon = LexiconSentiment(n_jobs=n_jobs)
    if scale == "auto":  # resolved on every row, not on the training sample
        scale = _infer_scale(_numeric(scores))
    y = binarise(scores, scale=scale)
    if len(y) != len(has_text):
        raise CxroiError(f"{len(has_text)} comments but {len(y)} scores")
    labelled = ~np.isnan(y) & has_text
    n_pos = int((y[labelled] == 1).sum())
    n_neg = int((y[labelled] == 0).sum())
    empty = np.empty(0)
    if labelled.sum() < min_scored or min(n_pos, n_neg) < min_class:
        reason = (
            f"only {int(labelled.sum())} scored comments ({n_pos} positive, {n_neg} negative); "
            f"the score-aware model needs {min_scored} with {min_class} of each class"
        )
        return SentimentResult(empty, "lexicon", reason=reason, predict=lexicon.predict)
    keep = training_rows(labelled, max_train=max_train, random_state=random_state)
    model = ScoredSentiment(
        scale=scale, random_state=random_state, n_jobs=n_jobs, max_train=max_train
    )
    model.fit(texts_of(keep), np.asarray(scores, dtype=object)[keep])
    quality = {
        "auc": model.auc_,
        "lexicon_auc": model.lexicon_auc_,
        "n_train": model.n_train_,
        "n_test": model.n_test_,
    }
    if model.auc_ < model.lexicon_auc_:
        reason = f"held-out AUC {model.auc_:.3f} below the lexicon's {model.lexicon_auc_:.3f}"
        return SentimentResult(empty, "lexicon", quality, reason, predict=lexicon.predict)
    prior = model.n_positive_ / (model.n_positive_ + model.n_negative_)
    return SentimentResult(
        empty,
        "scored",
        quality,
        predict=model.predict,
        neutral=2 * prior - 1,
        scorer=model.scorer(),
    )


def score_sentiment(
    texts: Sequence[Any],
    scores: Any = None,
    *,
    scale: str = "auto",
    min_scored: int = 200,
    min_class: int = 20,
    random_state: int = 0,
    max_train: int = 200_000,
    n_jobs: int | None = 1,
) -> SentimentResult:
    """Sentiment of every comment, with the best model the data allows.

    Parameters
    ----------
    texts
        Comments (missing/empty allowed).
    scores
        Scores aligned with ``texts`` (missing allowed), or ``None`` for lexicon only.
    scale
        Score scale for :func:`binarise`.
    min_scored
        Labelled (non-middle) scored comments needed to train the score-aware model.
    min_class
        Labelled comments needed in each class.
    random_state
        Seed of the held-out split.
    max_train
        Largest number of labelled comments the score-aware model trains on.
    n_jobs
        Worker processes.

    Returns
    -------
    SentimentResult
        ``model`` is ``"scored"`` when the score-aware model was trained and beat the lexicon
        model on held-out comments, else ``"lexicon"``.
    """
    lexicon = LexiconSentiment(n_jobs=n_jobs)
    if scores is None:
        return SentimentResult(
            lexicon.predict(texts), "lexicon", reason="no scores given", predict=lexicon.predict
        )
    clean = clean_texts(texts)
    has_text = np.array([t is not None for t in clean], dtype=bool)
    res = fit_sentiment(
        scores,
        has_text,
        lambda rows: [clean[i] for i in rows],
        scale=scale,
        min_scored=min_scored,
        min_class=min_class,
        random_state=random_state,
        max_train=max_train,
        n_jobs=n_jobs,
    )
    assert res.predict is not None
    res.values = res.predict(clean)
    return res


def sentiment_frame(
    frame: pd.DataFrame,
    *,
    text_column: str,
    score_column: str | None = None,
    scale: str = "auto",
    redact: bool = True,
    random_state: int = 0,
    n_jobs: int | None = 1,
) -> tuple[pd.DataFrame, SentimentResult]:
    """Sentiment of every row of a frame, in input order.

    Parameters
    ----------
    frame
        The rows; not changed.
    text_column
        Column holding the text.
    score_column
        Optional score column; when given, the score-aware model is trained on the rows with
        a score (and a text) and predicts every row, if there are enough of them.
    scale
        Score scale (see :func:`binarise`).
    redact
        Replace personal data in the text column (:mod:`cxroi.privacy`) before scoring
        and in the output.
    random_state
        Seed of the score-aware model's held-out split.
    n_jobs
        Worker processes.

    Returns
    -------
    frame, result
        The input columns (text redacted) plus ``sentiment``; the model that scored them
        (its name, held-out quality and, for the lexicon model, why it was chosen).
    """
    for name, col in (("text_column", text_column), ("score_column", score_column)):
        if col is not None and col not in frame.columns:
            raise CxroiError(
                f"{param(name)} {col!r} is not a column; columns: {', '.join(map(str, frame))}"
            )
    df = frame.copy()
    texts = clean_texts(df[text_column].tolist())
    if redact:
        from cxroi.privacy import Redactor

        texts = Redactor().many(texts)
        df[text_column] = texts
    scores = None if score_column is None else df[score_column]
    res = score_sentiment(texts, scores, scale=scale, random_state=random_state, n_jobs=n_jobs)
    df["sentiment"] = res.values
    return df, res
