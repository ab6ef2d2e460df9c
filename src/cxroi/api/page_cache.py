"""The dashboard's pages, kept ready: stale-while-revalidate over :mod:`cxroi.views`.

A page is computed once per state of the data (the stamp of :mod:`cxroi.cache`) and held in
memory with its figures. When the data change (answers moving in, an ingest), a request gets
the page it had, marked "updating", while one background thread per page computes the new
one; the first request of a page nobody has seen computes it then.

A computed page is also written to ``models/pages/`` of the workspace (its results in the
result contract's JSON and its drawn charts, one file per page and filters, replaced whole), so
a restarted service serves it at once: fresh when the data have not changed since, otherwise
as the page it had while the new one is computed. The analyses themselves are cached on disk
per state of the data too (:mod:`cxroi.cache`), so the report and the dashboard share them.

``cases`` is live: it is read anew on every request.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cxroi import __version__
from cxroi.cache import stamp
from cxroi.config import load_settings
from cxroi.report.figures import Figure, figures, journey_pictures
from cxroi.results import Result
from cxroi.store import Workspace
from cxroi.views import View, build

__all__ = ["PAGES_DIR", "Page", "PageCache"]

LIVE = {"cases"}
PAGES_DIR = Path("models") / "pages"
FORMAT = 1
"""Version of the files in :data:`PAGES_DIR` (with the cxroi version: a file of another is
not read)."""


@dataclass(frozen=True)
class Page:
    view: View
    figures: list[Figure]
    stamp: str | None
    computed_at: float
    stale: bool = False


class PageCache:
    """Pages of workspace ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._pages: dict[tuple, Page] = {}
        self._busy: set[tuple] = set()
        self._pictures: tuple[str | None, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def _stamp(self) -> str | None:
        return stamp(SimpleNamespace(path=self.folder, settings=load_settings(self.folder)))

    def _compute(self, name: str, params: dict[str, Any], st: str | None) -> Page:
        with Workspace.open(self.folder, read_only=True, purpose="dashboard") as ws:
            view = build(ws, name, **params)
            figs = figures(view, ws, pictures=False)  # served as images of their own
        return Page(view, figs, st, time.time())

    def pictures(self) -> dict[str, str]:
        """The journey map and blueprint SVGs by title, drawn once per state of the data."""
        st = self._stamp()
        with self._lock:
            have = self._pictures
        if have is not None and have[0] == st and st is not None:
            return have[1]
        with Workspace.open(self.folder, read_only=True, purpose="dashboard") as ws:
            drawn = {f.title: f.svg for f in journey_pictures(ws)}
        with self._lock:
            self._pictures = (st, drawn)
        return drawn

    def _file(self, key: tuple) -> Path:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
        return self.folder / PAGES_DIR / f"{key[0]}-{digest}.json"

    def _save(self, key: tuple, page: Page) -> None:
        """Write ``page`` whole (a temporary file renamed into place); a workspace that cannot
        be written only loses the speed-up."""
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
        path = self._file(key)
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

    def _load(self, key: tuple) -> Page | None:
        """The saved page of ``key``, or ``None`` (none, another version, unreadable)."""
        try:
            doc = json.loads(self._file(key).read_text(encoding="utf-8"))
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

    def get(self, name: str, params: dict[str, Any]) -> Page:
        """Page ``name`` for ``params``: fresh, or the last one while a new one is computed."""
        key = (name, tuple(sorted((k, str(v)) for k, v in params.items())))
        st = self._stamp()
        if name in LIVE:
            return self._compute(name, params, st)
        with self._lock:
            have = self._pages.get(key)
        if have is None and st is not None:
            have = self._load(key)  # computed by an earlier process
            if have is not None:
                with self._lock:
                    self._pages.setdefault(key, have)
        if have is not None and have.stamp == st and st is not None:
            return have
        if have is None:
            page = self._compute(name, params, st)
            with self._lock:
                self._pages[key] = page
            self._save(key, page)
            return page
        self._refresh(key, name, params, st)
        return Page(have.view, have.figures, have.stamp, have.computed_at, stale=True)

    def _refresh(self, key: tuple, name: str, params: dict[str, Any], st: str | None) -> None:
        with self._lock:
            if key in self._busy:
                return
            self._busy.add(key)

        def work() -> None:
            try:
                page = self._compute(name, params, st)
                with self._lock:
                    self._pages[key] = page
                self._save(key, page)
            except Exception:  # noqa: BLE001 - the old page stays; the next request retries
                pass
            finally:
                with self._lock:
                    self._busy.discard(key)

        threading.Thread(target=work, name=f"cxroi-page-{name}", daemon=True).start()
