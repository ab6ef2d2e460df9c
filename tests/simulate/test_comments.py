"""The comment generator: varied phrasings, negations, typos, both polarities."""

from __future__ import annotations

import numpy as np
import pytest

from cxroi.simulate.comments import THEME_NAMES, assemble, phrase_bank


@pytest.mark.parametrize("theme", THEME_NAMES)
@pytest.mark.parametrize("polarity", ["negative", "positive"])
def test_each_theme_and_polarity_has_many_distinct_phrasings(theme, polarity):
    clean, typos = phrase_bank()[(theme, polarity)]
    sentences = clean.to_pylist()
    assert len(set(sentences)) >= 15
    # every sentence has a misspelt twin of nearly the same length
    changed = [a != b for a, b in zip(sentences, typos.to_pylist(), strict=True)]
    assert np.mean(changed) > 0.9


@pytest.mark.parametrize("polarity", ["negative", "positive"])
def test_negations_occur_in_both_polarities(polarity):
    text = " ".join(
        s for (_, p), (c, _) in phrase_bank().items() if p == polarity for s in c.to_pylist()
    )
    assert any(neg in text for neg in ("not ", "n't ", "never "))


def test_assemble_builds_one_comment_per_row_with_its_sentences():
    rng = np.random.default_rng(0)
    n = 2_000
    t1 = rng.integers(0, len(THEME_NAMES), n)
    t2 = np.where(rng.random(n) < 0.5, (t1 + 1) % len(THEME_NAMES), -1)
    neg = rng.random(n) < 0.5
    out = assemble(rng, t1, neg, t2, ~neg).to_pylist()
    assert len(out) == n and all(isinstance(s, str) and s for s in out)
    # a single-theme negative delivery comment contains a delivery sentence (any case)
    bank = phrase_bank()
    row = next(i for i in range(n) if t1[i] == 0 and t2[i] < 0 and neg[i])
    options = {s.lower() for arr in bank[("delivery", "negative")] for s in arr.to_pylist()}
    assert any(s in out[row].lower() for s in options)
    two = [s for s, k in zip(out, t2, strict=True) if k >= 0]
    assert np.mean([s.count(".") for s in two]) > np.mean(
        [s.count(".") for s, k in zip(out, t2, strict=True) if k < 0]
    )
