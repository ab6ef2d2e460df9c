"""Theme discovery and assignment: TF-IDF + NMF over sentences, editable by the analyst.

**Discovery** (:meth:`ThemeModel.fit`). Comments are redacted (:mod:`cxroi.privacy`), split
into sentences, and the *distinct* sentences (lower-cased) are weighted by TF-IDF (English stop
words removed, terms in at least ``min_df`` distinct sentences). Boilerplate such as "Thanks."
counts once, so it cannot dominate. Non-negative matrix factorisation
:math:`X \\approx W H` with :math:`k` components gives each theme a term profile :math:`H_j`;
its label is its top terms, and its most typical sentences are kept as examples.

With ``n_themes="auto"`` the data are first *over-segmented* into ``max_components``
components, and components that are parts of one theme are then merged. NMF readily splits a
theme whose sentences share their predicates but differ in their subject ("the app keeps
crashing" / "the website keeps crashing"): the two parts have almost disjoint top terms, so
their profiles look unrelated, and no choice of :math:`k` fixes that reliably (a smaller
:math:`k` merges two genuinely different themes before it joins the parts). What the parts
share is their *context*: "app" and "website" never occur together, but they occur with the
same words. So components are compared by second-order (distributional) similarity. With
:math:`B` the binary sentence x term matrix, term contexts are the rows of the cosine
co-occurrence matrix :math:`C_{ab} = (B^\\top B)_{ab} / \\sqrt{(B^\\top B)_{aa}(B^\\top B)_{bb}}`
(diagonal set to 0), two terms are similar by the cosine :math:`S_{ab}` of their context rows,
and two components by

.. math::

    \\operatorname{sim}(j, l) =
    \\frac{p_j^\\top S p_l}{\\sqrt{p_j^\\top S p_j \\, p_l^\\top S p_l}},
    \\qquad p_j = H_j / \\textstyle\\sum_t H_{jt} \\text{ (top terms only)}.

Components are joined by average-linkage clustering while the similarity of two groups is at
least ``merge_similarity``. A merged theme's confidence is the sum of its components'
confidences. On the simulator, parts of one theme score 0.64-0.93 and parts of different
themes at most 0.57 (a component mixing the two), hence the default 0.6. An explicit integer
``n_themes`` fits exactly that many components and merges nothing.

**Assignment** (:meth:`ThemeModel.transform`). Each sentence gets non-negative weights
:math:`w = \\arg\\min_{w \\ge 0} \\lVert x - w H \\rVert^2` (multiplicative updates with
:math:`H` fixed). A sentence belongs to theme :math:`j` when

.. math::

    c_j = \\frac{w_j \\lVert H_j \\rVert}{\\sum_l w_l \\lVert H_l \\rVert} \\ge
    \\text{min\\_confidence} \\quad\\text{or}\\quad j = \\arg\\max_l c_l,

provided the themes explain at least ``min_explained`` of the sentence (:math:`\\langle x,
wH\\rangle \\ge` ``min_explained``, with :math:`\\lVert x \\rVert = 1`). A comment's confidence
for a theme is the largest confidence among its sentences; a comment may have zero, one or
several themes.

Analyst edits (rename, merge, split, pin, drop) and thresholds come from
:class:`~cxroi.text.theme_config.ThemeConfig`; a fitted model is saved and loaded by
:mod:`cxroi.text.theme_store`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cxroi.errors import CxroiError
from cxroi.estimator import Estimator
from cxroi.privacy import Redactor
from cxroi.text._distinct import distinct_texts
from cxroi.text._parallel import map_chunks
from cxroi.text.lexicon import clean_texts
from cxroi.text.theme_config import ThemeConfig

__all__ = [
    "ThemeAssignment",
    "ThemeModel",
    "component_similarity",
    "merge_components",
    "sentence_confidence",
    "split_sentences",
]

MAX_COMMENTS = 100_000
"""Distinct comments :meth:`ThemeModel.fit` reads by default (a seeded sample above that)."""

_SENT = re.compile(r"(?<=[.!?;\n])\s+|\s+[-–]\s+")
MAX_SENTENCE = 400


def split_sentences(text: str) -> list[str]:
    """Sentences of a text; very long sentences are cut every ~400 characters at a space."""
    out: list[str] = []
    for s in _SENT.split(text):
        s = s.strip()
        while len(s) > MAX_SENTENCE:
            cut = s.rfind(" ", 0, MAX_SENTENCE)
            cut = cut if cut > 0 else MAX_SENTENCE
            out.append(s[:cut])
            s = s[cut:].strip()
        if s:
            out.append(s)
    return out


def _sentences(texts: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    sents: list[str] = []
    owner: list[int] = []
    for i, t in enumerate(texts):
        if t is None:
            continue
        parts = split_sentences(t)
        sents.extend(parts)
        owner.extend([i] * len(parts))
    return sents, np.asarray(owner, dtype=np.int64)


def _nnls(x: sparse.csr_matrix, h: np.ndarray, iters: int = 12) -> np.ndarray:
    """Non-negative ``w`` minimising ``||x - w h||`` row by row.

    Starts from the clipped unconstrained solution and refines it with multiplicative updates.
    """
    xh = np.asarray(x @ h.T, dtype=np.float64)
    hh = h @ h.T
    w = np.maximum(xh @ np.linalg.pinv(hh), 0.0) + 1e-6 * (xh > 0)
    for _ in range(iters):
        w *= xh / np.maximum(w @ hh, 1e-12)
    return w


def _vectorizer(vocabulary: Mapping[str, int] | None = None, idf: np.ndarray | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    v = TfidfVectorizer(
        stop_words="english", sublinear_tf=True, dtype=np.float32, vocabulary=vocabulary
    )
    if idf is not None:
        v.idf_ = idf
    return v


def sentence_confidence(
    x: sparse.csr_matrix,
    h: np.ndarray,
    groups: np.ndarray,
    *,
    min_confidence: float,
    min_explained: float,
) -> np.ndarray:
    """Sentence x theme confidences (0 = not assigned) for TF-IDF rows ``x``.

    ``groups`` is the component x theme 0/1 matrix (identity when nothing was merged).
    """
    norms = np.linalg.norm(h, axis=1)
    w = _nnls(x, h)
    explained = (np.asarray(x @ h.T) * w).sum(axis=1)
    w = w * norms
    conf = (w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)) @ groups
    top = conf.argmax(axis=1)
    keep = conf >= min_confidence
    keep[np.arange(len(top)), top] = True
    keep &= (explained >= min_explained)[:, None]
    return np.where(keep, conf, 0.0).astype(np.float32)


def _assign_chunk(
    chunk: Sequence[str | None],
    *,
    redactor: Redactor,
    vectorizer: Any,
    h: np.ndarray,
    groups: np.ndarray,
    min_confidence: float,
    min_explained: float,
) -> np.ndarray:
    """Comment x theme confidence for one chunk of raw comments (redacted here, in the
    worker)."""
    out = np.zeros((len(chunk), groups.shape[1]), dtype=np.float32)
    sents, owner = _sentences(redactor.many(chunk))
    if not sents:
        return out
    index: dict[str, int] = {}  # each distinct sentence scored once
    ids = np.fromiter((index.setdefault(s, len(index)) for s in sents), np.int64, len(sents))
    conf = sentence_confidence(
        vectorizer.transform(list(index)),
        h,
        groups,
        min_confidence=min_confidence,
        min_explained=min_explained,
    )
    np.maximum.at(out, owner, conf[ids])
    return out


def component_similarity(x: sparse.csr_matrix, h: np.ndarray, *, n_terms: int = 30) -> np.ndarray:
    """Second-order (context) similarity of NMF components (see the module docstring).

    Parameters
    ----------
    x
        Sentence x term matrix the components were fitted on (only its pattern is used).
    h
        Components (component x term).
    n_terms
        Top terms per component that make up its profile :math:`p_j`.

    Returns
    -------
    numpy.ndarray
        Symmetric component x component similarity in [0, 1], 1 on the diagonal.
    """
    b = x.copy().tocsc()
    b.data[:] = 1.0
    top = np.unique(np.argsort(-h, axis=1)[:, :n_terms])
    co = (b[:, top].T @ b).toarray()  # top terms x all terms co-occurrence counts
    df = np.asarray(b.sum(axis=0)).ravel()
    c = co / np.sqrt(np.maximum(np.outer(df[top], df), 1e-12))
    c[np.arange(len(top)), top] = 0.0  # a term is not its own context
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    s_terms = c @ c.T
    p = h[:, top] * (h[:, top] >= np.sort(h[:, top], axis=1)[:, -n_terms:][:, :1])
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    sim = p @ s_terms @ p.T
    d = np.sqrt(np.maximum(np.diag(sim), 1e-12))
    return np.clip(sim / np.outer(d, d), 0.0, 1.0)


def merge_components(similarity: np.ndarray, threshold: float) -> list[list[int]]:
    """Average-linkage groups of components whose group similarity is >= ``threshold``."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    k = similarity.shape[0]
    if k < 2:
        return [[j] for j in range(k)]
    dist = 1.0 - (similarity + similarity.T) / 2
    np.fill_diagonal(dist, 0.0)
    labels = fcluster(
        linkage(squareform(dist, checks=False), "average"), 1.0 - threshold, "distance"
    )
    groups: dict[int, list[int]] = {}
    for j, lab in enumerate(labels):
        groups.setdefault(int(lab), []).append(j)
    return sorted(groups.values())


