"""Analyses computed once per state of the data, and reused until the data change.

Some analyses feed others: opportunities rank the archetypes and value them through the
effects of perception, and at a million customers each of those is most of a minute. A cached
entry lives in ``models/cache/NAME-KEY/`` of the workspace: the result as JSON (the result
contract, :meth:`cxroi.results.Result.to_json`), its frames as Parquet, and ``meta.json``.

The key hashes the analysis, its parameters, the cxroi version and the **stamp** of the data:
size and modification time (ns) of the embedded store and its write-ahead log, of
``cxroi.toml`` and, for an analysis that reads comment themes, of the theme model. Every load,
setting edit or theme refit changes the stamp, so an entry is never served for data it was
not computed on; writes that change nothing may change it too, which only costs a
recomputation. An engine other than the embedded DuckDB
file has no stamp cxroi can trust (another process may write the warehouse at any time), so
nothing is cached there.

An entry is written whole (a temporary folder renamed into place) and only when the stamp was
the same before and after the computation; entries of an older stamp are removed. A workspace
folder that cannot be written is not an error: the analysis is simply not cached. Written here
because the key is the workspace's own state; the pieces are ``hashlib``, JSON and Parquet.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cxroi import __version__
from cxroi._types import WorkspaceLike
from cxroi.config import CONFIG_FILE
from cxroi.results import Result, jsonable

__all__ = ["CACHE_DIR", "Slot", "cached", "slot", "stamp"]

CACHE_DIR = Path("models") / "cache"
_STAMPED = ("cx.duckdb", "cx.duckdb.wal", CONFIG_FILE)
_THEME_MODEL = "models/themes.json"

Entry = Mapping[str, "Result | pd.DataFrame"]
"""What an analysis caches: results and frames by name."""


def stamp(ws: WorkspaceLike, *, themes: bool = False) -> str | None:
    """The state of the workspace's data (and its theme model if ``themes``), or ``None`` when
    it cannot be known (a server engine)."""
    if getattr(ws.settings, "engine", None):
        return None
    parts = []
    for name in (*_STAMPED, _THEME_MODEL) if themes else _STAMPED:
        try:
            st = os.stat(Path(ws.path) / name)
        except FileNotFoundError:
            parts.append(f"{name}:-")
        else:
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def _key(name: str, params: Mapping[str, Any], st: str) -> str:
    text = json.dumps(
        {"name": name, "params": jsonable(dict(params)), "stamp": st, "version": __version__},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class Slot:
    """Where one analysis of the workspace's current data is cached (:func:`slot`): the stamp
    is taken when the slot is made, before anything is computed, so an answer computed while
    the data moved is never stored as theirs."""

    def __init__(self, ws: WorkspaceLike, name: str, params: Mapping[str, Any],
                 themes: bool) -> None:  # fmt: skip
        self.ws, self.themes = ws, themes
        self.stamp = stamp(ws, themes=themes)
        self.entry = (
            None if self.stamp is None
            else Path(ws.path) / CACHE_DIR / f"{name}-{_key(name, params, self.stamp)}"
        )  # fmt: skip

    def get(self) -> Entry | None:
        """The cached answer, or ``None``."""
        return None if self.entry is None else _read(self.entry)

    def put(self, out: Entry) -> Entry:
        """Store ``out`` if the data are still those of the stamp; returns ``out``."""
        if (
            self.entry is not None
            and self.stamp is not None
            and stamp(self.ws, themes=self.themes) == self.stamp
        ):
            _write(self.ws, self.entry, out, self.stamp, self.themes)
        return out


def slot(ws: WorkspaceLike, name: str, params: Mapping[str, Any], *,
         themes: bool = False) -> Slot:  # fmt: skip
    """The :class:`Slot` of analysis ``name`` with ``params`` (see :func:`cached`), for an
    analysis that starts its work before it knows whether it will need the answer."""
    return Slot(ws, name, params, themes)


def cached(
    ws: WorkspaceLike,
    name: str,
    params: Mapping[str, Any],
    compute: Callable[[], Entry],
    *,
    themes: bool = False,
) -> Entry:
    """``compute()``'s result and frames, from the cache when the data have not changed.

    Parameters
    ----------
    ws
        The workspace.
    name
        The analysis (a folder-safe word).
    params
        Everything besides the data that the answer depends on.
    compute
        Computes ``{name: result or frame}``.
    themes
        The analysis reads the workspace's theme model: a refit computes it anew.

    Returns
    -------
    Mapping
        What ``compute`` returned, or a copy of it read back from the cache.
    """
    s = slot(ws, name, params, themes=themes)
    hit = s.get()
    return hit if hit is not None else s.put(compute())


def _read(entry: Path) -> Entry | None:
    """The entry, or ``None`` when there is none; a damaged one (a disk fault, an edit) is
    removed so that it is written anew."""
    if not entry.is_dir():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        out: dict[str, Result | pd.DataFrame] = {}
        for name, kind in meta["items"].items():
            if kind == "result":
                out[name] = Result.from_json((entry / f"{name}.json").read_text("utf-8"))
            else:
                out[name] = pd.read_parquet(entry / f"{name}.parquet")
    except (OSError, ValueError, KeyError):
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return out


def _write(ws: WorkspaceLike, entry: Path, out: Entry, st: str, themes: bool) -> None:
    root = entry.parent
    tmp: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
        items = {}
        for name, v in out.items():
            if isinstance(v, Result):
                (tmp / f"{name}.json").write_text(v.to_json(indent=None), encoding="utf-8")
                items[name] = "result"
            else:
                v.to_parquet(tmp / f"{name}.parquet", index=False)
                items[name] = "frame"
        meta = {"stamp": st, "themes": themes, "items": items}
        (tmp / "meta.json").write_text(json.dumps(meta), "utf-8")
        os.replace(tmp, entry)  # fails if another process wrote the same entry first
        tmp = None
        _prune(ws, root)
    except (OSError, ValueError):  # not writable, or a frame Parquet cannot hold
        pass
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _prune(ws: WorkspaceLike, root: Path) -> None:
    """Remove the entries of an older state, and temporary folders left by a killed process."""
    now = {flag: stamp(ws, themes=flag) for flag in (False, True)}
    for d in root.iterdir():
        if d.name.startswith(".tmp-"):
            # another process may be writing it; an hour old, its writer is gone
            if time.time() - d.stat().st_mtime > 3600:
                shutil.rmtree(d, ignore_errors=True)
            continue
        try:
            meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
            keep = meta["stamp"] == now[bool(meta["themes"])]
        except (OSError, ValueError, KeyError):
            keep = False
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
