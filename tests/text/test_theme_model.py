from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from cxroi.errors import CxroiError, NotFittedError
from cxroi.simulate import generate
from cxroi.text.theme_model import ThemeModel, merge_components, split_sentences

from ._themes import theme_of


def test_split_sentences_cuts_long_text():
    parts = split_sentences("One. Two! " + "word " * 200)
    assert parts[:2] == ["One.", "Two!"]
    assert all(len(p) <= 400 for p in parts)


def test_small_corpus_finds_three_themes(small_model):
    labels = {frozenset(t[:3]) for t in small_model.themes_["terms"]}
    tops = [set(t[:3]) for t in small_model.themes_["terms"]]
    assert any({"delivery", "parcel", "courier"} & t for t in tops)
    assert any({"price", "invoice"} & t for t in tops)
    assert any({"app", "login", "screen"} & t for t in tops)
    assert len(labels) == 3


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "   ",
        "😡😡😡",
        "配送が遅い、アプリが使いにくい",
        ("The app crashes at login. " * 4000)[:100_000],
    ],
)
def test_edge_comments(small_model, text):
    conf = small_model.transform([text, "the courier lost my parcel"]).confidence
    assert conf.shape == (2, 3)
    assert conf[1].max() > 0  # the ordinary comment beside it still gets its theme
    if text is None or not str(text).strip() or text.startswith(("😡", "配")):
        assert conf[0].max() == 0
    else:
        assert conf[0, list(small_model.themes_["theme"]).index(theme_of(small_model, "login"))] > 0


def test_too_little_text_is_an_error():
    with pytest.raises(CxroiError, match="too little text"):
        ThemeModel(2).fit(["ok", None, ""])


def test_unfitted_model_is_an_error():
    with pytest.raises(CxroiError, match="not fitted"):
        ThemeModel().transform(["x"])
    with pytest.raises(NotFittedError, match="ThemeModel is not fitted"):
        ThemeModel().themes_  # noqa: B018
    assert not ThemeModel().is_fitted


def test_fit_returns_self_and_sets_params(small_model):
    assert small_model.is_fitted
    assert small_model.params_["n_themes"] == small_model.n_themes_ == 3
    assert list(small_model.summary["theme"]) == ["t01", "t02", "t03"]


def _truth(company) -> tuple[list[str], np.ndarray, list[str]]:
    """True theme names, comment x true-theme matrix and the comments of a simulated company."""
    r = company.tables["responses"].to_pandas()
    r = r[r["comment"].notna()].reset_index(drop=True)
    truth = company.comment_themes.to_pandas()
    names = sorted(truth["theme"].unique())
    row = {rid: i for i, rid in enumerate(r["response_id"])}
    y = np.zeros((len(r), len(names)), dtype=bool)
    y[[row[x] for x in truth["response_id"]], [names.index(t) for t in truth["theme"]]] = True
    return names, y, r["comment"].tolist()


@pytest.fixture(scope="module", params=["4k-seed5", "8k-seed11"])
def recovery(request, company):
    """True themes, the fitted auto model and the comments, for two simulated companies."""
    if request.param == "4k-seed5":
        co = company
    else:
        co = generate(customers=8_000, months=12, seed=11, start="2024-01-01")
    names, y, texts = _truth(co)
    return names, y, ThemeModel("auto", random_state=0).fit(texts), texts


def _f1(y: np.ndarray, got: np.ndarray) -> np.ndarray:
    tp = y.T.astype(int) @ got.astype(int)
    return 2 * tp / (y.sum(0)[:, None] + got.sum(0)[None, :])


def _matched(names, y, got) -> dict[str, float]:
    f1 = _f1(y, got)
    rows, cols = linear_sum_assignment(-f1)
    return dict(zip(np.asarray(names)[rows].tolist(), f1[rows, cols].round(3), strict=True))


def test_recovers_every_simulator_theme_one_to_one(recovery):
    """Automatic discovery, no analyst edits: every true theme has its own discovered theme
    with F1 >= 0.8 (one-to-one matching, Hungarian algorithm)."""
    names, y, model, texts = recovery
    matched = _matched(names, y, model.transform(texts).confidence > 0)
    assert min(matched.values()) >= 0.8, matched


def test_parts_of_one_theme_are_merged(recovery):
    """The simulator's app theme has two kinds of subject (app vs website/login page) with the
    same predicates; NMF splits it, the context similarity joins the parts again."""
    names, y, model, texts = recovery
    f1 = _f1(y, model.transform(texts).confidence > 0)
    app = int(np.argmax(f1[names.index("app_usability")]))
    assert len(model.groups_[app]) >= 2
    sim = model.similarity_
    members = model.groups_[app]
    inside = min(sim[i, j] for i in members for j in members if i != j)
    assert inside >= model.merge_similarity


def test_merge_components_by_average_linkage():
    # 0-1 similar (0.9), 2 joins {0, 1} only if its mean similarity (0.7 + 0.5) / 2 >= threshold
    sim = np.array([[1.0, 0.9, 0.7], [0.9, 1.0, 0.5], [0.7, 0.5, 1.0]])
    assert merge_components(sim, 0.8) == [[0, 1], [2]]
    assert merge_components(sim, 0.6) == [[0, 1, 2]]
    assert merge_components(sim, 0.95) == [[0], [1], [2]]


def test_fit_reads_each_distinct_comment_once(recovery):
    """Discovery depends on the distinct comments only: duplicates and order change nothing."""
    _, _, model, texts = recovery
    once = ThemeModel("auto", random_state=0).fit(sorted(set(texts), reverse=True))
    np.testing.assert_array_equal(once.components_, model.components_)
    assert once.groups_ == model.groups_


def test_fit_on_a_sample_of_comments_keeps_every_theme(recovery):
    """Themes discovered on a seeded sample of 1,500 distinct comments and assigned to every
    comment still recover each simulator theme with F1 >= 0.8 (the 1M-customer workspace
    fits on 100,000 of its ~550,000 distinct comments)."""
    names, y, _, texts = recovery
    assert len(set(texts)) > 1_500
    sample = ThemeModel("auto", max_comments=1_500, random_state=0).fit(texts)
    assert sample.params_["n_sentences"] > 0
    matched = _matched(names, y, sample.transform(texts).confidence > 0)
    assert min(matched.values()) >= 0.8, matched