@dataclass
class ThemeAssignment:
    """Themes of each comment: a comment x theme confidence matrix (0 = not assigned).

    Attributes
    ----------
    names
        Theme names (columns of ``confidence``).
    labels
        Readable label per theme (its name if renamed, else its top terms).
    confidence
        ``float32`` array, one row per comment, in input order.
    negative
        Optional boolean array of the same shape: the comment speaks of the theme negatively
        (set by :func:`cxroi.text.impact.score_comments`).
    """

    names: list[str]
    labels: list[str]
    confidence: np.ndarray
    negative: np.ndarray | None = None

    def rows(self, idx: np.ndarray) -> ThemeAssignment:
        """The assignment of the comments ``idx``."""
        neg = None if self.negative is None else self.negative[idx]
        return ThemeAssignment(self.names, self.labels, self.confidence[idx], neg)

    def long(self, ids: Sequence[Any] | None = None) -> pd.DataFrame:
        """One row per (comment, theme) assigned: ``row`` (or ``id``), ``theme``, ``confidence``."""
        r, c = np.nonzero(self.confidence > 0)
        df = pd.DataFrame(
            {
                "row": r,
                "theme": np.asarray(self.names, dtype=object)[c],
                "confidence": self.confidence[r, c].astype(float),
            }
        )
        if ids is not None:
            df.insert(0, "id", np.asarray(ids, dtype=object)[r])
            df = df.drop(columns="row")
        return df

    def mentions(self) -> pd.DataFrame:
        """Boolean comment x theme frame (True where the theme is assigned)."""
        return pd.DataFrame(self.confidence > 0, columns=self.names)


