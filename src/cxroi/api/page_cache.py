"""The dashboard's pages, kept ready: stale-while-revalidate over :mod:`cxroi.views`.

A page is computed once per state of the data (the stamp of :mod:`cxroi.cache`) and held in
memory with its figures. When the data change (answers moving in, an ingest), a request gets
the page it had, marked "updating", while one background thread per page computes the new
one; the first request of a page nobody has seen computes it then.

A computed page is also written to ``models/pages/`` of the workspace
(:mod:`cxroi.report.pages`; ``cxroi report`` leaves the pages it draws there too), so a
restarted service serves it at once: fresh when the data have not changed since, otherwise
as the page it had while the new one is computed. The analyses themselves are cached on disk
per state of the data too (:mod:`cxroi.cache`), so the report and the dashboard share them.

``cases`` is live: it is read anew on every request.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cxroi.cache import stamp
from cxroi.config import load_settings
from cxroi.report.figures import figures, journey_pictures
from cxroi.report.pages import PAGES_DIR, Page, load_page, page_key, save_page
from cxroi.store import Workspace
from cxroi.views import build

__all__ = ["PAGES_DIR", "Page", "PageCache"]

LIVE = {"cases"}


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

    def get(self, name: str, params: dict[str, Any]) -> Page:
        """Page ``name`` for ``params``: fresh, or the last one while a new one is computed."""
        key = page_key(name, params)
        st = self._stamp()
        if name in LIVE:
            return self._compute(name, params, st)
        with self._lock:
            have = self._pages.get(key)
        if have is None and st is not None:
            have = load_page(self.folder, key)  # computed by an earlier process
            if have is not None:
                with self._lock:
                    self._pages.setdefault(key, have)
        if have is not None and have.stamp == st and st is not None:
            return have
        if have is None:
            page = self._compute(name, params, st)
            with self._lock:
                self._pages[key] = page
            save_page(self.folder, key, page)
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
                save_page(self.folder, key, page)
            except Exception:  # noqa: BLE001 - the old page stays; the next request retries
                pass
            finally:
                with self._lock:
                    self._busy.discard(key)

        threading.Thread(target=work, name=f"cxroi-page-{name}", daemon=True).start()
