"""The dashboard's pages, kept ready: stale-while-revalidate over :mod:`cxroi.views`.

A page is computed once per state of the data (the stamp of :mod:`cxroi.cache`) and held in
memory with its figures. When the data change (answers moving in, an ingest), a request gets
the page it had, marked "updating", while one background thread per page computes the new
one; the first request of a page nobody has seen computes it then. The analyses themselves
are cached on disk per state of the data too, so a restarted service, the report and the
dashboard share them: after ``cxroi report`` every page opens at once.

``cases`` is live: it is read anew on every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cxroi.cache import stamp
from cxroi.config import load_settings
from cxroi.report.figures import Figure, figures, journey_pictures
from cxroi.store import Workspace
from cxroi.views import View, build

__all__ = ["Page", "PageCache"]

LIVE = {"cases"}


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

    def get(self, name: str, params: dict[str, Any]) -> Page:
        """Page ``name`` for ``params``: fresh, or the last one while a new one is computed."""
        key = (name, tuple(sorted((k, str(v)) for k, v in params.items())))
        st = self._stamp()
        if name in LIVE:
            return self._compute(name, params, st)
        with self._lock:
            have = self._pages.get(key)
        if have is not None and have.stamp == st and st is not None:
            return have
        if have is None:
            page = self._compute(name, params, st)
            with self._lock:
                self._pages[key] = page
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
            except Exception:  # noqa: BLE001 - the old page stays; the next request retries
                pass
            finally:
                with self._lock:
                    self._busy.discard(key)

        threading.Thread(target=work, name=f"cxroi-page-{name}", daemon=True).start()
