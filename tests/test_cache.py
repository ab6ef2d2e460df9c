"""``cxroi.cache``: an analysis is computed once per state of the data, read back whole, and
computed again when data, settings or the theme model change."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from cxroi.cache import CACHE_DIR, cached, stamp
from cxroi.config import CONFIG_FILE
from cxroi.results import Result, Table
from tests.models._workspaces import tiny_workspace


def _compute(calls: list[int]):
    def compute():
        calls.append(1)
        frame = pd.DataFrame({"customer_id": ["a", "b"], "x": [1.5, float(len(calls))]})
        result = Result("demo", "Demo", [Table("t", "T", frame.assign(n=[1, 2]))], params={})
        return {"result": result, "frame": frame}

    return compute


@pytest.fixture
def ws(tmp_path):
    return tiny_workspace(tmp_path / "ws")


def test_a_second_call_reads_the_same_answer_back(ws):
    calls: list[int] = []
    first = cached(ws, "demo", {"k": 1}, _compute(calls))
    again = cached(ws, "demo", {"k": 1}, _compute(calls))
    assert calls == [1]
    pd.testing.assert_frame_equal(again["frame"], first["frame"])
    assert again["result"].to_dict() == first["result"].to_dict()
    cached(ws, "demo", {"k": 2}, _compute(calls))  # other parameters: their own entry
    assert calls == [1, 1]
    entries = sorted(p.name for p in (Path(ws.path) / CACHE_DIR).iterdir())
    assert len(entries) == 2 and all(e.startswith("demo-") for e in entries)


def test_new_data_settings_or_theme_model_compute_anew(ws):
    calls: list[int] = []
    cached(ws, "demo", {}, _compute(calls))
    ws.ingest("customers", pd.DataFrame({"customer_id": ["c"], "plan": ["basic"]}))
    out = cached(ws, "demo", {}, _compute(calls))
    assert calls == [1, 1] and out["frame"]["x"].tolist() == [1.5, 2.0]
    cached(ws, "demo", {}, _compute(calls))  # written anew
    assert calls == [1, 1]
    # the entry of the old data is gone: only the current one is kept
    assert len(list((Path(ws.path) / CACHE_DIR).iterdir())) == 1
    cfg = Path(ws.path) / CONFIG_FILE
    cfg.write_text(cfg.read_text() + "\n# edited\n")
    cached(ws, "demo", {}, _compute(calls))
    cached(ws, "themed", {}, _compute(calls), themes=True)
    model = Path(ws.path) / "models" / "themes.json"
    model.write_text("{}")
    cached(ws, "demo", {}, _compute(calls))  # does not read themes: still cached
    assert len(calls) == 4
    cached(ws, "themed", {}, _compute(calls), themes=True)
    assert len(calls) == 5
    kept = sorted(p.name.split("-")[0] for p in (Path(ws.path) / CACHE_DIR).iterdir())
    assert kept == ["demo", "themed"]


def test_a_stamp_that_moves_during_the_computation_is_not_cached(ws):
    calls: list[int] = []
    inner = _compute(calls)

    def compute():
        out = inner()
        cfg = Path(ws.path) / CONFIG_FILE
        os.utime(cfg, ns=(1, 1))  # data changed while computing
        return out

    cached(ws, "demo", {}, compute)
    assert not (Path(ws.path) / CACHE_DIR).exists()
    cached(ws, "demo", {}, compute)
    assert len(calls) == 2


def test_a_server_engine_is_never_cached(tmp_path):
    fake = SimpleNamespace(path=tmp_path, settings=SimpleNamespace(engine="postgres://u@h/db"))
    assert stamp(fake) is None
    calls: list[int] = []
    cached(fake, "demo", {}, _compute(calls))
    cached(fake, "demo", {}, _compute(calls))
    assert calls == [1, 1] and not (tmp_path / CACHE_DIR).exists()


def test_an_unwritable_cache_is_not_an_error(ws):
    (Path(ws.path) / "models").mkdir(exist_ok=True)
    (Path(ws.path) / CACHE_DIR).write_text("not a folder")
    calls: list[int] = []
    out = cached(ws, "demo", {}, _compute(calls))
    cached(ws, "demo", {}, _compute(calls))
    assert calls == [1, 1] and out["frame"]["x"].tolist() == [1.5, 1.0]


def test_a_damaged_entry_is_computed_again(ws):
    calls: list[int] = []
    cached(ws, "demo", {}, _compute(calls))
    (entry,) = (Path(ws.path) / CACHE_DIR).iterdir()
    (entry / "frame.parquet").write_bytes(b"truncated")
    out = cached(ws, "demo", {}, _compute(calls))
    assert calls == [1, 1] and out["frame"]["x"].tolist() == [1.5, 2.0]
    cached(ws, "demo", {}, _compute(calls))  # written anew
    assert calls == [1, 1]
