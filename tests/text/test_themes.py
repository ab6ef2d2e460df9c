from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from cxroi.errors import CxroiError
from cxroi.simulate import generate
from cxroi.text.themes import ThemeConfig, ThemeModel, merge_components, split_sentences

CORPUS = (
    ["The delivery was late and the courier lost my parcel."] * 3
    + ["Parcel delivery was quick, courier was polite."] * 3
    + ["Delivery took a week, parcel damaged.", "Courier never came, delivery failed."]
    + ["The price is too high, the invoice doubled."] * 3
    + ["Fair price, cheap plan, clear invoice.", "Price went up, invoice wrong again."]
    + ["Expensive price for this plan.", "The invoice price is confusing."]
    + ["The app crashes at login, screen freezes."] * 3
    + ["App login is easy, screen is clean.", "The app screen is slow to load."]
    + ["Login to the app failed twice.", "Great app, login with face id."]
)


@pytest.fixture(scope="module")
def small_model() -> ThemeModel:
    return ThemeModel(3, min_df=1).fit(CORPUS)


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


def _theme_of(model: ThemeModel, word: str) -> str:
    terms = model.themes_["terms"]
    return next(t for t, tt in zip(model.themes_["theme"], terms, strict=True) if word in tt[:3])


def test_edits_rename_merge_pin_split_drop(small_model):
    d, p, a = (_theme_of(small_model, w) for w in ("courier", "invoice", "login"))
    cfg = ThemeConfig.from_dict(
        {
            "rename": {d: "delivery"},
            "merge": {"money_and_app": [p, a]},
            "split": {"delivery": {"lost": ["lost", "never came"]}},
            "pin": {"refund": ["refund"]},
        }
    )
    m = ThemeModel(3, min_df=1, config=cfg)
    m.__dict__.update({k: v for k, v in small_model.__dict__.items() if k.endswith("_")})
    texts = ["The courier lost my parcel.", "App login fails and the price is high.", "refund!"]
    out = m.transform(texts)
    assert out.names == ["delivery", "money_and_app", "lost", "refund"]
    got = out.confidence > 0
    assert got.tolist() == [
        [False, False, True, False],
        [False, True, False, False],
        [False, False, False, True],
    ]
    dropped = ThemeModel(3, config=ThemeConfig.from_dict({"drop": [a]}))
    dropped.__dict__.update({k: v for k, v in small_model.__dict__.items() if k.endswith("_")})
    assert a not in dropped.transform(texts).names


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"rename": {"t99": "x"}}, "no theme 't99'"),
        ({"colour": 1}, "unknown key"),
        ({"n_themes": 0}, "n_themes"),
    ],
)
def test_bad_config_is_a_clear_error(small_model, section, match):
    with pytest.raises(CxroiError, match=match):
        cfg = ThemeConfig.from_dict(section)
        m = ThemeModel(3, config=cfg)
        m.__dict__.update({k: v for k, v in small_model.__dict__.items() if k.endswith("_")})
        m.transform(["the app crashes"])


def test_save_load_gives_same_assignment(small_model, tmp_path):
    path = small_model.save(tmp_path / "models" / "themes.json")
    again = ThemeModel.load(path)
    texts = CORPUS + ["new comment: the courier was late", "the invoice is wrong"]
    np.testing.assert_allclose(
        again.transform(texts).confidence, small_model.transform(texts).confidence, atol=1e-5
    )


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
        assert (
            conf[0, list(small_model.themes_["theme"]).index(_theme_of(small_model, "login"))] > 0
        )


def test_too_little_text_is_an_error():
    with pytest.raises(CxroiError, match="too little text"):
        ThemeModel(2).fit(["ok", None, ""])


def test_unfitted_model_is_an_error():
    with pytest.raises(CxroiError, match="not fitted"):
        ThemeModel().transform(["x"])


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


def test_version_1_model_file_still_loads(small_model, tmp_path):
    """Files written before themes could be merged (one component per theme) still load."""
    import json

    path = small_model.save(tmp_path / "themes.json")
    doc = json.loads(path.read_text())
    doc["version"] = 1
    for t in doc["themes"]:
        del t["components"]
    path.write_text(json.dumps(doc))
    old = ThemeModel.load(path)
    assert old.groups_ == [[0], [1], [2]]
    np.testing.assert_allclose(
        old.transform(CORPUS).confidence, small_model.transform(CORPUS).confidence, atol=1e-5
    )