class ThemeModel(Estimator):
    """Discover themes in comments and assign them to new comments.

    Parameters
    ----------
    n_themes
        Number of themes, or ``"auto"`` (over-segment, then merge; see the module docstring).
    max_components
        Components fitted before merging, for ``"auto"``.
    merge_similarity
        Context similarity at which components are merged into one theme, for ``"auto"``.
    min_df
        A term must occur in this many distinct sentences.
    max_sentences
        Distinct sentences used for fitting (a seeded sample above that).
    max_comments
        Distinct comments read for fitting (a seeded sample above that): themes are
        discovered on a sample and assigned to every comment.
    n_top_terms, n_examples
        Terms and example sentences kept per theme.
    random_state
        Seed of NMF initialisation and sampling.
    n_jobs
        Worker processes for :meth:`transform` on large inputs.
    config
        Analyst edits and thresholds (:class:`~cxroi.text.theme_config.ThemeConfig`);
        defaults when ``None``.

    Attributes
    ----------
    themes_ : pandas.DataFrame
        ``theme``, ``terms``, ``share`` (of fitting sentences) and ``examples`` per theme.
    n_themes_ : int
        Number of discovered themes.
    groups_ : list of list of int
        Components making up each theme (one each unless merged).
    similarity_ : numpy.ndarray
        Component x component context similarity (``"auto"`` only).
    params_ : dict
        ``n_themes``, ``n_components`` (before merging) and ``n_sentences`` (distinct
        sentences fitted on).
    """

    params_: dict[str, Any]

    def __init__(
        self,
        n_themes: int | str | None = None,
        *,
        max_components: int = 12,
        merge_similarity: float = 0.6,
        min_df: int = 2,
        max_sentences: int = 50_000,
        max_comments: int = MAX_COMMENTS,
        n_top_terms: int = 8,
        n_examples: int = 3,
        random_state: int = 0,
        n_jobs: int | None = 1,
        config: ThemeConfig | None = None,
    ) -> None:
        self.n_themes = n_themes
        self.max_components = max_components
        self.merge_similarity = merge_similarity
        self.min_df = min_df
        self.max_sentences = max_sentences
        self.max_comments = max_comments
        self.n_top_terms = n_top_terms
        self.n_examples = n_examples
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.config = config

    @property
    def _config(self) -> ThemeConfig:
        return self.config if self.config is not None else ThemeConfig()

    def _nmf(self, x: sparse.csr_matrix, k: int, random_state: int) -> np.ndarray:
        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():  # profiles are usable before full convergence
            warnings.simplefilter("ignore", ConvergenceWarning)
            nmf = NMF(k, init="nndsvda", max_iter=600, random_state=random_state)
            return nmf.fit(x).components_

    def fit(self, texts: Sequence[Any]) -> ThemeModel:
        """Discover themes in ``texts`` (missing or empty comments are skipped).

        Raises
        ------
        CxroiError
            When fewer than 10 distinct sentences with known terms exist.
        """
        cfg = self._config
        rng = np.random.default_rng(self.random_state)
        distinct = [t for t in clean_texts(distinct_texts(texts)[0]) if t is not None]
        if len(distinct) > self.max_comments:
            distinct.sort()
            pick = np.sort(rng.choice(len(distinct), self.max_comments, replace=False))
            distinct = [distinct[i] for i in pick]
        sents, _ = _sentences(cfg.redact.many(distinct))
        uniq = sorted({s.lower() for s in sents})
        if len(uniq) > self.max_sentences:
            uniq = [uniq[i] for i in np.sort(rng.choice(len(uniq), self.max_sentences, False))]
        if len(uniq) < 10:
            raise CxroiError(
                f"too little text to discover themes: {len(uniq)} distinct sentences (need 10)"
            )
        v = _vectorizer()
        v.set_params(min_df=self.min_df)
        try:
            x = v.fit_transform(uniq)
        except ValueError:
            raise CxroiError("no usable words in the comments to discover themes") from None
        rows = x.getnnz(axis=1) >= 1
        x, uniq = x[rows], [u for u, r in zip(uniq, rows, strict=True) if r]
        n_themes = self.n_themes if self.n_themes is not None else cfg.n_themes
        auto = n_themes == "auto"
        k = int(self.max_components) if auto else int(n_themes)
        if auto:
            k = max(1, min(k, x.shape[0] // 2, x.shape[1] - 1))
        if k >= min(x.shape):
            raise CxroiError(f"cannot find {k} themes in {x.shape[0]} distinct sentences")
        h = self._nmf(x, k, self.random_state)
        groups = [[j] for j in range(k)]
        if auto:
            self.similarity_ = component_similarity(x, h)
            groups = merge_components(self.similarity_, self.merge_similarity)
            # biggest theme first, so ids read in order of importance
            mass = _nnls(x, h).sum(axis=0) * np.linalg.norm(h, axis=1)
            groups.sort(key=lambda g: -float(mass[g].sum()))
        self.vocabulary_ = {t: int(i) for t, i in v.vocabulary_.items()}
        self.idf_ = v.idf_.astype(np.float64)
        self.components_ = h
        self.groups_ = groups
        self.n_themes_ = len(groups)
        terms = np.asarray(v.get_feature_names_out(), dtype=object)
        g = self._group_matrix()
        w = (_nnls(x, h) * np.linalg.norm(h, axis=1)) @ g
        top = w.argmax(axis=1)
        share = np.bincount(top[w.max(axis=1) > 0], minlength=len(groups)) / max(len(uniq), 1)
        rows_out = []
        for j, members in enumerate(groups):
            prof = (h[members] / np.maximum(h[members].sum(axis=1, keepdims=True), 1e-12)).sum(0)
            order = np.argsort(-prof)[: self.n_top_terms]
            conf = w[:, j] / np.maximum(w.sum(axis=1), 1e-12)
            best = np.argsort(-(conf * (top == j) + w[:, j] * 1e-6))[: self.n_examples]
            rows_out.append(
                {
                    "theme": f"t{j + 1:02d}",
                    "terms": [str(t) for t in terms[order] if prof[v.vocabulary_[t]] > 0],
                    "share": float(share[j]),
                    "examples": [uniq[i] for i in best if top[i] == j],
                    "components": [int(m) for m in members],
                }
            )
        self.themes_ = pd.DataFrame(rows_out)
        self.params_ = {"n_themes": len(groups), "n_components": k, "n_sentences": len(uniq)}
        return self

    def _group_matrix(self) -> np.ndarray:
        """Component x theme 0/1 matrix from :attr:`groups_`."""
        g = np.zeros((self.components_.shape[0], len(self.groups_)))
        for j, members in enumerate(self.groups_):
            g[members, j] = 1.0
        return g

    def _transform_vectorizer(self) -> Any:
        """The fitted TF-IDF vectorizer, rebuilt from :attr:`vocabulary_` and :attr:`idf_`."""
        return _vectorizer(self.vocabulary_, self.idf_)

    def base_transform(self, texts: Sequence[Any]) -> np.ndarray:
        """Comment x discovered-theme confidences, before the analyst's edits."""
        self._check_fitted()
        uniq, codes = distinct_texts(texts)
        return self._base_distinct(uniq)[codes]

    def _base_distinct(self, texts: Sequence[Any]) -> np.ndarray:
        """:meth:`base_transform` of texts given once each."""
        cfg = self._config
        clean = clean_texts(texts)
        state = {
            "redactor": cfg.redact,
            "vectorizer": self._transform_vectorizer(),
            "h": self.components_,
            "groups": self._group_matrix(),
            "min_confidence": cfg.min_confidence,
            "min_explained": cfg.min_explained,
        }
        parts = map_chunks(_assign_chunk, clean, n_jobs=self.n_jobs, state=state)
        if not parts:
            return np.zeros((0, self.n_themes_), dtype=np.float32)
        return np.concatenate(parts)

    def transform(self, texts: Sequence[Any]) -> ThemeAssignment:
        """Themes of each comment, with the analyst's edits from :attr:`config` applied.

        Each distinct text is assigned once (:func:`~cxroi.text._distinct.distinct_texts`).
        """
        self._check_fitted()
        uniq, codes = distinct_texts(texts)
        return self._edit(self._base_distinct(uniq), uniq).rows(codes)

    def _edit(self, base: np.ndarray, texts: Sequence[Any]) -> ThemeAssignment:
        """The analyst's edits (:meth:`ThemeConfig.edit`) applied to ``base`` confidences."""
        names, labels, conf = self._config.edit(
            base, list(self.themes_["theme"]), list(self.themes_["terms"]), texts
        )
        return ThemeAssignment(names, labels, conf)

    @property
    def summary(self) -> pd.DataFrame:
        """Discovered themes: id, label (top terms), terms, share of sentences, examples."""
        self._check_fitted()
        df = self.themes_.copy()
        df.insert(1, "label", [" / ".join(t[:3]) for t in df["terms"]])
        return df

    _not_fitted_hint = "call fit(texts) or cxroi.text.theme_store.load_model(path)"

    def __repr__(self) -> str:
        state = f"{self.n_themes_} themes" if self.is_fitted else "not fitted"
        return f"ThemeModel({state})"
