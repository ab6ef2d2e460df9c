from __future__ import annotations

import math

import numpy as np
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cxroi.text.pipeline import _analyse_chunk, _Cache, analyse_comments, sentence_valence
from cxroi.text.sentiment import LexiconSentiment
from cxroi.text.theme_config import ThemeConfig
from cxroi.text.theme_model import ThemeModel

from ._themes import fitted_copy

VADER = SentimentIntensityAnalyzer()


@pytest.fixture(scope="module")
def sim(company):
    r = company.tables["responses"].to_pandas()
    r = r[r["comment"].notna()].reset_index(drop=True)
    texts = r["comment"].tolist()
    return texts, ThemeModel("auto", random_state=0).fit(texts), r["response_id"].tolist()


def test_themes_equal_the_model_transform(sim):
    texts, model, _ = sim
    texts = [*texts, None, "", "Mail jo@x.org about the app!"]
    out = analyse_comments(texts, model, n_jobs=1, chunk_size=700, cache_size=1_000)
    np.testing.assert_array_equal(out.themes.confidence, model.transform(texts).confidence)
    assert out.themes.names == model.transform(texts[:3]).names


@pytest.mark.parametrize(
    "text",
    [
        "The delivery was not late at all!",
        "Great app, BUT the login is awful??",
        "kind of ok, I guess 😡",
        "The staff was very friendly :)",
        "Nothing to see here",
    ],
)
def test_one_sentence_sentiment_is_the_lexicon_models(sim, text):
    """One sentence: exactly VADER's compound (emojis spelt out as LexiconSentiment does)."""
    _, model, _ = sim
    got = analyse_comments([text], model, n_jobs=1).sentiment[0]
    assert got == pytest.approx(LexiconSentiment().predict([text])[0], abs=1e-4)


def test_sentiment_is_vader_formula_over_sentence_sums(sim):
    _, model, _ = sim
    text = "Delivery was late. Thanks!! The app is great?"
    parts = ["Delivery was late.", "Thanks!!", "The app is great?"]
    s = sum(sentence_valence(p) for p in parts)
    s += math.copysign(2 * 0.292, s)  # two "!"; a single "?" adds nothing
    got = analyse_comments([text], model, n_jobs=1).sentiment[0]
    assert got == pytest.approx(s / math.sqrt(s * s + 15), abs=1e-4)


def test_sentence_wise_sentiment_is_as_accurate_as_whole_comment_vader(sim, company):
    """Comments whose true mentions are all negative or all positive: the sentence-wise score
    gets the sign right as often as VADER on the whole comment (within 1 point; both about
    52 % here, as VADER scores many simulated complaints such as "took forever" as 0)."""
    texts, model, ids = sim
    truth = company.comment_themes.to_pandas()
    pol = truth.groupby("response_id")["polarity"].agg(lambda p: set(p))
    one = {r: next(iter(p)) for r, p in pol.items() if len(p) == 1}
    idx = [i for i, r in enumerate(ids) if r in one]
    y = np.array([1 if one[ids[i]] == "positive" else -1 for i in idx])
    fast = analyse_comments(texts, model, n_jobs=1).sentiment[idx]
    plain = np.array([VADER.polarity_scores(texts[i])["compound"] for i in idx])
    acc_fast, acc_plain = np.mean(np.sign(fast) == y), np.mean(np.sign(plain) == y)
    assert abs(acc_fast - acc_plain) <= 0.01, (acc_fast, acc_plain)
    assert acc_fast > 0.45


def test_missing_comments_have_no_sentiment_and_no_theme(sim):
    _, model, _ = sim
    out = analyse_comments([None, "  ", float("nan"), "The app is awful."], model)
    assert np.isnan(out.sentiment[:3]).all() and out.sentiment[3] < 0
    assert (out.themes.confidence[:3] == 0).all() and out.themes.confidence[3].max() > 0


def test_cache_is_reused_and_bounded(sim):
    _, model, _ = sim
    state = {
        "redactor": model._config.redact,
        "vectorizer": model._transform_vectorizer(),
        "h": model.components_,
        "groups": model._group_matrix(),
        "min_confidence": 0.35,
        "min_explained": 0.01,
    }
    cache = _Cache(4)
    chunk = ["Thanks. The app is slow.", "Thanks."]
    first = _analyse_chunk(chunk, cache=cache, **state)
    assert len(cache.index) == 2  # distinct sentences only
    again = _analyse_chunk(chunk, cache=cache, **state)
    np.testing.assert_array_equal(first[1], again[1])
    _analyse_chunk(["One. Two. Three."], cache=cache, **state)  # 2 + 3 > 4: emptied first
    assert set(cache.index) == {"One.", "Two.", "Three."}


def test_analyst_edits_apply(sim):
    texts, model, _ = sim
    first = str(model.themes_["theme"][0])
    edited = fitted_copy(model, config=ThemeConfig.from_dict({"rename": {first: "biggest"}}))
    out = analyse_comments(texts[:50], edited, n_jobs=1)
    assert out.themes.names[0] == "biggest"
