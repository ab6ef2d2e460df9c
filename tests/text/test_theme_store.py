from __future__ import annotations

import json

import numpy as np
import pytest

from cxroi.errors import CxroiError
from cxroi.text.theme_config import ThemeConfig
from cxroi.text.theme_store import MODEL_FILE, load_model, save_model

from ._themes import CORPUS, theme_of


def test_save_load_gives_same_assignment(small_model, tmp_path):
    path = save_model(small_model, tmp_path / MODEL_FILE)
    assert path == tmp_path / "models" / "themes.json"
    again = load_model(path)
    texts = CORPUS + ["new comment: the courier was late", "the invoice is wrong"]
    np.testing.assert_allclose(
        again.transform(texts).confidence, small_model.transform(texts).confidence, atol=1e-5
    )
    assert again.is_fitted
    assert again.params_ == small_model.params_
    assert again.params_["n_themes"] == 3


def test_load_attaches_the_analysts_edits(small_model, tmp_path):
    path = save_model(small_model, tmp_path / "themes.json")
    d = theme_of(small_model, "courier")
    again = load_model(path, config=ThemeConfig.from_dict({"rename": {d: "delivery"}}))
    assert "delivery" in again.transform(["the courier lost my parcel"]).names


def test_version_1_model_file_still_loads(small_model, tmp_path):
    """Files written before themes could be merged (one component per theme) still load."""
    path = save_model(small_model, tmp_path / "themes.json")
    doc = json.loads(path.read_text())
    doc["version"] = 1
    for t in doc["themes"]:
        del t["components"]
    path.write_text(json.dumps(doc))
    old = load_model(path)
    assert old.groups_ == [[0], [1], [2]]
    np.testing.assert_allclose(
        old.transform(CORPUS).confidence, small_model.transform(CORPUS).confidence, atol=1e-5
    )


@pytest.mark.parametrize(
    ("content", "match"),
    [("{not json", "cannot read theme model"), ('{"format": "other"}', "not a cxroi theme")],
)
def test_bad_model_file_is_a_clear_error(tmp_path, content, match):
    path = tmp_path / "themes.json"
    path.write_text(content)
    with pytest.raises(CxroiError, match=match):
        load_model(path)
