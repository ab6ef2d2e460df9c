"""Drawn pages on disk: ``models/pages/`` of a workspace, one file per page and filters.

A page is a view (:mod:`cxroi.views`, its results in the result contract's JSON) with its
charts drawn as SVG, and the state of the data it was computed on (the stamp of
:mod:`cxroi.cache`). The dashboard keeps the pages it computes here, so a restarted service
serves them at once, and ``cxroi report`` leaves the pages it has just drawn, so the
dashboard's first request after a report draws nothing. A file is replaced whole (a temporary
file renamed into place); a file of another cxroi version or format is not read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxroi import __version__
from cxroi.report.figures import Figure
from cxroi.results import Result
from cxroi.views import View

__all__ = ["FORMAT", "PAGES_DIR", "Page", "load_page", "page_key", "save_page"]

PAGES_DIR = Path("models") / "pages"
FORMAT = 1
"""Version of the files in :data:`PAGES_DIR`."""


@dataclass(frozen=True)
class Page:
    view: View
    figures: list[Figure]
    stamp: str | None
    computed_at: float
    stale: bool = False


def page_key(name: str, params: dict[str, Any]) -> tuple:
    """The key of page ``name`` with filters ``params`` (as the dashboard reads them)."""
    return (name, tuple(sorted((k, str(v)) for k, v in params.items())))


def _file(folder: Path, key: tuple) -> Path:
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
    return Path(folder) / PAGES_DIR / f"{key[0]}-{digest}.json"


def save_page(folder: Path, key: tuple, page: Page) -> None:
    """Write ``page`` whole; a workspace that cannot be written only loses the speed-up."""
    if page.stamp is None:  # a server engine: no state to check a saved page against
        return
    v = page.view
    doc = {
        "format": FORMAT,
        "version": __version__,
        "key": repr(key),
        "stamp": page.stamp,
        "computed_at": page.computed_at,
        "view": {
            "page": v.page,
            "title": v.title,
            "params": v.params,
            "missing": v.missing,
            "results": {k: r.to_json(indent=None) for k, r in v.results.items()},
        },
        "figures": [[f.title, f.svg, f.reading] for f in page.figures],
    }
    path = _file(folder, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, default=str)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, TypeError, ValueError):
        pass


def load_page(folder: Path, key: tuple) -> Page | None:
    """The saved page of ``key``, or ``None`` (none, another version, unreadable)."""
    try:
        doc = json.loads(_file(folder, key).read_text(encoding="utf-8"))
        if (doc["format"], doc["version"], doc["key"]) != (FORMAT, __version__, repr(key)):
            return None
        v = doc["view"]
        view = View(
            v["page"],
            v["title"],
            results={k: Result.from_json(r) for k, r in v["results"].items()},
            missing=v["missing"],
            params=v["params"],
        )
        figs = [Figure(t, svg, reading) for t, svg, reading in doc["figures"]]
        return Page(view, figs, doc["stamp"], float(doc["computed_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
