"""Saving and loading fitted theme models (``models/themes.json`` in a workspace).

The file is JSON, so it can be read, diffed and kept under version control: the TF-IDF
vocabulary and idf weights, the NMF term profiles, the discovered themes (terms, share,
examples, merged components) and the settings the model was fitted with. Version 1 files
(written before components could be merged into one theme) still load.

The analyst's edits are not stored here: they stay in ``cxroi.toml`` and are attached as the
model's :class:`~cxroi.text.theme_config.ThemeConfig` on load.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.text.theme_config import ThemeConfig
from cxroi.text.theme_model import ThemeModel

__all__ = ["FORMAT_VERSION", "MODEL_FILE", "load_model", "save_model"]

MODEL_FILE = Path("models") / "themes.json"
"""Where a workspace keeps its theme model, relative to the workspace folder."""

FORMAT_VERSION = 2


def save_model(model: ThemeModel, path: str | Path) -> Path:
    """Write a fitted model as JSON (vocabulary, idf, profiles, labels, examples).

    Parameters
    ----------
    model
        A fitted :class:`~cxroi.text.theme_model.ThemeModel`.
    path
        The file to write; missing parent folders are made.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    model._check_fitted()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    vocab = sorted(model.vocabulary_, key=model.vocabulary_.__getitem__)
    doc = {
        "format": "cxroi.themes",
        "version": FORMAT_VERSION,
        "vocabulary": vocab,
        "idf": [round(float(x), 6) for x in model.idf_],
        "components": [[round(float(x), 6) for x in row] for row in model.components_],
        "themes": model.themes_.to_dict("records"),
        "params": {"min_df": model.min_df, "random_state": model.random_state},
        "fitted": dict(model.params_),
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def load_model(
    path: str | Path, *, config: ThemeConfig | None = None, n_jobs: int | None = 1
) -> ThemeModel:
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path
        The JSON file.
    config
        The analyst's edits and thresholds to attach (defaults when ``None``).
    n_jobs
        Worker processes for the model's ``transform``.

    Raises
    ------
    CxroiError
        When the file cannot be read or is not a cxroi theme model.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise CxroiError(f"cannot read theme model {path}: {e}") from None
    if doc.get("format") != "cxroi.themes" or doc.get("version") not in (1, FORMAT_VERSION):
        raise CxroiError(f"{path} is not a cxroi theme model (version {FORMAT_VERSION})")
    m = ThemeModel(len(doc["themes"]), config=config, n_jobs=n_jobs, **doc["params"])
    m.vocabulary_ = {t: i for i, t in enumerate(doc["vocabulary"])}
    m.idf_ = np.asarray(doc["idf"], dtype=np.float64)
    m.components_ = np.asarray(doc["components"], dtype=np.float64)
    m.themes_ = pd.DataFrame(doc["themes"])
    if "components" not in m.themes_:  # version 1: one component per theme
        m.themes_["components"] = [[j] for j in range(len(m.themes_))]
    m.groups_ = [list(map(int, g)) for g in m.themes_["components"]]
    m.n_themes_ = len(m.groups_)
    m.params_ = dict(doc.get("fitted") or {})  # absent in files of cxroi <= 0.1
    m.params_.setdefault("n_themes", m.n_themes_)
    m.params_.setdefault("n_components", int(m.components_.shape[0]))
    return m
