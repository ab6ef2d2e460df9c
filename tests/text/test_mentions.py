"""The one-pass mention analysis against a row-by-row recomputation with the public models."""

from __future__ import annotations

import numpy as np
import pytest

from cxroi.privacy import Redactor
from cxroi.text.mentions import analyse_mentions
from cxroi.text.sentiment import score_sentiment
from cxroi.text.theme_config import ThemeConfig
from cxroi.text.theme_model import ThemeModel, split_sentences

from ._themes import fitted_copy


@pytest.fixture(scope="module")
def sim(company):
    r = company.tables["responses"].to_pandas()
    r = r[r["comment"].notna()].reset_index(drop=True)
    texts = [*r["comment"].tolist(), None, "  ", "Mail jo@x.org about the app!"]
    nps = [*r["nps"].tolist(), 9, 0, 3]
    return texts, nps, ThemeModel("auto", random_state=0).fit(texts)


def _row_by_row(texts, model, sent):
    """Tone of each mention recomputed sentence by sentence with ``transform``/``predict``."""
    conf = model.transform(texts).confidence
    mentioned = conf > 0
    tone = np.where(mentioned, sent.values[:, None], np.nan)
    for i, t in enumerate(texts):
        parts = split_sentences(t) if t else []
        if not parts:
            continue
        on = model.transform(parts).confidence > 0
        val = np.nan_to_num(sent.predict(parts), nan=sent.neutral)
        count = on.sum(axis=0)
        mean = (on * val[:, None]).sum(axis=0) / np.maximum(count, 1)
        tone[i] = np.where(mentioned[i] & (count > 0), mean, tone[i])
    return conf, mentioned & (tone < sent.neutral)


@pytest.mark.parametrize("scores", ["nps", None], ids=["scored", "lexicon"])
@pytest.mark.parametrize("edits", [{}, {"pin": {"refunds": ["refund"]}, "drop": ["t02"]}])
def test_one_pass_equals_row_by_row(sim, scores, edits):
    texts, nps, model = sim
    m = fitted_copy(model, config=ThemeConfig.from_dict(edits))
    redacted = Redactor().many(texts)
    sent = score_sentiment(redacted, nps if scores else None, scale="nps")
    rows = slice(0, 400)  # the row-by-row recomputation is slow
    sub = texts[rows] + texts[-3:]
    got = analyse_mentions(sub, m, sent, n_jobs=1, chunk_size=250, cache_size=400)
    sent.values = np.concatenate([sent.values[rows], sent.values[-3:]])
    conf, negative = _row_by_row(redacted[rows] + redacted[-3:], m, sent)
    np.testing.assert_allclose(got.sentiment, sent.values, atol=1e-12)
    np.testing.assert_array_equal(got.themes.confidence, conf)
    np.testing.assert_array_equal(got.themes.negative, negative)
    assert got.themes.names == m.transform(texts[:2]).names
    assert np.isnan(got.sentiment[-2])  # whitespace only: no text, no theme
    assert not got.themes.confidence[-2].any()
