from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.text.sentiment import (
    LexiconSentiment,
    ScoredSentiment,
    binarise,
    score_sentiment,
    sentiment_frame,
)

FIXTURE = (
    Path(__file__).parents[1] / "fixtures" / "text" / "amazonReviewSnippets_GroundTruth.txt.gz"
)


def amazon() -> pd.DataFrame:
    """Hu & Liu (2004) Amazon review sentences with VADER's mean human ratings (-4..4)."""
    with gzip.open(FIXTURE, "rt", encoding="latin-1") as f:
        rows = [line.rstrip("\r\n").split("\t") for line in f]
    df = pd.DataFrame([r[:3] for r in rows], columns=["id", "rating", "text"])
    df["rating"] = df["rating"].astype(float)
    return df


def test_lexicon_matches_vader_formula_by_hand():
    # VADER: compound = x / sqrt(x^2 + 15); "good" has valence 1.9, "bad" -2.5.
    s = LexiconSentiment().predict(["good", "bad"])
    assert s[0] == pytest.approx(1.9 / math.sqrt(1.9**2 + 15), abs=1e-4)
    assert s[1] == pytest.approx(-2.5 / math.sqrt(2.5**2 + 15), abs=1e-4)


@pytest.mark.parametrize("text", [None, "", "   ", float("nan")])
def test_missing_or_empty_comments_have_no_sentiment(text):
    assert np.isnan(LexiconSentiment().predict([text])[0])


@pytest.mark.parametrize(("text", "sign"), [("😡😡", -1), ("👍", 1), ("🤬 💩", -1), ("😍", 1)])
def test_emoji_only_comments(text, sign):
    assert np.sign(LexiconSentiment().predict([text])[0]) == sign


@pytest.mark.parametrize(
    ("sentence", "sign"),
    [("The courier was rude and late. ", -1), ("Great service, friendly staff! ", 1)],
)
def test_very_long_comment_is_scored_by_blocks(sentence, sign):
    text = (sentence * (100_000 // len(sentence) + 1))[:100_000]
    value = LexiconSentiment().predict([text])[0]
    assert np.sign(value) == sign
    assert -1 <= value <= 1


def test_non_english_comment_is_finite_and_neutral_without_known_words():
    s = LexiconSentiment().predict(["Das Paket kam zwei Tage zu spät an", "配送が遅い"])
    assert np.all(np.isfinite(s))
    assert s.tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("scores", "scale", "expected"),
    [
        ([0, 6, 7, 8, 9, 10], "nps", [0, 0, np.nan, np.nan, 1, 1]),
        ([1, 2, 3, 4, 5], "csat", [0, 0, np.nan, 1, 1]),
        ([-1.5, 0, 2.0], "auto", [0, np.nan, 1]),
        ([0, 10, 5], "auto", [0, 1, 0]),
    ],
)
def test_binarise(scores, scale, expected):
    np.testing.assert_array_equal(binarise(scores, scale=scale), np.array(expected, dtype=float))


def test_binarise_rejects_out_of_scale():
    with pytest.raises(CxroiError, match="outside the nps scale"):
        binarise([3, 11], scale="nps")


def test_scored_model_beats_target_auc_on_real_reviews():
    df = amazon()
    model = ScoredSentiment(scale="signed", random_state=0).fit(df["text"], df["rating"])
    # ratings == 0 are left out; 30 % held out, stratified, seed 0
    assert model.n_test_ == pytest.approx(0.3 * (df["rating"] != 0).sum(), abs=1)
    assert model.auc_ >= 0.85
    assert 0.70 <= model.lexicon_auc_ < model.auc_  # VADER alone: about 0.78 here
    s = model.predict(["works great, love it", "broke after a week, useless", ""])
    assert s[0] > 0 > s[1]
    assert np.isnan(s[2])


@pytest.mark.slow
def test_auto_choice_uses_scored_model_with_enough_scores():
    df = amazon()
    res = score_sentiment(df["text"], df["rating"], scale="signed")
    assert res.model == "scored"
    assert res.quality["auc"] >= 0.85
    assert len(res.values) == len(df)


def test_auto_choice_falls_back_to_lexicon_with_few_scores():
    res = score_sentiment(["good", "bad", "fine"], [10, 0, 8], scale="nps")
    assert res.model == "lexicon"
    assert "needs 200" in res.reason


def test_sentiment_frame_redacts_and_keeps_the_rows():
    df = pd.DataFrame({"id": [1, 2, 3], "text": ["Great, mail me at jo@x.org", "awful", None]})
    out, res = sentiment_frame(df, text_column="text")
    assert list(out["id"]) == [1, 2, 3]
    assert out["text"].iloc[0] == "Great, mail me at [EMAIL]"
    assert df["text"].iloc[0].endswith("jo@x.org")  # the input is not changed
    assert out["sentiment"].iloc[0] > 0 > out["sentiment"].iloc[1]
    assert np.isnan(out["sentiment"].iloc[2])
    assert res.model == "lexicon" and res.reason == "no scores given"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"text_column": "body"}, "text_column 'body' is not a column; columns: id, text"),
        ({"text_column": "text", "score_column": "nps"}, "score_column 'nps' is not a column"),
    ],
)
def test_sentiment_frame_names_a_missing_column(options, match):
    with pytest.raises(CxroiError, match=match):
        sentiment_frame(pd.DataFrame({"id": [1], "text": ["ok"]}), **options)
