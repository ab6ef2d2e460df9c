"""The dashboard's pages kept on disk: a new process serves a page an earlier one computed,
fresh while the data are the same and marked "updating" (while it computes the new one) once
they changed; a file of another cxroi version is not read."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from cxroi.api.page_cache import PageCache
from cxroi.report.pages import PAGES_DIR, _file, load_page


@pytest.fixture
def folder(demo_folder, tmp_path):
    path = tmp_path / "ws"
    # without the pages the dashboard tests' service drew: each test draws its own
    shutil.copytree(demo_folder, path, ignore=shutil.ignore_patterns("service.*", "pages"))
    return path


def _refuse(*_a, **_k):
    raise AssertionError("computed again")


def test_a_new_process_serves_the_saved_page_then_follows_the_data(folder, monkeypatch):
    pc = PageCache(folder)
    first = pc.get("scorecard", {"metrics": "nps"})
    saved = _file(folder, ("scorecard", (("metrics", "nps"),)))
    assert saved.exists() and saved.parent == folder / PAGES_DIR

    again = PageCache(folder)  # a restarted service: nothing in memory
    monkeypatch.setattr(again, "_compute", _refuse)
    got = again.get("scorecard", {"metrics": "nps"})
    assert not got.stale and got.stamp == first.stamp
    assert got.view.to_dict() == first.view.to_dict()
    assert [(f.title, f.svg) for f in got.figures] == [(f.title, f.svg) for f in first.figures]
    # other filters are another page: computed, not the saved one
    with pytest.raises(AssertionError, match="computed again"):
        again.get("scorecard", {"metrics": "csat"})

    # the data change: a new process gets the saved page, marked, and computes the new one
    toml = folder / "cxroi.toml"
    st = toml.stat()
    os.utime(toml, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    later = PageCache(folder)
    stale = later.get("scorecard", {"metrics": "nps"})
    assert stale.stale and stale.view.to_dict() == first.view.to_dict()
    deadline = time.monotonic() + 120
    while later._busy and time.monotonic() < deadline:
        time.sleep(0.1)
    fresh = later.get("scorecard", {"metrics": "nps"})
    assert not fresh.stale and fresh.stamp != first.stamp
    assert json.loads(saved.read_text())["stamp"] == fresh.stamp


def test_a_page_saved_by_another_version_or_damaged_is_computed_anew(folder):
    pc = PageCache(folder)
    pc.get("drivers", {})
    path = _file(folder, ("drivers", ()))
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "version": "0.0.0"}))
    pc = PageCache(folder)
    assert load_page(folder, ("drivers", ())) is None
    path.write_text("{ not json")
    assert load_page(folder, ("drivers", ())) is None
    assert not pc.get("drivers", {}).stale  # computed, and saved whole again
    assert json.loads(path.read_text())["version"] == doc["version"]


def test_an_analysis_that_fits_the_theme_model_is_cached_the_first_time(folder):
    from cxroi.cache import CACHE_DIR
    from cxroi.store import Workspace
    from cxroi.text.theme_store import MODEL_FILE
    from cxroi.views import build

    (folder / MODEL_FILE).unlink(missing_ok=True)
    shutil.rmtree(folder / CACHE_DIR, ignore_errors=True)
    with Workspace.open(folder, read_only=True) as ws:
        v = build(ws, "voice")
    assert "themes" in v.results and (folder / MODEL_FILE).exists()
    assert list((folder / CACHE_DIR).glob("view-themes-*/meta.json"))
