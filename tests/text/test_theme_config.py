from __future__ import annotations

import pytest

from cxroi.errors import CxroiError
from cxroi.text.theme_config import ThemeConfig

from ._themes import fitted_copy, theme_of


def test_edits_rename_merge_pin_split_drop(small_model):
    d, p, a = (theme_of(small_model, w) for w in ("courier", "invoice", "login"))
    cfg = ThemeConfig.from_dict(
        {
            "rename": {d: "delivery"},
            "merge": {"money_and_app": [p, a]},
            "split": {"delivery": {"lost": ["lost", "never came"]}},
            "pin": {"refund": ["refund"]},
        }
    )
    m = fitted_copy(small_model, n_themes=3, min_df=1, config=cfg)
    texts = ["The courier lost my parcel.", "App login fails and the price is high.", "refund!"]
    out = m.transform(texts)
    assert out.names == ["delivery", "money_and_app", "lost", "refund"]
    got = out.confidence > 0
    assert got.tolist() == [
        [False, False, True, False],
        [False, True, False, False],
        [False, False, False, True],
    ]
    dropped = fitted_copy(small_model, n_themes=3, config=ThemeConfig.from_dict({"drop": [a]}))
    assert a not in dropped.transform(texts).names


def test_edit_labels_are_names_or_top_terms(small_model):
    d = theme_of(small_model, "courier")
    m = fitted_copy(small_model, config=ThemeConfig.from_dict({"rename": {d: "delivery"}}))
    out = m.transform(["the courier lost my parcel"])
    terms = dict(zip(small_model.themes_["theme"], small_model.themes_["terms"], strict=True))
    expected = {"delivery": "delivery"}
    expected.update({t: " / ".join(tt[:3]) for t, tt in terms.items() if t != d})
    assert dict(zip(out.names, out.labels, strict=True)) == expected


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"rename": {"t99": "x"}}, "no theme 't99'"),
        ({"colour": 1}, "unknown key"),
        ({"n_themes": 0}, "n_themes"),
        ({"merge": {"x": []}}, "needs a list"),
        ({"redact": {"faxes": False}}, "unknown key"),
    ],
)
def test_bad_config_is_a_clear_error(small_model, section, match):
    with pytest.raises(CxroiError, match=match):
        cfg = ThemeConfig.from_dict(section)
        fitted_copy(small_model, n_themes=3, config=cfg).transform(["the app crashes"])


def test_empty_section_gives_the_defaults():
    assert ThemeConfig.from_dict(None) == ThemeConfig.from_dict({}) == ThemeConfig()
